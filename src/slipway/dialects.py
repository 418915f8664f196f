"""What differs between PostgreSQL, MySQL/MariaDB and SQLite, behind one small interface.

Each dialect knows how to hold the release lock, bound a migration's waiting time,
back up, validate and restore its database, and which client tools that needs.
Passwords reach client tools only through the environment (PostgreSQL) or a 0600
option file (MySQL), never through argv.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import hashlib
import logging
import math
import os
import re
import secrets
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, ClassVar

from sqlalchemy import Connection, Engine, create_engine, event, pool, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from slipway import mytables, pgtables, pitr, schema, targeted
from slipway.artifacts import private_file
from slipway.errors import BadInput, LockHeld, Refused, SlipwayError, first_line
from slipway.ledger import Kept
from slipway.targeted import DUMP

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10
_CLIENT_SSL = 2048  # the MySQL protocol's capability flag: the server offers TLS


class ToolFailed(SlipwayError):
    """A client tool (pg_dump, mysqldump, psql, ...) exited non-zero."""


class LockWaitTimeout(ToolFailed):
    """A restore's statement waited for its locks as long as it may, every try: the
    database is as it was."""


def _die_with_parent() -> None:
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


def _run(
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
        preexec_fn=_die_with_parent,
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


def _require_tool(*names: str) -> str:
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


class Dialect:
    """Base: the operations every dialect provides."""

    name: ClassVar[str]
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
        try:
            is_async = bool(getattr(self.url.get_dialect(), "is_async", False))
        except Exception as err:
            raise BadInput(
                f"database driver '{self.url.drivername}' cannot be loaded: {err}",
                hint="install the driver, or name another in the URL",
            ) from err
        if not is_async:
            return self.url
        return self.url.set(drivername=f"{self.url.get_backend_name()}+{self.sync_driver}")

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

    def set_timeouts(
        self, conn: Connection, lock_timeout_s: float, statement_timeout_s: float
    ) -> None:
        """Bound how long this session's statements may wait for locks and run."""

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
        return None

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


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a name."""
    digest = hashlib.sha256(f"slipway:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PostgreSQL(Dialect):
    """PostgreSQL: ``pg_advisory_lock``, ``lock_timeout``, ``pg_dump -Fc``.

    Client tools get host, port, user, database and password through PG* variables.
    """

    name = "postgresql"
    dumps_alone = True  # pg_dump alone
    recovery = pitr.WalArchive()
    extra = "postgresql"
    transactional_ddl = True
    backup_suffix = ".dump"
    default_port = 5432
    sync_driver = "psycopg"

    _where_sql = "SELECT current_database()"

    def _drop_database_sql(self, quoted: str) -> str:
        return f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"

    def _database_names(self, conn: Connection) -> list[str]:
        return list(conn.execute(text("SELECT datname FROM pg_database")).scalars())

    def connect_args(self) -> dict[str, object]:
        return {
            "connect_timeout": CONNECT_TIMEOUT_S,
            "application_name": "slipway",
            "options": f"-c lock_timeout={int(self.lock_timeout_s * 1000)}",
        }

    def _pg_env(self) -> dict[str, str]:
        u = self.url
        # Named like slipway's own sessions: who blocks a restore's psql can be found.
        env = {
            "PGDATABASE": u.database or "",
            "PGCONNECT_TIMEOUT": str(CONNECT_TIMEOUT_S),
            "PGAPPNAME": "slipway",
        }
        if u.host:
            env["PGHOST"] = u.host
        if u.port:
            env["PGPORT"] = str(u.port)
        if u.username:
            env["PGUSER"] = u.username
        if u.password:
            env["PGPASSWORD"] = str(u.password)
        return env

    @contextmanager
    def lock(self, engine: Engine, name: str) -> Iterator[None]:
        key = lock_key(name)
        with engine.connect() as conn:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
            conn.commit()
            if not got:
                holder = conn.execute(
                    text(
                        "SELECT a.pid, a.application_name, a.client_addr::text "
                        "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                        "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
                        "AND l.classid::bigint = :hi AND l.objid::bigint = :lo"
                    ),
                    {"hi": (key >> 32) & 0xFFFFFFFF, "lo": key & 0xFFFFFFFF},
                ).first()
                who = f" (backend pid {holder[0]}, {holder[1]} from {holder[2]})" if holder else ""
                raise LockHeld(
                    f"another release holds the lock on database {name}{who}",
                    hint="wait for it to finish; the lock ends with its session",
                )
            try:
                yield
            finally:
                try:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()
                except DBAPIError:  # the session is gone, and the lock with it
                    log.debug("advisory unlock skipped: connection lost")

    def set_timeouts(
        self, conn: Connection, lock_timeout_s: float, statement_timeout_s: float
    ) -> None:
        # Session-wide: a revision owns its transactions (autocommit_block commits and
        # begins anew), and every one of them must stay bounded.
        conn.exec_driver_sql(f"SET lock_timeout = '{int(lock_timeout_s * 1000)}ms'")
        conn.exec_driver_sql(f"SET statement_timeout = '{int(statement_timeout_s * 1000)}ms'")
        # Named like slipway's own sessions, env.py's too: who blocks them can be found.
        conn.exec_driver_sql("SET application_name = 'slipway'")
        if (conn.dialect.server_version_info or (0,)) >= (14,):
            # A revision's statement stops within a second once slipway is gone (killed),
            # and its locks with it, instead of running on alone.
            conn.exec_driver_sql("SET client_connection_check_interval = '1s'")

    def is_lock_timeout(self, err: BaseException) -> bool:
        orig = err.orig if isinstance(err, DBAPIError) else err
        return getattr(orig, "sqlstate", None) == "55P03"

    def blockers(self, conn: Connection) -> list[dict[str, object]]:
        rows = conn.execute(
            text(
                "SELECT DISTINCT b.pid, b.state, b.application_name, "
                "round(EXTRACT(EPOCH FROM now() - b.xact_start)::numeric, 1) AS xact_age_s, "
                "left(regexp_replace(b.query, '\\s+', ' ', 'g'), 120) AS query "
                "FROM pg_stat_activity w "
                "CROSS JOIN LATERAL unnest(pg_blocking_pids(w.pid)) AS bp(pid) "
                "JOIN pg_stat_activity b ON b.pid = bp.pid "
                "WHERE w.datname = current_database() AND w.application_name = 'slipway' "
                "AND w.wait_event_type = 'Lock' AND w.pid <> pg_backend_pid()"
            )
        ).mappings()
        return [{**dict(r), "xact_age_s": float(r["xact_age_s"] or 0)} for r in rows]

    def session_id(self, conn: Connection) -> str | None:
        return str(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar())

    def live_sessions(self, conn: Connection, ids: Sequence[str]) -> list[str]:
        pids = [int(i) for i in ids if i.isdigit()]
        if not pids:
            return []
        rows = conn.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE pid = ANY(:p) "
                "AND datname = current_database() AND application_name = 'slipway' "
                "AND pid <> pg_backend_pid()"
            ),
            {"p": pids},
        ).scalars()
        return [str(p) for p in rows]

    def end_session_sql(self, session: str) -> str:
        return f"SELECT pg_terminate_backend({int(session)})"

    def terminate(self, pid: int) -> bool:
        engine = self._autocommit_engine()
        try:
            with engine.connect() as conn:
                ended = conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
                return bool(ended.scalar())
        except DBAPIError as err:
            log.warning("session %s cannot be ended: %s", pid, str(err.orig).strip())
            return False
        finally:
            engine.dispose()

    # Sequences owned by an integer column (serial, or an identity), in every schema of
    # the database but the system's: with their increment (only rising ones lag).
    _OWNED_SEQUENCES = (
        "SELECT n.nspname, t.relname, a.attname, sn.nspname, s.relname, q.seqincrement "
        "FROM pg_depend d "
        "JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' "
        "JOIN pg_sequence q ON q.seqrelid = s.oid "
        "JOIN pg_namespace sn ON sn.oid = s.relnamespace "
        "JOIN pg_class t ON t.oid = d.refobjid "
        "JOIN pg_namespace n ON n.oid = t.relnamespace "
        "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid "
        "WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass "
        "AND d.deptype IN ('a', 'i') AND q.seqincrement > 0 "
        "AND a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype) "
        "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "ORDER BY 1, 2, 3"
    )

    def counters_behind(self, conn: Connection, *, unsure: bool = False) -> list[Counter]:
        owned = conn.execute(text(self._OWNED_SEQUENCES)).all()
        if not owned:
            return []
        q = conn.dialect.identifier_preparer.quote
        # one round trip: each column's maximum beside its sequence's next value
        parts = [
            f"SELECT {i} AS i, (SELECT max({q(col)}) FROM {q(schema)}.{q(table)}) AS top, "
            f"CASE WHEN is_called THEN last_value + {int(inc)} ELSE last_value END AS next "
            f"FROM {q(seq_schema)}.{q(seq)}"
            for i, (schema, table, col, seq_schema, seq, inc) in enumerate(owned)
        ]
        found = []
        for i, top, nxt in conn.execute(text(" UNION ALL ".join(parts))):
            schema, table, col, seq_schema, seq, _ = owned[i]
            if top is not None and nxt <= top:
                found.append(Counter(f"{schema}.{table}", col, f"{seq_schema}.{seq}", nxt, top))
        return found

    def repair_counter(self, conn: Connection, counter: Counter) -> int | None:
        q = conn.dialect.identifier_preparer.quote
        schema, table = counter.table.split(".", 1)
        seq_schema, seq = counter.counter.split(".", 1)
        sequence = f"{q(seq_schema)}.{q(seq)}"
        # The maximum read in the same statement, and only ever forward: a sequence that
        # sessions have moved past it meanwhile stays where it is.
        row = conn.execute(
            text(
                f"SELECT setval(CAST(:seq AS regclass), top) + q.seqincrement "
                f"FROM (SELECT max({q(counter.column)}) AS top "
                f"FROM {q(schema)}.{q(table)}) AS m, pg_sequence q, {sequence} s "
                "WHERE q.seqrelid = CAST(:seq AS regclass) AND top >= "
                "CASE WHEN s.is_called THEN s.last_value + q.seqincrement ELSE s.last_value END"
            ),
            {"seq": sequence},
        ).first()
        return None if row is None else int(row[0])

    def size_bytes(self, conn: Connection) -> int:
        return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())

    def check_tools(self, conn: Connection, *, dumping: bool = False) -> str:
        pg_dump = _require_tool("pg_dump")
        _require_tool("pg_restore")
        _require_tool("psql")
        if dumping:
            return "pg_restore and psql found; pg_dump is dumping"
        out = _run([pg_dump, "--version"])
        match = re.search(r"(\d+)(?:\.\d+)?", out)
        client = int(match.group(1)) if match else 0
        server = int(conn.execute(text("SHOW server_version_num")).scalar_one()) // 10000
        if client < server:
            raise Refused(
                f"pg_dump {client} cannot dump a PostgreSQL {server} server",
                check="tools",
                hint=f"install postgresql-client-{server} or newer",
            )
        return f"pg_dump {client} for server {server}"

    def suffix(self, jobs: int) -> str:
        return ".dir" if jobs > 1 else self.backup_suffix

    targeted_backups = True

    def backup_tables(
        self, folder: Path, tables: set[str], described: dict[str, Any], lock_wait_s: float
    ) -> list[str]:
        engine = self.create_engine()
        try:
            with engine.connect() as conn:
                present = sorted(tables & pgtables.live_tables(conn))
                excluded = pgtables.exclusions(conn, set(present))
        finally:
            engine.dispose()
        target = folder / DUMP
        private_file(target)
        _run(
            [
                _require_tool("pg_dump"),
                "--format=custom",
                "--no-password",
                f"--lock-wait-timeout={int(lock_wait_s * 1000)}",
                f"--file={target}",
                *excluded,
            ],
            env=self._pg_env(),
        )
        targeted.write_start(folder, described, present)
        return present

    def restore_tables(self, folder: Path, waits: Iterable[float]) -> str:
        engine = self.create_engine()
        try:
            return pgtables.undo(
                engine,
                folder,
                waits,
                is_lock_timeout=self.is_lock_timeout,
                pg_restore=_require_tool("pg_restore"),
            )
        except pgtables.UndoFailed as err:
            raise ToolFailed(str(err)) from err
        except Exception as err:  # the server's refusal: nothing was committed
            if self.is_lock_timeout(err):
                raise LockWaitTimeout(f"targeted restore: {first_line(err)}") from err
            if isinstance(err, (DBAPIError, subprocess.CalledProcessError)) or type(
                err
            ).__module__.startswith("psycopg"):
                raise ToolFailed(f"targeted restore: {first_line(err)}") from err
            raise
        finally:
            engine.dispose()

    def backup(self, target: Path, lock_wait_s: float, jobs: int) -> None:
        # Custom format is one file; directory format is what pg_dump can write in parallel.
        if jobs > 1:
            fmt = ["--format=directory", f"--jobs={jobs}"]
        else:
            fmt = ["--format=custom"]
            private_file(target)
        # Without a lock wait limit pg_dump queues behind any ACCESS EXCLUSIVE holder, and
        # the application's queries then queue behind pg_dump.
        try:
            _run(
                [
                    _require_tool("pg_dump"),
                    *fmt,
                    "--no-password",
                    f"--lock-wait-timeout={int(lock_wait_s * 1000)}",
                    f"--file={target}",
                ],
                env=self._pg_env(),
            )
        except ToolFailed as err:
            if "statement timeout" in str(err) or "could not obtain lock" in str(err):
                raise ToolFailed(
                    f"pg_dump waited more than {lock_wait_s:g} s for a table lock and gave "
                    f"up: another session holds the table ({err})"
                ) from err
            raise

    def validate_backup(self, target: Path) -> str:
        toc = _run([_require_tool("pg_restore"), "--list", str(target)])
        entries = [ln for ln in toc.splitlines() if ln and not ln.startswith(";")]
        return f"pg_restore --list: {len(entries)} entries"

    def load_copy(self, source: Path, into: URL, *, schema_only: bool, rows_of: str) -> None:
        env = {**self._pg_env(), "PGDATABASE": into.database or ""}
        # The scratch database belongs to whoever connects: ownership and grants of the
        # original do not matter for a rehearsal, and the roles may not exist.
        base = [_require_tool("pg_restore"), "--no-owner", "--no-privileges", "--no-password"]
        base.append(f"--dbname={into.database}")
        if not schema_only:
            _run([*base, "--exit-on-error", str(source)], env=env)
            return
        _run([*base, "--exit-on-error", "--schema-only", str(source)], env=env)
        _run([*base, "--data-only", f"--table={rows_of}", str(source)], env=env)

    def restore(self, source: Path, keep: Kept, waits: Iterable[float]) -> None:
        """Drop the user schemas and load the dump, the history kept, all in one psql
        transaction. Schema ``public`` keeps its owner and privileges (a dump made with
        pg_dump does not carry them). The drops wait for the application's locks at most
        one lock timeout of ``waits`` per try (the application's queries queue behind a
        waiting DROP); pg_restore's script streams into psql."""
        engine = self.create_engine()
        try:
            with engine.connect() as conn:
                schemas = list(
                    conn.execute(
                        text(
                            "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
                            "AND nspname <> 'information_schema'"
                        )
                    ).scalars()
                )
                public = self._public_schema_sql(conn)
                search_path = conn.exec_driver_sql("SHOW search_path").scalar()
                sql_dialect = conn.dialect
        finally:
            engine.dispose()
        drops = "".join(f'DROP SCHEMA IF EXISTS "{s}" CASCADE;\n' for s in schemas)
        toc = _run([_require_tool("pg_restore"), "--list", str(source)])
        if not re.search(r"^\d+; \d+ \d+ SCHEMA - public ", toc, re.MULTILINE):
            drops += "CREATE SCHEMA public;\n" + public
        # The dump empties search_path; the history goes where slipway keeps it. One
        # transaction with an explicit COMMIT as the last line (not --single-transaction,
        # which commits at end of input): input cut short by a kill never commits.
        tail = f"SET search_path TO {search_path};\n{keep.sql(sql_dialect)}COMMIT;\n"
        last: LockWaitTimeout | None = None
        for timeout in waits:
            head = f"BEGIN;\nSET LOCAL lock_timeout = '{max(1, int(timeout * 1000))}ms';\n{drops}"
            try:
                self._stream_restore(source, head.encode(), tail.encode())
                return
            except LockWaitTimeout as err:
                last = err
                log.warning("restore: %s", err)
        raise last or LockWaitTimeout("no try was allowed")

    def _stream_restore(self, source: Path, head: bytes, tail: bytes) -> None:
        """psql reads ``head``, pg_restore's script of ``source`` piped through in
        chunks, then ``tail``; its errors are read from a file (never a full pipe)."""
        with tempfile.TemporaryFile() as psql_err, tempfile.TemporaryFile() as dump_err:
            psql = subprocess.Popen(
                [
                    _require_tool("psql"),
                    "--no-psqlrc",
                    "--quiet",
                    "--set=ON_ERROR_STOP=1",
                    "--no-password",
                    "--file=-",
                ],
                env={**os.environ, **self._pg_env()},
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=psql_err,
                preexec_fn=_die_with_parent,
            )
            dump: subprocess.Popen[bytes] | None = None
            assert psql.stdin is not None
            try:
                try:
                    psql.stdin.write(head)
                    dump = subprocess.Popen(
                        [_require_tool("pg_restore"), "--file=-", str(source)],
                        stdout=subprocess.PIPE,
                        stderr=dump_err,
                        preexec_fn=_die_with_parent,
                    )
                    assert dump.stdout is not None
                    shutil.copyfileobj(dump.stdout, psql.stdin, 1 << 20)
                    if dump.wait() == 0:
                        psql.stdin.write(tail)  # the COMMIT only after the whole script
                except BrokenPipeError:
                    pass  # psql stopped at an error: it says which below
                finally:
                    if dump is not None and dump.poll() is None:
                        dump.kill()
                        dump.wait()
                    with contextlib.suppress(BrokenPipeError):
                        psql.stdin.close()
                psql.wait()
            except BaseException:  # interrupted: nothing commits without the tail
                psql.kill()
                psql.wait()
                raise
            if psql.returncode != 0:
                psql_err.seek(0)
                lines = [ln for ln in psql_err.read().decode("utf-8", "replace").splitlines()]
                named = [ln for ln in lines if "ERROR:" in ln] or lines or ["no message"]
                if any("lock timeout" in ln for ln in named):
                    raise LockWaitTimeout(f"psql: {named[-1]}")
                raise ToolFailed(f"psql failed: {named[-1]}")
            if dump is None or dump.returncode != 0:
                dump_err.seek(0)
                err = dump_err.read().decode("utf-8", "replace").strip().splitlines()
                raise ToolFailed(f"pg_restore failed: {err[-1] if err else 'no message'}")

    @staticmethod
    def _public_schema_sql(conn: Connection) -> str:
        """SQL that gives a re-created schema ``public`` its present owner and grants."""
        owner = conn.execute(
            text(
                "SELECT quote_ident(pg_get_userbyid(nspowner)) FROM pg_namespace "
                "WHERE nspname = 'public'"
            )
        ).scalar()
        if owner is None:
            return ""
        grants = conn.execute(
            text(
                "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' "
                "ELSE quote_ident(pg_get_userbyid(a.grantee)) END, a.privilege_type, "
                "a.is_grantable FROM pg_namespace n, aclexplode(n.nspacl) a "
                "WHERE n.nspname = 'public'"
            )
        ).all()
        out = [f"ALTER SCHEMA public OWNER TO {owner};\n"]
        for grantee, privilege, grantable in grants:
            option = " WITH GRANT OPTION" if grantable else ""
            out.append(f"GRANT {privilege} ON SCHEMA public TO {grantee}{option};\n")
        return "".join(out)


