"""Logging for a run: to stderr and to the run's own log file, secrets masked in both."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from slipway.artifacts import private_file

LOGGER = "slipway"
MASK = "***"
_FORMAT = "%(asctime)s %(levelname)-5s [%(name)s] %(message)s"


class Redact(logging.Filter):
    """Replaces every known secret in a record's final text with ``***``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            text = record.getMessage()
            for secret in self.secrets:
                text = text.replace(secret, MASK)
            record.msg, record.args = text, None
        return True


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


def setup_console(*, debug: bool, quiet: bool = False) -> None:
    """stderr logging for the whole process: slipway's own lines, and alembic's."""
    root = logging.getLogger()
    if not any(getattr(h, "_slipway", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        # Warnings and errors only, unless asked: the run log keeps everything.
        level = logging.DEBUG if debug else logging.WARNING
        handler.setLevel(logging.CRITICAL if quiet and not debug else level)
        handler.setFormatter(logging.Formatter(_FORMAT, "%H:%M:%S"))
        handler._slipway = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    logging.getLogger("alembic").setLevel(logging.INFO)
    if not debug:
        logging.getLogger("sqlalchemy").setLevel(logging.WARNING)


@contextmanager
def console_stream(stream: TextIO) -> Iterator[None]:
    """Send slipway's stderr log lines to ``stream`` for a while (a live display's
    proxy, which prints them above the display instead of through it)."""
    handlers = [h for h in logging.getLogger().handlers if getattr(h, "_slipway", False)]
    before = [h.setStream(stream) for h in handlers if isinstance(h, logging.StreamHandler)]
    try:
        yield
    finally:
        for handler, old in zip(handlers, before, strict=False):
            if isinstance(handler, logging.StreamHandler) and old is not None:
                handler.setStream(old)


class _QuietFileHandler(logging.FileHandler):
    """The run log: when its disk fills or turns read-only, it says so once on stderr
    and stops writing, instead of a traceback per log line. The run goes on: the
    database, not the artifacts disk, decides its outcome."""

    failed = False

    def handleError(self, record: logging.LogRecord) -> None:
        if not self.failed:
            self.failed = True
            print(
                f"slipway: warning: the run log {self.baseFilename} cannot be written "
                "(disk full or read-only?); the run goes on without it",
                file=sys.stderr,
            )


@contextmanager
def run_log(path: Path, secrets: Iterable[str]) -> Iterator[None]:
    """Copy every log line of the run into ``path`` (0600), secrets masked everywhere."""
    root = logging.getLogger()
    redactor = Redact(secrets)
    handler = _QuietFileHandler(private_file(path), encoding="utf-8")
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.addFilter(redactor)
    others = list(root.handlers)
    for other in others:
        other.addFilter(redactor)
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()
        for other in others:
            other.removeFilter(redactor)


@contextmanager
def preserved() -> Iterator[None]:
    """Undo what an env.py's ``fileConfig()`` does to logging: it replaces the root
    handlers (the run log among them) and disables loggers it does not name."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, logger in logging.Logger.manager.loggerDict.items():
            if isinstance(logger, logging.Logger) and name.split(".")[0] in (LOGGER, "alembic"):
                logger.disabled = False
