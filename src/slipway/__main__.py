"""The ``slipway`` command, and ``python -m slipway``."""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import sys
import threading
from typing import NoReturn


def main() -> NoReturn:
    # A command runs for seconds, then ends: the cyclic garbage collector, which walks
    # the youngest objects every 700 allocations by default, runs a hundredth as often
    # while slipway, SQLAlchemy and Alembic load and the revisions render and run (it
    # cost about 4% of a release). Memory stays bounded: it still runs.
    gc.set_threshold(70_000, 10, 10)
    from slipway.cli import main as run_command

    end(run_command())


def end(code: int) -> NoReturn:
    """End the process as it would end, without taking the interpreter apart object by
    object (which took 50 to 100 ms of a release of a long history, once every module
    of SQLAlchemy, Alembic and the project's revisions was loaded). What the interpreter
    does first at exit happens first, in its order: threads that are not daemons are
    waited for, the exit handlers run (logging's flush and close, the removal of
    temporary files), the standard streams are flushed. The run has closed its
    connections and ended its child processes before."""
    try:
        for thread in threading.enumerate():
            if thread is not threading.main_thread() and not thread.daemon:
                thread.join()
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):  # a reader gone, a stream closed
                stream.flush()
        os._exit(code)


if __name__ == "__main__":
    main()
