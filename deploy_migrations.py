#!/usr/bin/env python3
"""The guarded release as one script: the same as ``slipway db release``.

python deploy_migrations.py --env prod
"""

from __future__ import annotations

import sys

from slipway.cli import main

if __name__ == "__main__":
    sys.exit(main(["db", "release", *sys.argv[1:]]))
