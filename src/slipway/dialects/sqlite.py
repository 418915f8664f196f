"""SQLite: flock beside the file, the online backup API, integrity_check."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import URL

from slipway.artifacts import private_file
from slipway.dialects.base import (
    Dialect,
    ToolFailed,
)
from slipway.errors import BadInput, LockHeld, Refused
from slipway.ledger import Kept

log = logging.getLogger(__name__)


class SQLite(Dialect):
    """SQLite: ``flock`` beside the file, the online backup API, ``integrity_check``."""

    name = "sqlite"
    names = ("sqlite",)
    triggers_sql = "SELECT tbl_name || '.' || name FROM sqlite_master WHERE type = 'trigger'"
    catalog_sql = "SELECT type, tbl_name, name, sql FROM sqlite_master"
    transactional_ddl = True
    backup_suffix = ".sqlite3"
    backup_by_tool = False  # the sqlite3 module's backup, in this process
    sync_driver = "pysqlite"
    async_driver = "aiosqlite"
    failures = (ToolFailed, OSError, sqlite3.Error)
    file_based = True

    @classmethod
    def check_url(cls, url: URL, source: str) -> None:
        if not url.database or url.database == ":memory:":
            raise BadInput(
                f"the SQLite URL from {source} names no file",
                hint="use sqlite:///relative/path.db or sqlite:////absolute/path.db",
            )

    @classmethod
    def resolved(cls, url: URL, base: Path) -> URL:
        if url.database and not os.path.isabs(url.database):
            return url.set(database=str(base / url.database))
        return url

    def server_version(self, conn: Connection) -> tuple[str, tuple[int, ...]]:
        return self.name, sqlite3.sqlite_version_info

    @classmethod
    def local_server_version(cls) -> tuple[str, tuple[int, ...]] | None:
        return cls.name, sqlite3.sqlite_version_info

    # A restore replaces the file: a kept connection would go on reading the old one.
    # Opening a file costs nothing worth keeping.
    poolable = False

    def identity(self, url: URL) -> tuple[str, ...]:
        return (self.name, str(Path(url.database or "").resolve()))

    _where_sql = "PRAGMA database_list"

    def location(self, url: URL) -> str:
        return os.path.realpath(url.database or "")

    def _answer(self, rows: list[Any]) -> str:
        # (seq, name, file): the file of "main", empty for an in-memory database
        main = [row[2] for row in rows if row[1] == "main"]
        return os.path.realpath(main[0]) if main and main[0] else ""

    @property
    def path(self) -> Path:
        return Path(self.url.database or "")

    def _check_path(self) -> None:
        """The URL names a SQLite file, or where one may be made; nothing else."""
        if not self.path.parent.is_dir():
            raise BadInput(
                f"folder {self.path.parent} of the SQLite database does not exist",
                hint="create it, or fix the URL",
            )
        if self.path.exists() and not self.path.is_file():
            raise BadInput(
                f"the SQLite database {self.path} is a folder, not a file", hint="fix the URL"
            )
        if self.path.is_file() and self.path.stat().st_size:
            with self.path.open("rb") as fh:
                if fh.read(16) != b"SQLite format 3\x00":
                    raise BadInput(f"{self.path} is not a SQLite database", hint="fix the URL")

    def database_exists(self) -> bool:
        self._check_path()
        return self.path.is_file()

    def create_engine(self, *, pooled: bool = False) -> Engine:
        self._check_path()
        engine = super().create_engine(pooled=pooled)

        # Let SQLAlchemy, not pysqlite, emit BEGIN, so that DDL is inside the transaction
        # too and a failed revision rolls back whole.
        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn: Any, record: Any) -> None:
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN")

        return engine

    def _scratch_prefix(self, tag: str) -> str:
        # Named after this database's file, so that its leftovers are found and no other's.
        key = hashlib.sha256(str(self.path.resolve()).encode()).hexdigest()[:12]
        return f"slipway-{key}-{tag}"

    @contextmanager
    def scratch(self, tag: str) -> Iterator[URL]:
        with tempfile.TemporaryDirectory(prefix=f"{self._scratch_prefix(tag)}-") as folder:
            yield self.url.set(database=str(Path(folder) / "scratch.db"))

    def sweep_scratch(self, kind: str) -> list[str]:
        leftover = re.compile(re.escape(self._scratch_prefix(kind)) + "_[0-9a-f]{8}-.*")
        dropped = []
        for folder in Path(tempfile.gettempdir()).iterdir():
            if leftover.fullmatch(folder.name) and folder.is_dir():
                shutil.rmtree(folder, ignore_errors=True)
                dropped.append(str(folder))
        return dropped

    @contextmanager
    def lock(self, engine: Engine, name: str) -> Iterator[None]:
        lock_path = self.path.with_name(self.path.name + ".slipway-lock")
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as err:
            # SQLite writes its journal in the same folder: no release can run there.
            raise Refused(
                f"cannot create the lock file {lock_path}: {err.strerror}",
                check="lock",
                hint=f"make {self.path.parent} writable for this user (SQLite writes its "
                "journal beside the database too)",
            ) from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as err:
                raise LockHeld(
                    f"another release holds the lock on {self.path}",
                    hint="wait for it to finish; the lock ends with its process",
                ) from err
            yield
        finally:
            os.close(fd)

    def size_bytes(self, conn: Connection) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def backup(self, target: Path, lock_wait_s: float, jobs: int) -> None:
        private_file(target)
        src = sqlite3.connect(self.path, timeout=lock_wait_s)
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()

    def validate_backup(self, target: Path) -> str:
        conn = sqlite3.connect(f"file:{target}?mode=ro", uri=True)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchone()
        finally:
            conn.close()
        if not result or result[0] != "ok":
            raise ToolFailed(f"backup {target} fails PRAGMA integrity_check: {result}")
        return "PRAGMA integrity_check: ok"

    def load_copy(self, source: Path, into: URL, *, schema_only: bool, rows_of: str) -> None:
        shutil.copyfile(source, into.database or "")
        if not schema_only:
            return
        conn = sqlite3.connect(into.database or "")
        try:
            tables = [
                r[0]
                for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
                )
            ]
            for table in tables:
                if table != rows_of:
                    conn.execute(f'DELETE FROM "{table}"')
            conn.commit()
        finally:
            conn.close()

    def restore(self, source: Path, keep: Kept, waits: Iterable[float]) -> None:
        """Copy the backup to a temp file beside the database, carry the history into
        it, then rename it over the database (atomic on one file system: it waits for
        no lock)."""
        self._settle()
        fd, name = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.restore-")
        os.close(fd)
        tmp = Path(name)
        try:
            shutil.copyfile(source, tmp)
            if self.path.exists():
                os.chmod(tmp, self.path.stat().st_mode & 0o777)
            engine = SQLite(self.url.set(database=str(tmp))).create_engine()
            try:
                with engine.connect() as conn, conn.begin():
                    keep.apply(conn)
            finally:
                engine.dispose()
            with tmp.open("rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        finally:
            tmp.unlink(missing_ok=True)

    def _settle(self) -> None:
        """No write-ahead log or hot journal of the old file may outlive it: checkpoint
        the WAL into the file (and empty it); opening rolls back a hot journal."""
        if not self.path.exists():
            return
        conn = sqlite3.connect(self.path)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            conn.close()
