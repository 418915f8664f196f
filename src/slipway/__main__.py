from __future__ import annotations

import sys

from slipway.cli import main

sys.exit(main())
