"""PostgreSQL: advisory locks, lock_timeout, pg_dump and pg_restore."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import URL
from sqlalchemy.engine.reflection import Inspector
from sqlalchemy.exc import DBAPIError

from slipway import pgtables, pitr, targeted
from slipway.artifacts import private_file
from slipway.dialects.base import (
    CONNECT_TIMEOUT_S,
    Counter,
    Dialect,
    LockWaitTimeout,
    ToolFailed,
    die_with_parent,
    driver_errors,
    lock_key,
    require_tool,
    run_tool,
)
from slipway.errors import LockHeld, Refused, first_line
from slipway.ledger import Kept
from slipway.targeted import DUMP

log = logging.getLogger(__name__)


class PostgreSQL(Dialect):
    """PostgreSQL: ``pg_advisory_lock``, ``lock_timeout``, ``pg_dump -Fc``.

    Client tools get host, port, user, database and password through PG* variables.
    """

    name = "postgresql"
    names = ("postgresql",)
    aliases = ("postgres",)
    squawk_lints = True
    triggers_sql = (
        "SELECT c.relname || '.' || t.tgname FROM pg_trigger t "
        "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE NOT t.tgisinternal AND n.nspname = current_schema()"
    )
    catalog_sql = """
SELECT 'c', c.relname, c.relkind::text, a.attname, format_type(a.atttypid, a.atttypmod),
       a.attnotnull::text || a.attidentity::text || a.attgenerated::text,
       pg_get_expr(d.adbin, d.adrelid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
UNION ALL
SELECT 'i', c.relname, '', '', '', '', pg_get_indexdef(i.indexrelid)
FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema()
UNION ALL
SELECT 'k', c.relname, k.conname, '', '', '', pg_get_constraintdef(k.oid)
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema()
UNION ALL
SELECT 't', c.relname, t.tgname, '', '', '', pg_get_triggerdef(t.oid)
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT t.tgisinternal AND n.nspname = current_schema()
UNION ALL
SELECT 'e', n.nspname || '.' || t.typname, e.enumlabel, '', '', '', e.enumsortorder::text
FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid
JOIN pg_namespace n ON n.oid = t.typnamespace
"""

    @classmethod
    def schema_extras(cls, insp: Inspector) -> dict[str, Any]:
        return {
            "enums": sorted(
                [e["name"], list(e["labels"])]
                for e in insp.get_enums(schema="*")  # type: ignore[attr-defined]
            ),
            "sequences": sorted(insp.get_sequence_names()),
        }

    dumps_alone = True  # pg_dump alone
    recovery = pitr.WalArchive()
    extra = "postgresql"
    transactional_ddl = True
    backup_suffix = ".dump"
    default_port = 5432
    sync_driver = "psycopg"
    async_driver = "asyncpg"

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

    def timeout_statements(
        self, lock_timeout_s: float, statement_timeout_s: float, server: tuple[str, tuple[int, ...]]
    ) -> list[str]:
        # Session-wide: a revision owns its transactions (autocommit_block commits and
        # begins anew), and every one of them must stay bounded.
        out = [
            f"SET lock_timeout = '{int(lock_timeout_s * 1000)}ms'",
            f"SET statement_timeout = '{int(statement_timeout_s * 1000)}ms'",
            # Named like slipway's own sessions, env.py's too: who blocks them can be found.
            "SET application_name = 'slipway'",
        ]
        if (server[1] or (0,)) >= (14,):
            # A revision's statement stops within a second once slipway is gone (killed),
            # and its locks with it, instead of running on alone.
            out.append("SET client_connection_check_interval = '1s'")
        return out

    _session_sql = "SELECT pg_backend_pid()"

    def driver_server(self, dbapi_conn: Any) -> tuple[str, tuple[int, ...]]:
        number = int(self._driver_answer(dbapi_conn, "SHOW server_version_num") or 0)
        return self.name, (number // 10000, number % 10000)

    def is_lock_timeout(self, err: BaseException) -> bool:
        return any(getattr(e, "sqlstate", None) == "55P03" for e in driver_errors(err))

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
        pg_dump = require_tool("pg_dump")
        require_tool("pg_restore")
        require_tool("psql")
        if dumping:
            return "pg_restore and psql found; pg_dump is dumping"
        out = run_tool([pg_dump, "--version"])
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
        run_tool(
            [
                require_tool("pg_dump"),
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
                pg_restore=require_tool("pg_restore"),
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
            run_tool(
                [
                    require_tool("pg_dump"),
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
        toc = run_tool([require_tool("pg_restore"), "--list", str(target)])
        entries = [ln for ln in toc.splitlines() if ln and not ln.startswith(";")]
        return f"pg_restore --list: {len(entries)} entries"

    def load_copy(self, source: Path, into: URL, *, schema_only: bool, rows_of: str) -> None:
        env = {**self._pg_env(), "PGDATABASE": into.database or ""}
        # The scratch database belongs to whoever connects: ownership and grants of the
        # original do not matter for a rehearsal, and the roles may not exist.
        base = [require_tool("pg_restore"), "--no-owner", "--no-privileges", "--no-password"]
        base.append(f"--dbname={into.database}")
        if not schema_only:
            run_tool([*base, "--exit-on-error", str(source)], env=env)
            return
        run_tool([*base, "--exit-on-error", "--schema-only", str(source)], env=env)
        run_tool([*base, "--data-only", f"--table={rows_of}", str(source)], env=env)

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
        toc = run_tool([require_tool("pg_restore"), "--list", str(source)])
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
                    require_tool("psql"),
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
                preexec_fn=die_with_parent,
            )
            dump: subprocess.Popen[bytes] | None = None
            assert psql.stdin is not None
            try:
                try:
                    psql.stdin.write(head)
                    dump = subprocess.Popen(
                        [require_tool("pg_restore"), "--file=-", str(source)],
                        stdout=subprocess.PIPE,
                        stderr=dump_err,
                        preexec_fn=die_with_parent,
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
