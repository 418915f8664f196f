"""SIGINT and SIGTERM end a run in a contract outcome, never half-way.

While :func:`handled` is active (the CLI wraps every command in it), the first SIGINT or
SIGTERM raises :class:`Interrupted` where the run is. It is a ``KeyboardInterrupt``, so
database drivers cancel the statement in flight (psycopg sends a cancel request) and
``subprocess`` kills the client tool it waits for. The run then ends as its failure
policy says: refused before any change, rolled back (or restored) once changes began.
Later signals, and any signal inside :func:`shielded` (the rollback or restore that
puts the database back), are told what is happening instead of stopping it.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import ClassVar

log = logging.getLogger(__name__)

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The operator (SIGINT) or a supervisor (SIGTERM) asked the run to stop."""

    def __init__(self, signum: int) -> None:
        self.signal = signal.Signals(signum).name
        super().__init__(f"interrupted by {self.signal}")


class _State:
    stopping: ClassVar[bool] = False
    doing: ClassVar[list[str]] = []


def _handler(signum: int, frame: FrameType | None) -> None:
    name = signal.Signals(signum).name
    if _State.doing:
        log.warning(
            "%s received while %s: slipway finishes that first, so that the database is "
            "not left half-way (only SIGKILL stops it now, at that risk)",
            name,
            _State.doing[-1],
        )
        return
    if _State.stopping:
        log.warning("%s received: the run is already stopping", name)
        return
    _State.stopping = True
    raise Interrupted(signum)


@contextmanager
def handled() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into :class:`Interrupted` (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in _SIGNALS}
    _State.stopping, _State.doing = False, []
    for s in _SIGNALS:
        signal.signal(s, _handler)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextmanager
def shielded(doing: str) -> Iterator[None]:
    """Signals wait while the database is being put back (``doing`` says what)."""
    _State.doing.append(doing)
    try:
        yield
    finally:
        _State.doing.pop()
