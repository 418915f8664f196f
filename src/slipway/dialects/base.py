"""What every dialect provides, the helpers they share, and the registry of dialects.

A dialect class registers itself under the URL backend names it answers for (alembic's
``__dialect__`` registry is the model): :func:`dialect_for` finds it by the URL, and a new
dialect is one module of this package plus its tests. No dialect's name is compared
outside this package.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, ClassVar

from sqlalchemy import Connection, Engine, create_engine, pool
from sqlalchemy.engine import URL
from sqlalchemy.engine.reflection import Inspector
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import Text, TypeEngine

from slipway import pitr
from slipway.errors import BadInput, Refused, SlipwayError
from slipway.ledger import Kept

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10


class ToolFailed(SlipwayError):
    """A client tool (pg_dump, mysqldump, psql, ...) exited non-zero."""


class LockWaitTimeout(ToolFailed):
    """A restore's statement waited for its locks as long as it may, every try: the
    database is as it was."""


def die_with_parent() -> None:
    """In the child, before exec: end with slipway. A client tool must not go on
    dumping, loading or committing after the run that started it was killed."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the tool may outlive a killed run
        pass


_PR_SET_PDEATHSIG = 1


class ToolGroup:
    """The client-tool processes one thread starts while the group is its current one
    (:func:`in_group`), so that another thread can stop them: a backup begun early
    that the run no longer needs is ended at once, not waited for."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._procs: set[subprocess.Popen[bytes]] = set()
        self.stopped = False

    def _add(self, proc: subprocess.Popen[bytes]) -> bool:
        with self._lock:
            if not self.stopped:
                self._procs.add(proc)
            return not self.stopped

    def _remove(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.discard(proc)

    def stop(self) -> None:
        """Kill the group's running tools; tools it would start later are not started."""
        with self._lock:
            self.stopped = True
            for proc in self._procs:
                proc.kill()


_GROUP: ContextVar[ToolGroup | None] = ContextVar("slipway_tool_group", default=None)


def in_group(group: ToolGroup) -> None:
    """Make ``group`` the current thread's: the tools it starts from now on belong to it."""
    _GROUP.set(group)


def run_tool(
    argv: list[str],
    *,
    env: Mapping[str, str] | None = None,
    stdin: IO[bytes] | None = None,
    input_: bytes | None = None,
    pass_fds: tuple[int, ...] = (),
) -> str:
    merged = {**os.environ, **(env or {})}
    proc = subprocess.Popen(  # argv never carries a password; see the class docstrings
        argv,
        env=merged,
        stdin=subprocess.PIPE if input_ is not None else stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        pass_fds=pass_fds,
        preexec_fn=die_with_parent,
    )
    group = _GROUP.get()
    if group is not None and not group._add(proc):
        proc.kill()
    try:
        out, errout = proc.communicate(input_)
    except BaseException:  # interrupted: the tool does not outlive its caller
        proc.kill()
        proc.wait()
        raise
    finally:
        if group is not None:
            group._remove(proc)
    if proc.returncode != 0:
        if group is not None and group.stopped:
            raise ToolFailed(f"{Path(argv[0]).name} stopped: its result is not needed")
        err = [ln for ln in errout.decode("utf-8", "replace").splitlines() if ln.strip()]
        # The line that names the error, not the context lines psql prints after it.
        named = [ln for ln in err if "ERROR:" in ln or "error:" in ln.lower()]
        last = (named or err)[-1] if err else f"exit code {proc.returncode}"
        raise ToolFailed(f"{Path(argv[0]).name} failed: {last}")
    return out.decode("utf-8", "replace")


