"""The run's artifact folder: 0700, files 0600, written whole or not at all."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any


def new_run_id(now: dt.datetime | None = None) -> str:
    """Sortable by time (to the millisecond), unique across hosts:
    ``20261122T104455.123Z-1a2b3c``."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return f"{now:%Y%m%dT%H%M%S}.{now.microsecond // 1000:03d}Z-{secrets.token_hex(3)}"


def private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def private_file(path: Path) -> Path:
    """Create (or truncate) ``path`` with mode 0600 before anything is written to it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)
    return path


def write_atomic(path: Path, text: str) -> None:
    """Write UTF-8 text to a temp name in the same folder, then rename it into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def make_private(path: Path) -> None:
    """0700 for folders, 0600 for files, all the way down."""
    if path.is_dir():
        os.chmod(path, 0o700)
        for child in path.rglob("*"):
            os.chmod(child, 0o700 if child.is_dir() else 0o600)
    else:
        os.chmod(path, 0o600)


def _file_sha256(path: Path) -> tuple[str, int]:
    """Read in chunks: a dump of any size hashes in constant memory."""
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def checksum(path: Path) -> tuple[str, int]:
    """sha256 and size of a file, or of a folder's files (names and contents, in order)."""
    if not path.is_dir():
        return _file_sha256(path)
    digest, size = hashlib.sha256(), 0
    for child in sorted(p for p in path.rglob("*") if p.is_file()):
        sha, n = _file_sha256(child)
        digest.update(f"{child.relative_to(path)}\0{sha}\n".encode())
        size += n
    return digest.hexdigest(), size


def remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
