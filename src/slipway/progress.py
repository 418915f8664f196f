"""Live progress of a run, for whoever watches: the CLI shows it on a terminal.

The library says what it is doing (a step begins, what it is busy with, the step ends);
an :class:`Observer` shows it. The default shows nothing; the CLI gives a terminal a
live display that disappears when the run ends, leaving the summary, and a log that is
not a terminal (CI, Ansible) :class:`LogLines`: one line now and then while long work
goes on.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


class Observer:
    """Shows nothing; subclasses show something."""

    def begin(self, step: str) -> None:
        """Step ``step`` begins."""

    def note(self, text: str) -> None:
        """What the current step is busy with now (revision, statement, bytes)."""

    def end(self, step: str, status: str, seconds: float, detail: str) -> None:
        """Step ``step`` ended ``ok``, ``failed`` or ``skipped``."""


class LogLines(Observer):
    """Progress for a log that is not a terminal (a CI job's, Ansible's): while a step
    runs longer than ``every_s``, one line every ``every_s`` seconds saying what it is
    busy with; a step that took longer than that says when it ended. Short steps say
    nothing: the summary tells them."""

    def __init__(self, write: Callable[[str], None], every_s: float = 10.0) -> None:
        self.write, self.every_s = write, every_s
        self._lock = threading.Lock()
        self.step, self.text = "", ""
        self.started = self.last = 0.0

    def begin(self, step: str) -> None:
        with self._lock:
            self.step, self.text = step, ""
            self.started = self.last = time.monotonic()

    def note(self, text: str) -> None:
        with self._lock:
            self.text = text
            now = time.monotonic()
            if self.step and now - self.last >= self.every_s:
                self.last = now
                self.write(f"slipway: {self.step} {now - self.started:.0f} s: {text}")

    def end(self, step: str, status: str, seconds: float, detail: str) -> None:
        with self._lock:
            if step == self.step and status == "ok" and seconds >= self.every_s:
                self.write(f"slipway: {step} {status} after {seconds:.0f} s")
            self.step = ""


_observer: Observer = Observer()


def current() -> Observer:
    return _observer


@contextmanager
def observing(observer: Observer) -> Iterator[Observer]:
    """Report progress to ``observer`` for the duration of the block."""
    global _observer
    before, _observer = _observer, observer
    try:
        yield observer
    finally:
        _observer = before


@contextmanager
def ticking(say: Callable[[], str | None], every_s: float = 0.5) -> Iterator[None]:
    """While the block runs, note ``say()`` every ``every_s`` seconds (when there is an
    observer that shows anything)."""
    if type(_observer) is Observer:
        yield
        return
    done = threading.Event()

    def tick() -> None:
        while not done.wait(every_s):
            text = say()
            if text:
                _observer.note(text)

    thread = threading.Thread(target=tick, name="slipway-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=2)


def file_growth(path: Path, what: str) -> Callable[[], str | None]:
    """``say`` for :func:`ticking`: how much has been written to ``path``, and how fast."""
    started = time.monotonic()

    def say() -> str | None:
        try:
            size = path.stat().st_size if path.is_file() else _folder_size(path)
        except OSError:
            return None
        seconds = time.monotonic() - started
        return f"{what}: {_human(size)} written in {seconds:.0f} s"

    return say


def file_read(path: Path, what: str) -> Callable[[], str | None]:
    """``say`` for :func:`ticking`: how far a child process (a restore's client tool) has
    read ``path``, as a percentage of its size (Linux: /proc/PID/fdinfo); without such
    a child, its size and the seconds so far."""
    started = time.monotonic()
    target = str(path.resolve())
    try:
        total = path.stat().st_size if path.is_file() else 0
    except OSError:
        total = 0

    def say() -> str | None:
        seconds = time.monotonic() - started
        pos = _read_by_child(target) if total else None
        if pos is None:
            size = _human(total) if total else file_size(path)
            return f"{what}: loading {size} ({seconds:.0f} s)"
        done = min(100, pos * 100 // total)
        return f"{what}: {done}% of {_human(total)} read ({seconds:.0f} s)"

    return say


def _read_by_child(target: str) -> int | None:
    """Where a child process of this one stands in the file ``target`` it has open."""
    me = str(os.getpid())
    proc = Path("/proc")
    try:
        pids = [p for p in os.listdir(proc) if p.isdigit()]
    except OSError:
        return None
    for pid in pids:
        try:
            stat = (proc / pid / "stat").read_text()
            if stat.rsplit(")", 1)[1].split()[1] != me:
                continue
            for fd in os.listdir(proc / pid / "fd"):
                if os.readlink(proc / pid / "fd" / fd) == target:
                    for line in (proc / pid / "fdinfo" / fd).read_text().splitlines():
                        if line.startswith("pos:"):
                            return int(line.split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return None


def elapsed(what: Callable[[], str]) -> Callable[[], str | None]:
    """``say`` for :func:`ticking`: ``what()`` and the seconds since the block began."""
    started = time.monotonic()
    return lambda: f"{what()} ({time.monotonic() - started:.0f} s)"


def file_size(path: Path) -> str:
    """The size of a file or folder, for a person."""
    try:
        return _human(path.stat().st_size if path.is_file() else _folder_size(path))
    except OSError:
        return "?"


def _folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0


def _human(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"  # pragma: no cover
