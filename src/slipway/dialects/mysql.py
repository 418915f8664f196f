"""MySQL and MariaDB: GET_LOCK, lock_wait_timeout, mysqldump/mariadb-dump, atomic RENAME TABLE."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import secrets
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, pool, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import TypeEngine

from slipway import mytables, pitr, schema, targeted
from slipway.artifacts import private_file
from slipway.dialects.base import (
    CONNECT_TIMEOUT_S,
    Counter,
    Dialect,
    LockWaitTimeout,
    ToolFailed,
    driver_errors,
    require_tool,
    run_tool,
)
from slipway.errors import LockHeld, first_line
from slipway.ledger import Kept
from slipway.targeted import DUMP

log = logging.getLogger(__name__)

_CLIENT_SSL = 2048  # the MySQL protocol's capability flag: the server offers TLS


class MySQL(Dialect):
    """MySQL/MariaDB: ``GET_LOCK``, ``lock_wait_timeout``, ``mysqldump --single-transaction``.

    Client tools read user, host, port and password from a 0600 option file passed as
    ``--defaults-extra-file``, removed right after.
    """

    name = "mysql"
    names = ("mysql", "mariadb")

    @classmethod
    def long_text(cls) -> TypeEngine[Any]:
        # TEXT holds 64 KiB here; the MySQL types are loaded only where they are used.
        from sqlalchemy.dialects.mysql import LONGTEXT

        return LONGTEXT()

    triggers_sql = (
        "SELECT CONCAT(event_object_table, '.', trigger_name) "
        "FROM information_schema.triggers WHERE trigger_schema = DATABASE()"
    )
    catalog_sql = """
SELECT 'c', table_name, column_name, column_type, is_nullable, extra, column_default
FROM information_schema.columns WHERE table_schema = DATABASE()
UNION ALL
SELECT 'i', table_name, index_name, column_name, CAST(seq_in_index AS CHAR),
       CAST(non_unique AS CHAR), ''
FROM information_schema.statistics WHERE table_schema = DATABASE()
UNION ALL
SELECT 'k', table_name, constraint_name, column_name, referenced_table_name,
       referenced_column_name, CAST(ordinal_position AS CHAR)
FROM information_schema.key_column_usage WHERE table_schema = DATABASE()
UNION ALL
SELECT 't', event_object_table, trigger_name, action_timing, event_manipulation, '',
       action_statement
FROM information_schema.triggers WHERE trigger_schema = DATABASE()
UNION ALL
SELECT 'v', table_name, '', '', '', '', view_definition
FROM information_schema.views WHERE table_schema = DATABASE()
"""
    recovery = pitr.BinaryLog()
    extra = "mysql"
    transactional_ddl = False
    backup_suffix = ".sql"
    default_port = 3306
    sync_driver = "pymysql"
    async_driver = "aiomysql"

    def server_version(self, conn: Connection) -> tuple[str, tuple[int, ...]]:
        flavour, version = super().server_version(conn)
        return ("mariadb" if getattr(conn.dialect, "is_mariadb", False) else flavour), version

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

    def timeout_statements(
        self, lock_timeout_s: float, statement_timeout_s: float, server: tuple[str, tuple[int, ...]]
    ) -> list[str]:
        seconds = max(1, int(lock_timeout_s))
        out = [
            f"SET SESSION lock_wait_timeout = {seconds}",
            f"SET SESSION innodb_lock_wait_timeout = {seconds}",
        ]
        if server[0] == "mariadb":
            out.append(f"SET SESSION max_statement_time = {float(statement_timeout_s)}")
        return out

    _session_sql = "SELECT CONNECTION_ID()"

    def driver_server(self, dbapi_conn: Any) -> tuple[str, tuple[int, ...]]:
        version = str(self._driver_answer(dbapi_conn, "SELECT VERSION()") or "")
        numbers = tuple(int(p) for p in re.findall(r"\d+", version.partition("-")[0])[:3])
        return ("mariadb" if "mariadb" in version.lower() else self.name), numbers

    def is_lock_timeout(self, err: BaseException) -> bool:
        for e in driver_errors(err):
            args: tuple[object, ...] = getattr(e, "args", ())
            if len(args) > 0 and args[0] == 1205:
                return True
        return False

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
        return require_tool("mariadb-dump", "mysqldump")

    def _client_tool(self) -> str:
        return require_tool("mariadb", "mysql")

    def check_tools(self, conn: Connection, *, dumping: bool = False) -> str:
        dump = self._dump_tool()
        self._client_tool()
        if dumping:
            return f"{Path(self._client_tool()).name} found; {Path(dump).name} is dumping"
        version = run_tool([dump, "--version"]).strip()
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
                run_tool(
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
                run_tool(
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
            run_tool([self._client_tool(), opts, database], stdin=dump, pass_fds=(fd,))

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
