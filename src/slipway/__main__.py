"""The ``slipway`` command, and ``python -m slipway``."""

from __future__ import annotations

import gc
import sys


def main() -> int:
    # A command runs for seconds, then ends: the cyclic garbage collector, which walks
    # the youngest objects every 700 allocations by default, runs a hundredth as often
    # while slipway, SQLAlchemy and Alembic load and the revisions render and run (it
    # cost about 4% of a release). Memory stays bounded: it still runs.
    gc.set_threshold(70_000, 10, 10)
    from slipway.cli import main as run_command

    return run_command()


if __name__ == "__main__":
    sys.exit(main())