def require_tool(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise Refused(
        f"{' or '.join(names)} not found on PATH",
        check="tools",
        hint="install the database client package (postgresql-client / mariadb-client)",
    )


@dataclass(frozen=True)
class Counter:
    """What hands out a table's next key (a sequence, or AUTO_INCREMENT) that is behind
    the keys already in the table: its next value is at or below the column's maximum,
    so an insert without a key fails on a duplicate once the counter reaches them."""

    table: str  # schema-qualified where the server has schemas
    column: str
    counter: str  # the sequence's name, or "AUTO_INCREMENT"
    next_value: int
    max_value: int

    def as_dict(self) -> dict[str, object]:
        return {
            "table": self.table,
            "column": self.column,
            "counter": self.counter,
            "next_value": self.next_value,
            "max_value": self.max_value,
        }


# Names of this machine: a URL naming any of them reaches the same server.
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


# URL backend name -> the dialect that answers for it; each dialect module registers its
# class by naming ``names`` (see Dialect.__init_subclass__).
_REGISTRY: dict[str, type[Dialect]] = {}


class Dialect:
    """Base: the operations every dialect provides."""

    name: ClassVar[str]
    # The URL backend names this dialect answers for (``mariadb`` is MySQL's family).
    names: ClassVar[tuple[str, ...]] = ()
    # Other spellings of the scheme, as hosting platforms and dj-database-url write it
    # (``postgres://``); a URL that uses one is read as the first of :attr:`names`.
    aliases: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        for name in (*cls.names, *cls.aliases):
            _REGISTRY[name] = cls

    @classmethod
    def canonical(cls, url: URL) -> URL:
        """``url`` with its scheme spelled as SQLAlchemy knows it."""
        backend, plus, driver = url.drivername.partition("+")
        if backend in cls.aliases:
            return url.set(drivername=f"{cls.names[0]}{plus}{driver}")
        return url

    transactional_ddl: ClassVar[bool]
    backup_suffix: ClassVar[str]
    # The backup is a client tool's process (a ToolGroup can stop it at once), so a
    # release may begin it while its last read-only checks run.
    backup_by_tool: ClassVar[bool] = True
    # The dump is the client tool's process alone: slipway opens no connection of its own
    # while it runs, so it may run while env.py runs under a guard (steps.preflight
    # begins it before the revision graph is read).
    dumps_alone: ClassVar[bool] = False
    default_port: ClassVar[int | None] = None
    # The driver slipway's own connections use when the URL names an async one: the
    # ledger, locks and backups are synchronous work; env.py still gets the URL as given.
    sync_driver: ClassVar[str]
    # The async driver an env.py that builds an async engine gets for a URL written with
    # the sync one (alembic init -t async with sqlite:///app.db).
    async_driver: ClassVar[str]
    # What a failed backup, restore or copy raises besides a client tool's failure (a
    # full disk shows up as any of them).
    failures: ClassVar[tuple[type[BaseException], ...]] = (ToolFailed, OSError)
    # The database is a file: the URL names a path (relative to the project).
    file_based: ClassVar[bool] = False

    # The schema as slipway compares it (see slipway.schema): every trigger as
    # table.trigger, the catalog's rows in one query (None: no digest), and what this
    # dialect has besides tables, views and triggers.
    triggers_sql: ClassVar[str | None] = None
    # The rendered SQL is linted by squawk (PostgreSQL's linter); else by slipway's own
    # rules for the dialect (slipway.sqlrules).
    squawk_lints: ClassVar[bool] = False
    catalog_sql: ClassVar[str | None] = None

    @classmethod
    def schema_extras(cls, insp: Inspector) -> dict[str, Any]:
        return {}

    @classmethod
    def long_text(cls) -> TypeEngine[Any]:
        """A column type for text of any length (the ledger's recorded schema)."""
        return Text()

    @classmethod
    def check_url(cls, url: URL, source: str) -> None:
        """Refuse a URL this dialect cannot release to (bad input, one line)."""
        if not url.database:
            raise BadInput(f"the database URL from {source} names no database", hint="add /NAME")

    @classmethod
    def resolved(cls, url: URL, base: Path) -> URL:
        """``url`` with what it names relative to the project made absolute."""
        return url

    def server_version(self, conn: Connection) -> tuple[str, tuple[int, ...]]:
        """The connected server's flavour (MariaDB and MySQL differ in what they can do)
        and version."""
        info = conn.dialect.server_version_info or ()
        return self.name, tuple(int(p) for p in info if isinstance(p, int))

    @classmethod
    def local_server_version(cls) -> tuple[str, tuple[int, ...]] | None:
        """The server's flavour and version as known without a connection (SQLite's is
        the library's own), or None."""
        return None

    def __init__(
        self, url: URL, *, statement_timeout_s: float = 900.0, lock_timeout_s: float = 15.0
    ) -> None:
        self.url = url
        # How long one statement may run: bounds the client's wait for an answer too.
        self.statement_timeout_s = statement_timeout_s
        # How long slipway's own statements (ledger, metadata, schema reads) may wait for
        # a lock; a revision's statements get their own per try (set_timeouts).
        self.lock_timeout_s = lock_timeout_s

    # connections -------------------------------------------------------------
    @property
    def sync_url(self) -> URL:
        own = self.url.set(drivername=f"{self.url.get_backend_name()}+{self.sync_driver}")
        if "+" not in self.url.drivername:
            # A URL without a driver (dj-database-url's postgresql://, mysql://): slipway's
            # own connections use its driver, not whichever SQLAlchemy defaults to.
            return own
        try:
            is_async = bool(getattr(self.url.get_dialect(), "is_async", False))
        except Exception as err:
            raise BadInput(
                f"database driver '{self.url.drivername}' cannot be loaded: {err}",
                hint="install the driver, or name another in the URL",
            ) from err
        return own if is_async else self.url

    # The extra that brings what slipway's own connections need for this dialect.
    extra: ClassVar[str | None] = None

    # Whether slipway's own connections may be kept between its statements.
    poolable: ClassVar[bool] = True

    def create_engine(self, *, pooled: bool = False) -> Engine:
        """An engine for slipway's own connections. Each is new (env.py, the session lock
        and verification must not inherit a session), unless ``pooled``: the ledger's and
        the schema reads' short statements then reuse one, as each new connection costs a
        handshake (some 30 ms to a MariaDB that resolves client names), and one the
        server has ended is dropped at checkout (pre-ping)."""
        keep: dict[str, Any] = {"poolclass": pool.NullPool}
        if pooled and self.poolable:
            keep = {"pool_size": 1, "max_overflow": 8, "pool_pre_ping": True}
        try:
            return create_engine(self.sync_url, connect_args=self.connect_args(), **keep)
        except ImportError as err:  # the driver is not installed
            hint = f"pip install 'slipway-release[{self.extra}]'" if self.extra else "install it"
            raise BadInput(
                f"the {self.name} driver '{err.name or self.sync_url.drivername}' is not installed",
                hint=hint,
            ) from err

    def connect_args(self) -> dict[str, object]:
        """Connect arguments for :attr:`sync_driver` (slipway's own connections only)."""
        return {}

    def identity(self, url: URL) -> tuple[str, ...]:
        """What makes two URLs the same database, whatever driver or user they name."""
        return (self.name, *self.server(url.host, url.port), url.database or "")

    def server(self, host: object, port: object) -> tuple[str, str]:
        """Host and port as one server: the loopback names as one, no port as the
        dialect's default."""
        name = str(host or "localhost").lower()
        return ("localhost" if name in LOOPBACK else name), str(port or self.default_port or "")

    def database_exists(self) -> bool:
        """False only where connecting would create the database (a SQLite file)."""
        return True

    # where a connection is, as its server says ------------------------------------
    _where_sql: ClassVar[str]

    def location(self, url: URL) -> str:
        """What :meth:`where` answers on a connection to ``url``'s database."""
        return url.database or ""

    def where(self, dbapi_conn: Any) -> str:
        """The database a driver connection is on, asked of the server (not read from
        the URL that opened it). Leaves no transaction open."""
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute(self._where_sql)
            answer = self._answer(list(cursor.fetchall()))
        finally:
            cursor.close()
        dbapi_conn.rollback()
        return answer

    def _answer(self, rows: list[Any]) -> str:
        return str(rows[0][0] or "") if rows else ""

    # locking and timeouts --------------------------------------------------
    @contextmanager
    def lock(self, engine: Engine, name: str) -> Iterator[None]:  # pragma: no cover
        raise NotImplementedError
        yield

    def timeout_statements(
        self, lock_timeout_s: float, statement_timeout_s: float, server: tuple[str, tuple[int, ...]]
    ) -> list[str]:
        """What bounds how long a session's statements may wait for locks and run, on
        ``server`` (flavour, version)."""
        return []

    def set_timeouts(
        self, conn: Connection, lock_timeout_s: float, statement_timeout_s: float
    ) -> None:
        """Bound how long this session's statements may wait for locks and run."""
        server = self.server_version(conn)
        for sql in self.timeout_statements(lock_timeout_s, statement_timeout_s, server):
            conn.exec_driver_sql(sql)

    # A migration tool's own driver connection (Django's), watched as slipway's are.
    _server_sql: ClassVar[str | None] = None
    _session_sql: ClassVar[str | None] = None

    def _driver_answer(self, dbapi_conn: Any, sql: str) -> Any:
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute(sql)
            row = cursor.fetchone()
        finally:
            cursor.close()
        return row[0] if row else None

    def driver_server(self, dbapi_conn: Any) -> tuple[str, tuple[int, ...]]:
        """(flavour, version) of the server a driver connection is on."""
        return self.name, ()

    def set_driver_timeouts(
        self, dbapi_conn: Any, lock_timeout_s: float, statement_timeout_s: float
    ) -> None:
        """:meth:`set_timeouts` on a driver connection a migration tool opened."""
        server = self.driver_server(dbapi_conn)
        for sql in self.timeout_statements(lock_timeout_s, statement_timeout_s, server):
            self._driver_execute(dbapi_conn, sql)

    def _driver_execute(self, dbapi_conn: Any, sql: str) -> None:
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute(sql)
        finally:
            cursor.close()

    def driver_session_id(self, dbapi_conn: Any) -> str | None:
        """:meth:`session_id` of a driver connection a migration tool opened."""
        if self._session_sql is None:
            return None
        return str(self._driver_answer(dbapi_conn, self._session_sql))

    def is_lock_timeout(self, err: BaseException) -> bool:
        return False

    def blockers(self, conn: Connection) -> list[dict[str, object]]:
        """The sessions that hold a lock slipway's own waiting sessions queue for: pid,
        state, application, age of its transaction, first part of its query. Empty
        where the server does not say."""
        return []

    def terminate(self, pid: int) -> bool:
        """End session ``pid`` (its transaction rolls back); False if the server says no."""
        return False

    def session_id(self, conn: Connection) -> str | None:
        """The server's id of ``conn``'s session (None where sessions die with slipway)."""
        if self._session_sql is None:
            return None
        return str(conn.exec_driver_sql(self._session_sql).scalar())

    def live_sessions(self, conn: Connection, ids: Sequence[str]) -> list[str]:
        """Those of ``ids`` that are still sessions of slipway's on this database."""
        return []

    def end_session_sql(self, session: str) -> str:
        """The statement an operator runs to end ``session``."""
        return ""

    # key counters ----------------------------------------------------------------
    def counters_behind(self, conn: Connection, *, unsure: bool = False) -> list[Counter]:
        """The counters of this database whose next value is at or below the maximum of
        the column they fill (after a bulk import with explicit keys, or a copy). None
        where the server keeps its counters ahead by itself (SQLite). With ``unsure``,
        also those the server cannot show exactly (values cached in memory) and that may
        be behind: for a repair, which never moves a counter back."""
        return []

    def repair_counter(self, conn: Connection, counter: Counter) -> int | None:
        """Set ``counter`` past its column's maximum as it is now, never backwards; the
        next value it will hand out, or None if it was no longer behind."""
        return None

    # backups -------------------------------------------------------------------
    def size_bytes(self, conn: Connection) -> int:  # pragma: no cover
        raise NotImplementedError

    def check_tools(self, conn: Connection, *, dumping: bool = False) -> str:
        """Raise :class:`Refused` when backup tools are missing or too old; say what was
        found. ``dumping``: the backup's dump already runs (begun early), so its tool was
        found and checks its own compatibility with the server; the others are looked
        for, no tool is started to ask its version."""
        return "no client tools needed"

    def suffix(self, jobs: int) -> str:
        return self.backup_suffix

    # restore points ---------------------------------------------------------------
    # How a server of this family is brought back to a point in time (backup:
    # restore_point), where it can be.
    recovery: ClassVar[pitr.Recovery | None] = None

    # targeted backups ---------------------------------------------------------------
    # The tables a release puts at risk, with their rows, and the schema of everything.
    targeted_backups: ClassVar[bool] = False

    def backup_tables(
        self, folder: Path, tables: set[str], described: dict[str, Any], lock_wait_s: float
    ) -> list[str]:
        """Write a targeted backup into the private folder ``folder``: the schema of
        everything, the rows of ``tables`` (the version table among them), and
        ``described`` (the schema now). Those of ``tables`` that exist (whose rows it
        holds)."""
        raise NotImplementedError  # pragma: no cover - see targeted_backups

    def restore_tables(self, folder: Path, waits: Iterable[float]) -> str:
        """Undo a release with the targeted backup in ``folder``, in one transaction:
        its tables with their rows, the schema of the rest as it was, every other
        table's rows untouched. What was done."""
        raise NotImplementedError  # pragma: no cover - see targeted_backups

    def backup(self, target: Path, lock_wait_s: float, jobs: int) -> None:  # pragma: no cover
        """Write a private (0600) backup to ``target``; wait at most ``lock_wait_s`` for
        locks where the tool allows it; use ``jobs`` parallel workers where it can."""
        raise NotImplementedError

    def validate_backup(self, target: Path) -> str:  # pragma: no cover
        raise NotImplementedError

    def restore(self, source: Path, keep: Kept, waits: Iterable[float]) -> None:  # pragma: no cover
        """Replace the database by backup ``source`` all at once, carrying the run
        history ``keep`` into it: a failure or a kill at any moment leaves either the
        old database or the restored one, never a mix. The statements that must wait
        for the application's locks (drop, swap) wait at most the next of ``waits`` per
        try; when ``waits`` runs out, :class:`LockWaitTimeout`, with nothing changed.
        The backup is streamed: memory does not grow with its size."""
        raise NotImplementedError

    def load_copy(self, source: Path, into: URL, *, schema_only: bool, rows_of: str) -> None:
        """Load backup ``source`` into the empty scratch database ``into`` (a rehearsal).
        ``schema_only`` keeps the rows of table ``rows_of`` only (the version table)."""
        raise NotImplementedError  # pragma: no cover

    # throwaway databases (stairway, drift check) -------------------------------
    @contextmanager
    def scratch(self, tag: str) -> Iterator[URL]:
        """A new, empty database beside this one, dropped afterwards: the URL's own
        database is never touched."""
        name = f"{(self.url.database or 'db')[:30]}_{tag}"
        engine = self._autocommit_engine()
        quoted = engine.dialect.identifier_preparer.quote(name)
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql(f"CREATE DATABASE {quoted}")
            try:
                yield self.url.set(database=name)
            finally:
                with engine.connect() as conn:
                    conn.exec_driver_sql(self._drop_database_sql(quoted))
        finally:
            engine.dispose()

    def sweep_scratch(self, kind: str) -> list[str]:
        """Drop the scratch databases of ``kind`` (``scratch(f"{kind}_<8 hex>")``) that a
        killed run left beside this one; run under the release lock, so none is in use.
        A copy of the data must not outlive its run. Returns what was dropped."""
        stem = f"{(self.url.database or 'db')[:30]}_{kind}_"
        leftover = re.compile(re.escape(stem) + "[0-9a-f]{8}")
        engine = self._autocommit_engine()
        dropped = []
        try:
            with engine.connect() as conn:
                for name in self._database_names(conn):
                    if leftover.fullmatch(name):
                        quoted = engine.dialect.identifier_preparer.quote(name)
                        conn.exec_driver_sql(self._drop_database_sql(quoted))
                        dropped.append(name)
        finally:
            engine.dispose()
        return dropped

    def _database_names(self, conn: Connection) -> list[str]:  # pragma: no cover
        raise NotImplementedError

    def _drop_database_sql(self, quoted: str) -> str:
        return f"DROP DATABASE IF EXISTS {quoted}"

    def _autocommit_engine(self) -> Engine:
        """slipway's own connection for statements outside transactions (CREATE and DROP
        DATABASE, RENAME TABLE across databases)."""
        return self.create_engine().execution_options(isolation_level="AUTOCOMMIT")


def driver_errors(err: BaseException) -> Iterator[BaseException]:
    """``err`` and the errors it wraps: the driver's own error, whether SQLAlchemy
    (``orig``) or a migration tool (its cause) wrapped it."""
    seen: set[int] = set()
    cur: BaseException | None = err
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        yield cur
        orig = cur.orig if isinstance(cur, DBAPIError) else None
        cur = orig if isinstance(orig, BaseException) else (cur.__cause__ or cur.__context__)


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a name."""
    digest = hashlib.sha256(f"slipway:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def dialect_named(name: str) -> type[Dialect]:
    """The dialect SQLAlchemy's dialect ``name`` belongs to."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise BadInput(f"unsupported database '{name}'") from None


def supported() -> tuple[str, ...]:
    """The URL backend names some dialect answers for (aliases included)."""
    return tuple(_REGISTRY)


def dialect_class(url: URL) -> type[Dialect]:
    backend = url.get_backend_name()
    try:
        return _REGISTRY[backend]
    except KeyError:
        raise BadInput(f"unsupported database '{backend}'") from None


def dialect_for(
    url: URL, *, statement_timeout_s: float = 900.0, lock_timeout_s: float = 15.0
) -> Dialect:
    return dialect_class(url)(
        url, statement_timeout_s=statement_timeout_s, lock_timeout_s=lock_timeout_s
    )