class MySQL(Dialect):
    """MySQL/MariaDB: ``GET_LOCK``, ``lock_wait_timeout``, ``mysqldump --single-transaction``.

    Client tools read user, host, port and password from a 0600 option file passed as
    ``--defaults-extra-file``, removed right after.
    """

    name = "mysql"
    recovery = pitr.BinaryLog()
    extra = "mysql"
    transactional_ddl = False
    backup_suffix = ".sql"
    default_port = 3306
    sync_driver = "pymysql"
    # Learned from the first connection: the server offers no TLS (see create_engine).
    _offers_no_tls = False
    _where_sql = "SELECT DATABASE()"

    def connect_args(self) -> dict[str, object]:
        # A server that accepts the connection but never answers: the handshake is
        # bounded like the TCP connect (read/write timeouts), see create_engine.
        return {
            "connect_timeout": CONNECT_TIMEOUT_S,
            "read_timeout": CONNECT_TIMEOUT_S,
            "write_timeout": CONNECT_TIMEOUT_S,
            "init_command": f"SET SESSION lock_wait_timeout = {max(1, int(self.lock_timeout_s))}",
        }

    def create_engine(self, *, pooled: bool = False) -> Engine:
        engine = super().create_engine(pooled=pooled)
        answer_within = self.statement_timeout_s + 30

        # Once connected, a statement may take up to the statement timeout (the server
        # ends it there: max_statement_time): the client waits that long, not forever.
        @event.listens_for(engine, "connect")
        def _connected(dbapi_conn: Any, record: Any) -> None:
            if hasattr(dbapi_conn, "_read_timeout"):  # PyMySQL's own per-read timeout
                dbapi_conn._read_timeout = answer_within
                dbapi_conn._write_timeout = answer_within
            capabilities = getattr(dbapi_conn, "server_capabilities", None)
            if capabilities is not None and not capabilities & _CLIENT_SSL:
                self._offers_no_tls = True

        # PyMySQL prefers TLS when no TLS option is given: it builds a TLS context (the
        # system's CA certificates read anew, ~20 ms) for every connection, used only if
        # the server offers TLS. Once this server has said it offers none, the next
        # connections skip building it: they go without TLS as they would anyway.
        @event.listens_for(engine, "do_connect")
        def _connecting(dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> None:
            if self._offers_no_tls and not any(k.startswith("ssl") for k in cparams):
                cparams["ssl_disabled"] = True

        return engine

    @contextmanager
    def _option_file(self) -> Iterator[tuple[str, int]]:
        """``--defaults-extra-file`` for a client tool, and the descriptor it reads: a
        pipe holding the options, so that no file with the password exists, even for
        a moment, even after a kill."""
        u = self.url
        lines = ["[client]"]
        if u.username:
            lines.append(f"user={u.username}")
        if u.password:
            pw = str(u.password).replace("\\", "\\\\").replace('"', '\\"')
            lines.append(f'password="{pw}"')
        lines.append(f"host={u.host or '127.0.0.1'}")
        if u.port:
            lines.append(f"port={u.port}")
        read, write = os.pipe()
        try:
            os.write(write, ("\n".join(lines) + "\n").encode("utf-8"))
            os.close(write)
            write = -1
            yield f"--defaults-extra-file=/dev/fd/{read}", read
        finally:
            os.close(read)
            if write >= 0:
                os.close(write)

    @contextmanager
    def lock(self, engine: Engine, name: str) -> Iterator[None]:
        lock_name = f"slipway:{name}"[:64]
        with engine.connect() as conn:
            got = conn.execute(text("SELECT GET_LOCK(:n, 0)"), {"n": lock_name}).scalar()
            if got != 1:
                holder = conn.execute(text("SELECT IS_USED_LOCK(:n)"), {"n": lock_name}).scalar()
                raise LockHeld(
                    f"another release holds the lock on database {name} (connection id {holder})",
                    hint="wait for it to finish; the lock ends with its session",
                )
            try:
                yield
            finally:
                try:
                    conn.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": lock_name})
                except DBAPIError:
                    log.debug("RELEASE_LOCK skipped: connection lost")

    def set_timeouts(
        self, conn: Connection, lock_timeout_s: float, statement_timeout_s: float
    ) -> None:
        seconds = max(1, int(lock_timeout_s))
        conn.exec_driver_sql(f"SET SESSION lock_wait_timeout = {seconds}")
        conn.exec_driver_sql(f"SET SESSION innodb_lock_wait_timeout = {seconds}")
        if conn.dialect.name == "mysql" and getattr(conn.dialect, "is_mariadb", False):
            conn.exec_driver_sql(f"SET SESSION max_statement_time = {float(statement_timeout_s)}")

    def is_lock_timeout(self, err: BaseException) -> bool:
        orig = err.orig if isinstance(err, DBAPIError) else err
        args: tuple[object, ...] = getattr(orig, "args", ())
        return len(args) > 0 and args[0] == 1205

    def session_id(self, conn: Connection) -> str | None:
        return str(conn.exec_driver_sql("SELECT CONNECTION_ID()").scalar())

    def live_sessions(self, conn: Connection, ids: Sequence[str]) -> list[str]:
        wanted = {int(i) for i in ids if i.isdigit()}
        if not wanted:
            return []
        rows = conn.execute(
            text(
                "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = DATABASE() "
                "AND ID <> CONNECTION_ID()"
            )
        ).scalars()
        return [str(i) for i in rows if int(i) in wanted]

    def end_session_sql(self, session: str) -> str:
        return f"KILL {int(session)}"

    def terminate(self, pid: int) -> bool:
        engine = self._autocommit_engine()
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql(f"KILL {int(pid)}")
                return True
        except DBAPIError as err:
            log.warning("session %s cannot be ended: %s", pid, str(err.orig).strip())
            return False
        finally:
            engine.dispose()

    def size_bytes(self, conn: Connection) -> int:
        value = conn.execute(
            text(
                "SELECT COALESCE(SUM(data_length + index_length), 0) "
                "FROM information_schema.tables WHERE table_schema = DATABASE()"
            )
        ).scalar_one()
        return int(value)

    # AUTO_INCREMENT columns, and (MariaDB 10.3+) columns whose default takes the next
    # value of a sequence: nextval(`db`.`seq`). Each information_schema table is limited
    # to this database by a constant: otherwise the server opens every table of every
    # database to read its AUTO_INCREMENT, and waits behind DDL elsewhere.
    _COUNTED_COLUMNS = (
        "SELECT c.TABLE_NAME, c.COLUMN_NAME, c.EXTRA, c.COLUMN_DEFAULT, t.AUTO_INCREMENT "
        "FROM information_schema.COLUMNS c JOIN information_schema.TABLES t "
        "ON t.TABLE_NAME = c.TABLE_NAME "
        "WHERE c.TABLE_SCHEMA = DATABASE() AND t.TABLE_SCHEMA = DATABASE() "
        "AND t.TABLE_TYPE = 'BASE TABLE' "
        "AND (c.EXTRA LIKE '%auto_increment%' OR c.COLUMN_DEFAULT LIKE 'nextval(%') "
        "ORDER BY 1, 2"
    )
    _NEXTVAL = re.compile(r"nextval\((?:`((?:[^`]|``)+)`\.)?`((?:[^`]|``)+)`\)", re.IGNORECASE)

    def counters_behind(self, conn: Connection, *, unsure: bool = False) -> list[Counter]:
        if not getattr(conn.dialect, "is_mariadb", False):
            # MySQL 8 caches information_schema's AUTO_INCREMENT for a day by default
            with contextlib.suppress(DBAPIError):
                conn.exec_driver_sql("SET SESSION information_schema_stats_expiry = 0")
        q = conn.dialect.identifier_preparer.quote
        found = []
        for table, col, extra, default, auto in conn.execute(text(self._COUNTED_COLUMNS)):
            top = conn.execute(text(f"SELECT max({q(col)}) FROM {q(table)}")).scalar()
            if top is None:
                continue
            if "auto_increment" in (extra or "").lower():
                if auto is not None and int(auto) <= top:
                    found.append(Counter(table, col, "AUTO_INCREMENT", int(auto), int(top)))
                continue
            named = self._NEXTVAL.search(default or "")
            if named is None:
                continue
            seq = named.group(2).replace("``", "`")
            nxt, cache, step = conn.execute(
                text(f"SELECT next_not_cached_value, cache_size, increment FROM {q(seq)}")
            ).one()
            # Values the server has cached are handed out first and not shown: the next
            # one is known to be behind only when even the first not cached is.
            if int(nxt) <= top or (unsure and int(nxt) - int(cache) * int(step) <= top):
                found.append(Counter(table, col, seq, int(nxt), int(top)))
        return found

    def repair_counter(self, conn: Connection, counter: Counter) -> int | None:
        q = conn.dialect.identifier_preparer.quote
        top = conn.execute(
            text(f"SELECT max({q(counter.column)}) FROM {q(counter.table)}")
        ).scalar()
        if top is None:
            return None
        if counter.counter == "AUTO_INCREMENT":
            # the server keeps it at least one past the maximum; never lowered
            conn.exec_driver_sql(f"ALTER TABLE {q(counter.table)} AUTO_INCREMENT = {int(top) + 1}")
            return int(top) + 1
        # SETVAL never moves a sequence back, cached values included, and says NULL when
        # it did not move; its last value handed out may equal the maximum, so first ask
        # for one below it: NULL there means the sequence is ahead.
        seq = q(counter.counter)
        lowest = conn.execute(text(f"SELECT minimum_value, increment FROM {seq}")).one()
        below = int(top) - 1
        if (
            below >= int(lowest[0])
            and conn.execute(text(f"SELECT SETVAL({seq}, {below})")).scalar() is None
        ):
            return None
        conn.execute(text(f"SELECT SETVAL({seq}, {int(top)})"))
        return int(top) + int(lowest[1])

    def _dump_tool(self) -> str:
        return _require_tool("mariadb-dump", "mysqldump")

    def _client_tool(self) -> str:
        return _require_tool("mariadb", "mysql")

    def check_tools(self, conn: Connection, *, dumping: bool = False) -> str:
        dump = self._dump_tool()
        self._client_tool()
        if dumping:
            return f"{Path(self._client_tool()).name} found; {Path(dump).name} is dumping"
        version = _run([dump, "--version"]).strip()
        return version

    def backup(self, target: Path, lock_wait_s: float, jobs: int) -> None:
        self._dump(target, lock_wait_s, [])

    targeted_backups = True

    def backup_tables(
        self, folder: Path, tables: set[str], described: dict[str, Any], lock_wait_s: float
    ) -> list[str]:
        database = self.url.database or ""
        engine = self._autocommit_engine()
        try:
            with engine.connect() as conn:
                live = self._tables(conn, database)
        finally:
            engine.dispose()
        present = sorted(tables & set(live))
        ignore = [f"--ignore-table-data={database}.{t}" for t in live if t not in present]
        self._dump(folder / DUMP, lock_wait_s, ignore)
        targeted.write_start(folder, described, present)
        return present

    def _dump(self, target: Path, lock_wait_s: float, extra: list[str]) -> None:
        private_file(target)
        with self._option_file() as (opts, fd), self._dump_lock_watch(lock_wait_s) as ended:
            try:
                _run(
                    [
                        self._dump_tool(),
                        opts,
                        "--single-transaction",
                        "--routines",
                        "--triggers",
                        "--hex-blob",
                        "--no-tablespaces",
                        *extra,
                        f"--result-file={target}",
                        self.url.database or "",
                    ],
                    pass_fds=(fd,),
                )
            except ToolFailed as err:
                if ended:
                    raise ToolFailed(
                        f"the dump waited more than {lock_wait_s:g} s for a metadata lock "
                        f"({ended[0]}) and was stopped: another session holds the table"
                    ) from err
                raise

    # The statements of mysqldump / mariadb-dump that open a table.
    _DUMP_STATEMENTS = "(INFO LIKE '%SQL\\_NO\\_CACHE%' OR INFO LIKE 'show %')"

    @contextmanager
    def _dump_lock_watch(self, limit_s: float) -> Iterator[list[str]]:
        """The dump tool has no lock wait limit: while it runs, a session of slipway's
        own ends the dump's connection once one of its statements has waited for a
        metadata lock for ``limit_s`` (the application queues behind a waiting dump). The
        list yielded names what it waited for, once it was ended."""
        ended: list[str] = []
        done = threading.Event()
        engine = self._autocommit_engine()
        with engine.connect() as conn:
            first = conn.execute(
                text("SELECT COALESCE(MAX(ID), 0) FROM information_schema.PROCESSLIST")
            ).scalar()

        def watch() -> None:
            query = text(
                "SELECT ID, INFO FROM information_schema.PROCESSLIST WHERE ID > :first "
                "AND ID <> CONNECTION_ID() AND USER = :user AND DB = :db "
                "AND STATE LIKE 'Waiting for%lock%' AND TIME_MS >= :ms AND " + self._DUMP_STATEMENTS
            )
            args = {
                "first": first,
                "user": self.url.username or "",
                "db": self.url.database or "",
                "ms": limit_s * 1000,
            }
            try:
                with engine.connect() as conn:
                    while not done.wait(0.25):
                        for pid, info in conn.execute(query, args).all():
                            ended.append(str(info)[:120])
                            conn.exec_driver_sql(f"KILL {int(pid)}")
            except DBAPIError as err:  # the dump goes on unwatched; its own errors stand
                log.debug("dump lock watch stopped: %s", err)

        thread = threading.Thread(target=watch, name="slipway-dump-watch", daemon=True)
        thread.start()
        try:
            yield ended
        finally:
            done.set()
            thread.join(timeout=5)
            engine.dispose()

    def validate_backup(self, target: Path) -> str:
        with target.open("rb") as fh:
            fh.seek(max(0, target.stat().st_size - 512))
            tail = fh.read().decode("utf-8", "replace")
        if "-- Dump completed" not in tail:
            raise ToolFailed(f"backup {target} is truncated: no 'Dump completed' trailer")
        return "dump trailer present"

    def load_copy(self, source: Path, into: URL, *, schema_only: bool, rows_of: str) -> None:
        # mysqldump writes each table's rows as lines that begin "INSERT INTO `name`".
        keep = f"INSERT INTO `{rows_of}`".encode()
        with tempfile.TemporaryFile() as filtered, source.open("rb") as dump:
            for line in dump:
                if schema_only and line.startswith(b"INSERT INTO `") and not line.startswith(keep):
                    continue
                filtered.write(line)
            filtered.seek(0)
            with self._option_file() as (opts, fd):
                _run(
                    [self._client_tool(), opts, into.database or ""], stdin=filtered, pass_fds=(fd,)
                )

    def restore(self, source: Path, keep: Kept, waits: Iterable[float]) -> None:
        """Load the dump into a database of its own beside this one and carry the
        history into it; then one ``RENAME TABLE`` swaps every table at once, the old
        ones into a third database, dropped once the swap is seen done. A kill before
        the swap leaves the old tables in place, after it the restored ones. Views and
        triggers, which cannot cross databases, are created again around the swap. The
        swap waits for the application's metadata locks at most one lock timeout of
        ``waits`` per try; a try that gives up puts the views and triggers back."""
        database = self.url.database or ""
        engine = self._autocommit_engine()
        try:
            loaded, old = self._database_beside(engine)
            try:
                self._load(source, loaded)
                scratch = self._engine_on(loaded)
                try:
                    with scratch.connect() as conn, conn.begin():
                        keep.apply(conn)
                    with scratch.connect() as conn:
                        restored: list[tuple[str, str, str]] = []
                        self._take_views_and_triggers(conn, restored)
                finally:
                    scratch.dispose()
                target = self._engine_on(database)
                try:
                    self._swap_in_time(engine, target, (database, loaded, old), waits)
                    with target.connect() as conn:
                        self._create_views_and_triggers(conn, restored)
                finally:
                    target.dispose()
            finally:
                with engine.connect() as conn:
                    conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{loaded}`")
                    conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{old}`")
        finally:
            engine.dispose()

    def restore_tables(self, folder: Path, waits: Iterable[float]) -> str:
        """The targeted undo as one swap (see slipway.mytables): the dump is loaded into
        a database of its own beside this one; each other table gets its start shape
        back by one ALTER TABLE; one RENAME TABLE moves the tables at risk and those the
        release created out (into a third database, dropped) and the loaded ones in;
        the start's views, triggers and foreign keys are made again; then the schema is
        compared with the start's. The run history is not touched."""
        start, present = targeted.read_start(folder)
        database = self.url.database or ""
        engine = self._autocommit_engine()
        try:
            loaded, old = self._database_beside(engine)
            try:
                self._load(folder / DUMP, loaded)
                scratch = self._engine_on(loaded)
                try:
                    with scratch.connect() as conn:
                        creates = {
                            t: str(
                                conn.exec_driver_sql(f"SHOW CREATE TABLE {mytables.q(t)}").one()[1]
                            )
                            for t in self._tables(conn, loaded)
                        }
                        restored: list[tuple[str, str, str]] = []
                        self._take_views_and_triggers(conn, restored)
                finally:
                    scratch.dispose()
                target = self._engine_on(database)
                try:
                    said = self._undo_in_time(
                        target,
                        (database, loaded, old),
                        creates,
                        set(present),
                        restored,
                        waits,
                    )
                    with target.connect() as conn:
                        self._foreign_keys_back(conn, creates)
                        after = schema.describe(conn)
                finally:
                    target.dispose()
            finally:
                with engine.connect() as conn:
                    conn.exec_driver_sql("SET SESSION foreign_key_checks = 0")
                    conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{loaded}`")
                    conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{old}`")
        except mytables.Unrestorable as err:
            raise ToolFailed(str(err)) from err
        except DBAPIError as err:
            if self.is_lock_timeout(err):
                raise LockWaitTimeout(f"targeted restore: {first_line(err)}") from err
            raise ToolFailed(f"targeted restore: {first_line(err)}") from err
        finally:
            engine.dispose()
        if schema.fingerprint_of(after) != schema.fingerprint_of(start):
            raise ToolFailed(
                "the targeted restore did not give the schema the run found: "
                + "; ".join(schema.diff(start, after)[:3])
            )
        return said

    def _undo_in_time(
        self,
        target: Engine,
        names: tuple[str, str, str],
        creates: dict[str, str],
        at_risk: set[str],
        restored: list[tuple[str, str, str]],
        waits: Iterable[float],
    ) -> str:
        """The swap: with the views dropped (DROP VIEW cannot run under LOCK TABLES),
        every table of the database and the loaded tables at risk are locked for
        writing, waiting at most one timeout of ``waits`` per try (a try that gives up
        puts the views back: nothing changed); under the locks the triggers are
        dropped, each other table gets its start shape, the tables at risk and those
        the release created move out and the loaded ones in, and the start's triggers
        are made; once unlocked, the start's views."""
        database, loaded, old = names
        q = mytables.q
        start_tables = set(creates)
        kept = {t for t in start_tables - at_risk if not t.startswith("slipway_")}
        incoming = sorted(at_risk & start_tables)
        last: LockWaitTimeout | None = None
        for timeout in waits:
            wait = f"SET SESSION lock_wait_timeout = {max(1, math.ceil(timeout))}"
            with target.connect() as conn:
                conn.exec_driver_sql(wait)
                live = set(self._tables(conn, database))
                gone = sorted(kept - live)
                if gone:
                    raise mytables.Unrestorable(
                        f"table {gone[0]} is gone and its rows are not in the targeted backup"
                    )
                outgoing = sorted(
                    (live & at_risk)
                    | {t for t in live - start_tables if not t.startswith("slipway_")}
                )
                views: list[tuple[str, str, str]] = []
                self._take_views_and_triggers(conn, views, kinds=("view",))
                conn.exec_driver_sql(f"CREATE DATABASE IF NOT EXISTS `{old}`")
                locks = [f"`{database}`.{q(t)} WRITE" for t in sorted(live)]
                locks += [f"`{loaded}`.{q(t)} WRITE" for t in incoming]
                try:
                    conn.exec_driver_sql("LOCK TABLES " + ", ".join(locks))
                except DBAPIError as err:
                    if not self.is_lock_timeout(err):
                        raise
                    own = f"SET SESSION lock_wait_timeout = {max(1, int(self.lock_timeout_s))}"
                    conn.exec_driver_sql(own)
                    self._create_views_and_triggers(conn, views)
                    last = LockWaitTimeout(
                        f"the targeted restore waited {timeout:g} s for a metadata lock: "
                        f"{first_line(err)}"
                    )
                    log.warning("restore: %s", last)
                    continue
                try:
                    self._take_views_and_triggers(conn, [], kinds=("trigger",))
                    for table in sorted(kept):
                        now = conn.exec_driver_sql(f"SHOW CREATE TABLE {q(table)}").one()[1]
                        alter = mytables.alter_back(
                            table, mytables.shape(creates[table]), mytables.shape(str(now))
                        )
                        if alter:
                            conn.exec_driver_sql(alter)
                    # Each table at risk out and its start in, one after the other: a
                    # kill between leaves one table missing, which the restore run
                    # again brings back from the dump.
                    for table in outgoing:
                        conn.exec_driver_sql(
                            f"ALTER TABLE `{database}`.{q(table)} RENAME TO `{old}`.{q(table)}"
                        )
                        if table in incoming:
                            conn.exec_driver_sql(
                                f"ALTER TABLE `{loaded}`.{q(table)} "
                                f"RENAME TO `{database}`.{q(table)}"
                            )
                    for table in incoming:
                        if table not in outgoing:
                            conn.exec_driver_sql(
                                f"ALTER TABLE `{loaded}`.{q(table)} "
                                f"RENAME TO `{database}`.{q(table)}"
                            )
                    self._create_views_and_triggers(
                        conn, [r for r in restored if r[0] == "trigger"]
                    )
                finally:
                    conn.exec_driver_sql("UNLOCK TABLES")
                self._create_views_and_triggers(conn, [r for r in restored if r[0] == "view"])
            return (
                f"restored {len(incoming)} table(s) with their rows ({', '.join(incoming)}); "
                f"{len(kept)} other table(s) kept their rows"
            )
        raise last or LockWaitTimeout("no try was allowed")

    @staticmethod
    def _foreign_keys_back(conn: Connection, creates: dict[str, str]) -> None:
        """Every table's foreign keys as at the start: those the release added or that
        point elsewhere since the swap dropped, the start's added again once no row
        breaks them (added without the server's check, which would copy the table)."""
        for table in sorted(creates):
            if table.startswith("slipway_"):
                continue
            start = mytables.shape(creates[table]).foreign
            now = str(conn.exec_driver_sql(f"SHOW CREATE TABLE {mytables.q(table)}").one()[1])
            live = mytables.shape(now).foreign
            drops = [
                f"DROP FOREIGN KEY {mytables.q(n)}" for n, ln in live.items() if start.get(n) != ln
            ]
            adds = [(n, ln) for n, ln in start.items() if live.get(n) != ln]
            if drops:
                conn.exec_driver_sql(f"ALTER TABLE {mytables.q(table)} " + ", ".join(drops))
            for name, line in adds:
                fk = mytables.foreign_key(name, line)
                if conn.exec_driver_sql(mytables.orphans_sql(table, fk)).first() is not None:
                    raise mytables.Unrestorable(
                        f"foreign key {table}.{name}: rows of {table} point to rows of "
                        f"{fk.parent} that the restored {fk.parent} does not have"
                    )
            if adds:
                conn.exec_driver_sql("SET SESSION foreign_key_checks = 0")
                try:
                    conn.exec_driver_sql(
                        f"ALTER TABLE {mytables.q(table)} "
                        + ", ".join(f"ADD {ln}" for _, ln in adds)
                    )
                finally:
                    conn.exec_driver_sql("SET SESSION foreign_key_checks = 1")

    def _database_beside(self, engine: Engine) -> tuple[str, str]:
        """Create the database a restore loads into, beside this one, once what a killed
        restore left there is dropped: its name, and the name of the one the old tables
        move to."""
        database = self.url.database or ""
        stem = f"{database[:40]}_swr_"
        token = secrets.token_hex(4)
        loaded, old = stem + token, stem + "old_" + token
        with engine.connect() as conn:
            self._sweep(conn, stem)
            try:
                conn.exec_driver_sql(f"CREATE DATABASE `{loaded}`")
            except DBAPIError as err:
                raise ToolFailed(
                    f"the restore needs a database of its own beside {database} and "
                    f"cannot create {loaded}: {err.orig}; grant CREATE and DROP on "
                    f"`{database}\\_swr\\_%`.* to the user"
                ) from err
        return loaded, old

    def _load(self, source: Path, database: str) -> None:
        with self._option_file() as (opts, fd), source.open("rb") as dump:
            _run([self._client_tool(), opts, database], stdin=dump, pass_fds=(fd,))

    def _swap_in_time(
        self, engine: Engine, target: Engine, names: tuple[str, str, str], waits: Iterable[float]
    ) -> None:
        database, loaded, old = names
        last: LockWaitTimeout | None = None
        for timeout in waits:
            wait = f"SET SESSION lock_wait_timeout = {max(1, math.ceil(timeout))}"
            with target.connect() as tconn, engine.connect() as conn:
                tconn.exec_driver_sql(wait)
                conn.exec_driver_sql(wait)
                taken: list[tuple[str, str, str]] = []
                try:
                    self._take_views_and_triggers(tconn, taken)
                    self._swap(conn, database, loaded, old)
                    return
                except DBAPIError as err:
                    if not self.is_lock_timeout(err):
                        raise
                    # As it was: the target's views and triggers back (waiting as long as
                    # slipway's own statements may), the empty database for the old gone.
                    own = f"SET SESSION lock_wait_timeout = {max(1, int(self.lock_timeout_s))}"
                    tconn.exec_driver_sql(own)
                    self._create_views_and_triggers(tconn, taken)
                    conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{old}`")
                    last = LockWaitTimeout(
                        f"the swap waited {timeout:g} s for a metadata lock: "
                        f"{str(err.orig).strip().splitlines()[0] if err.orig else err}"
                    )
                    log.warning("restore: %s", last)
        raise last or LockWaitTimeout("no try was allowed")

    def _engine_on(self, database: str) -> Engine:
        return create_engine(
            self.sync_url.set(database=database),
            poolclass=pool.NullPool,
            connect_args=self.connect_args(),
            isolation_level="AUTOCOMMIT",
        )

    @staticmethod
    def _take_views_and_triggers(
        conn: Connection,
        taken: list[tuple[str, str, str]],
        kinds: tuple[str, ...] = ("view", "trigger"),
    ) -> None:
        """The views and triggers (``kinds``) of the connection's database as (kind,
        sql_mode, CREATE statement), appended to ``taken`` as each is dropped from it:
        ``RENAME TABLE`` moves neither a view nor a table with triggers to another
        database."""
        views = list(
            conn.execute(
                text(
                    "SELECT table_name FROM information_schema.views "
                    "WHERE table_schema = DATABASE() ORDER BY table_name"
                )
            ).scalars()
        )
        triggers = list(
            conn.execute(
                text(
                    "SELECT trigger_name FROM information_schema.triggers "
                    "WHERE trigger_schema = DATABASE() ORDER BY event_object_table, "
                    "action_timing, event_manipulation, action_order"
                )
            ).scalars()
        )
        for view in views if "view" in kinds else []:
            row = conn.exec_driver_sql(f"SHOW CREATE VIEW `{view}`").one()
            conn.exec_driver_sql(f"DROP VIEW `{view}`")
            taken.append(("view", "", str(row[1])))
        for trigger in triggers if "trigger" in kinds else []:
            row = conn.exec_driver_sql(f"SHOW CREATE TRIGGER `{trigger}`").one()
            conn.exec_driver_sql(f"DROP TRIGGER `{trigger}`")
            taken.append(("trigger", str(row[1]), str(row[2])))

    @staticmethod
    def _create_views_and_triggers(conn: Connection, taken: list[tuple[str, str, str]]) -> None:
        """Create what :meth:`_take_views_and_triggers` took: views first, each once the
        views it reads exist, then triggers in their order, each under its sql_mode."""
        views = [sql for kind, _, sql in taken if kind == "view"]
        while views:
            failed: list[str] = []
            for sql in views:
                try:
                    conn.exec_driver_sql(sql)
                except DBAPIError:
                    failed.append(sql)
            if len(failed) == len(views):  # no progress: fail with the first one's error
                conn.exec_driver_sql(failed[0])
            views = failed
        for kind, mode, sql in taken:
            if kind == "trigger":
                conn.execute(text("SET SESSION sql_mode = :m"), {"m": mode})
                conn.exec_driver_sql(sql)

    @staticmethod
    def _tables(conn: Connection, database: str) -> list[str]:
        """Base tables only: views and triggers are taken and created apart."""
        return list(
            conn.execute(
                text(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = :db AND table_type = 'BASE TABLE' "
                    "ORDER BY table_name"
                ),
                {"db": database},
            ).scalars()
        )

    def _swap(self, conn: Connection, database: str, loaded: str, old: str) -> None:
        conn.exec_driver_sql(f"CREATE DATABASE `{old}`")
        moves = [f"`{database}`.`{t}` TO `{old}`.`{t}`" for t in self._tables(conn, database)]
        moves += [f"`{loaded}`.`{t}` TO `{database}`.`{t}`" for t in self._tables(conn, loaded)]
        if moves:
            conn.exec_driver_sql("RENAME TABLE " + ", ".join(moves))
        if self._tables(conn, loaded):
            raise ToolFailed(f"the swap left tables in {loaded}; {database} is unchanged")

    def _database_names(self, conn: Connection) -> list[str]:
        return [str(name) for (name,) in conn.execute(text("SHOW DATABASES")).all()]

    @staticmethod
    def _sweep(conn: Connection, stem: str) -> None:
        """Drop what a killed restore left beside the database (under the release lock,
        so no restore is running): a half-loaded copy, or old tables already swapped out."""
        like = stem.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%") + "%"
        for (name,) in conn.execute(text("SHOW DATABASES LIKE :p"), {"p": like}).all():
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")


class SQLite(Dialect):
    """SQLite: ``flock`` beside the file, the online backup API, ``integrity_check``."""

    name = "sqlite"
    transactional_ddl = True
    backup_suffix = ".sqlite3"
    backup_by_tool = False  # the sqlite3 module's backup, in this process
    sync_driver = "pysqlite"
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


def dialect_for(
    url: URL, *, statement_timeout_s: float = 900.0, lock_timeout_s: float = 15.0
) -> Dialect:
    backend = url.get_backend_name()
    timeouts = {"statement_timeout_s": statement_timeout_s, "lock_timeout_s": lock_timeout_s}
    if backend == "postgresql":
        return PostgreSQL(url, **timeouts)
    if backend in ("mysql", "mariadb"):
        return MySQL(url, **timeouts)
    if backend == "sqlite":
        return SQLite(url, **timeouts)
    raise BadInput(f"unsupported database '{backend}'")
