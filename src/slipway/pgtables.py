"""PostgreSQL's targeted backup and its undo.

The backup is one ``pg_dump -Fc`` of the schema of everything, the rows of the tables
the release puts at risk and of the version table (every other table's rows left out
with ``--exclude-table-data``), and ``start.json``: the schema as the run found it.

The undo runs in one transaction, under the lock ladder, and commits only when the
schema is the one the run found, table for table:

1. views are dropped (they come back from the dump); the tables at risk and the tables
   the release created are dropped;
2. on every other table, what the release added is dropped (columns, indexes,
   constraints, triggers) and defaults and nullability are set back; a column or table
   that is gone, or whose type changed, cannot be undone this way and fails the undo;
3. the dump brings back the tables at risk with their rows, sequences, constraints,
   indexes, triggers and grants, the views, and what step 2 dropped from the others
   (a foreign key into a restored table is checked against its rows);
4. the schema is read again and compared with ``start.json``; any difference rolls
   the whole transaction back and is named.

The other tables' rows are never rewritten: the application's writes to them during
the release survive the undo.
"""

from __future__ import annotations

import logging
import re
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text

from slipway import schema
from slipway.errors import first_line
from slipway.targeted import DUMP, read_start

log = logging.getLogger(__name__)


# TOC entry kinds, longest first: "FK CONSTRAINT" before "CONSTRAINT".
_KINDS = sorted(
    [
        "TABLE",
        "TABLE DATA",
        "TABLE ATTACH",
        "INDEX ATTACH",
        "SEQUENCE",
        "SEQUENCE OWNED BY",
        "SEQUENCE SET",
        "DEFAULT",
        "CONSTRAINT",
        "FK CONSTRAINT",
        "INDEX",
        "TRIGGER",
        "POLICY",
        "RULE",
        "VIEW",
        "MATERIALIZED VIEW",
        "MATERIALIZED VIEW DATA",
        "TYPE",
        "ACL",
        "COMMENT",
        "ROW SECURITY",
    ],
    key=len,
    reverse=True,
)


@dataclass(frozen=True)
class Entry:
    line: str
    kind: str
    schema: str
    tag: str

    @property
    def table(self) -> str:
        """The table an entry of a table's part belongs to (its tag's first word)."""
        return self.tag.split(" ", 1)[0]

    @property
    def name(self) -> str:
        """The object's own name (a constraint's, a trigger's: the tag's last word)."""
        return self.tag.rsplit(" ", 1)[-1]


def parse_toc(listing: str) -> list[Entry]:
    """``pg_restore --list``'s entries: ``ID; OID OID KIND SCHEMA TAG OWNER``."""
    out: list[Entry] = []
    for line in listing.splitlines():
        m = re.match(r"^\d+; \d+ \d+ (.*)$", line)
        if not m:
            continue
        rest = m.group(1)
        kind = next((k for k in _KINDS if rest.startswith(k + " ")), None)
        if kind is None:
            continue
        words = rest[len(kind) + 1 :].split(" ")
        if len(words) < 3:
            continue
        out.append(Entry(line, kind, words[0], " ".join(words[1:-1])))
    return out


# The backup ------------------------------------------------------------------------


def exclusions(conn: Connection, keep: set[str]) -> list[str]:
    """``--exclude-table-data`` patterns: every table but those of ``keep`` in the
    current schema and their partitions (quoted: a pattern's wildcards do not apply
    inside quotes)."""
    rows = conn.execute(
        text(
            "SELECT n.nspname = current_schema(), "
            "coalesce((SELECT r.relname FROM pg_class r "
            "WHERE r.oid = pg_partition_root(c.oid)), c.relname), "
            "'\"' || replace(n.nspname, '\"', '\"\"') || '\".\"' "
            "|| replace(c.relname, '\"', '\"\"') || '\"' "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT LIKE 'pg\\_%' "
            "AND n.nspname <> 'information_schema'"
        )
    ).all()
    return [f"--exclude-table-data={q}" for here, name, q in rows if not (here and name in keep)]


def live_tables(conn: Connection) -> set[str]:
    return set(
        conn.execute(
            text(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema()"
            )
        ).scalars()
    )


# The undo ---------------------------------------------------------------------------


class UndoFailed(Exception):
    """The targeted undo cannot give the schema the run found: nothing was changed."""


@dataclass
class _Live:
    tables: set[str]
    views: dict[str, str]  # name -> 'v' | 'm'
    sequences: set[str]
    enums: set[str]
    indexes: dict[str, str]  # name -> table, indexes that back no constraint
    constraints: set[tuple[str, str]]  # (table, name)
    triggers: set[tuple[str, str]]
    columns: dict[str, dict[str, tuple[bool, str | None]]]  # table -> col -> (null, default)


def _live(conn: Connection) -> _Live:
    def rows(sql: str) -> list[Any]:
        return list(conn.execute(text(sql)).all())

    here = "n.nspname = current_schema()"
    rel = f"FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {here}"
    columns: dict[str, dict[str, tuple[bool, str | None]]] = {}
    for table, column, notnull, default in rows(
        "SELECT c.relname, a.attname, a.attnotnull, pg_get_expr(d.adbin, d.adrelid) "
        "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
        f"WHERE {here} AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped"
    ):
        columns.setdefault(table, {})[column] = (not notnull, default)
    return _Live(
        tables={r[0] for r in rows(f"SELECT c.relname {rel} AND c.relkind IN ('r', 'p')")},
        views={
            r[0]: r[1]
            for r in rows(f"SELECT c.relname, c.relkind {rel} AND c.relkind IN ('v', 'm')")
        },
        sequences={r[0] for r in rows(f"SELECT c.relname {rel} AND c.relkind = 'S'")},
        enums={
            r[0]
            for r in rows(
                "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
                f"WHERE {here} AND t.typtype = 'e'"
            )
        },
        indexes={
            r[0]: r[1]
            for r in rows(
                "SELECT i.relname, c.relname FROM pg_index x "
                "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid "
                f"JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {here} AND NOT EXISTS "
                "(SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid "
                "AND k.contype IN ('p', 'u', 'x'))"
            )
        },
        constraints={
            (r[0], r[1])
            for r in rows(
                "SELECT c.relname, k.conname FROM pg_constraint k "
                "JOIN pg_class c ON c.oid = k.conrelid "
                f"JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {here} AND k.contype <> 'n'"
            )
        },
        triggers={
            (r[0], r[1])
            for r in rows(
                "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                f"JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {here} AND NOT t.tgisinternal"
            )
        },
        columns=columns,
    )


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _start_columns(start: dict[str, Any], table: str) -> dict[str, tuple[str, bool, str]]:
    return {
        c[0]: (c[1], bool(c[2]), c[3]) for c in start["tables"].get(table, {}).get("columns", [])
    }


def undo(
    engine: Engine,
    folder: Path,
    waits: Iterable[float],
    *,
    is_lock_timeout: Any,
    pg_restore: str,
) -> str:
    """Put the tables of the targeted backup in ``folder`` back and the schema as it
    was (module docstring), in one transaction; what was done. slipway's own tables
    are never touched. Each try waits at most the next of ``waits`` for a lock; a lock
    timeout on the last raises it."""
    start, present = read_start(folder)
    dump = folder / DUMP
    toc = subprocess.run(
        [pg_restore, "--list", str(dump)], check=True, capture_output=True, text=True
    ).stdout
    last: BaseException | None = None
    for timeout in waits:
        try:
            with engine.connect() as conn, conn.begin():
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{max(1, int(timeout * 1000))}ms'")
                return _undo(conn, start, set(present), toc, dump, pg_restore)
        except UndoFailed:
            raise
        except Exception as err:
            if not is_lock_timeout(err):
                raise
            last = err
            log.warning("targeted restore: %s", first_line(err))
    raise last or RuntimeError("no try was allowed")


def _undo(
    conn: Connection,
    start: dict[str, Any],
    present: set[str],
    toc: str,
    dump: Path,
    pg_restore: str,
) -> str:
    here = conn.execute(text("SELECT current_schema()")).scalar()
    search_path = conn.exec_driver_sql("SHOW search_path").scalar()
    lock_timeout = conn.exec_driver_sql("SHOW lock_timeout").scalar()
    entries = [e for e in parse_toc(toc) if e.schema == here]
    start_tables = {e.tag for e in entries if e.kind == "TABLE"}
    # The tables whose rows the dump holds, and those recorded at risk (a partitioned
    # table holds no rows itself: its partitions do).
    with_rows = {e.tag for e in entries if e.kind == "TABLE DATA"} | (present & start_tables)
    live = _live(conn)
    mine = {t for t in live.tables | start_tables if t.startswith("slipway_")}
    kept = (start_tables - with_rows) - mine
    gone = sorted(kept - live.tables)
    if gone:
        raise UndoFailed(f"table {gone[0]} is gone and its rows are not in the targeted backup")
    sql: list[str] = []
    # 1. views, then the tables at risk and those the release created
    for name, kind in sorted(live.views.items()):
        word = "MATERIALIZED VIEW" if kind == "m" else "VIEW"
        sql.append(f"DROP {word} IF EXISTS {_q(name)} CASCADE")
    dropped = sorted((live.tables & with_rows) | (live.tables - start_tables - mine))
    if dropped:
        sql.append("DROP TABLE IF EXISTS " + ", ".join(map(_q, dropped)) + " CASCADE")
    # 2. what the release added to the other tables
    start_constraints = {
        (e.table, e.name) for e in entries if e.kind in ("CONSTRAINT", "FK CONSTRAINT")
    }
    start_triggers = {(e.table, e.name) for e in entries if e.kind == "TRIGGER"}
    start_indexes = {e.tag for e in entries if e.kind == "INDEX"}
    for table in sorted(kept):
        was, has = _start_columns(start, table), live.columns.get(table, {})
        missing = sorted(set(was) - set(has))
        if missing:
            raise UndoFailed(
                f"column {table}.{missing[0]} is gone and its rows are not in the targeted backup"
            )
        for t, name in sorted(live.constraints - start_constraints):
            if t == table:
                sql.append(f"ALTER TABLE {_q(table)} DROP CONSTRAINT IF EXISTS {_q(name)} CASCADE")
        for t, name in sorted(live.triggers - start_triggers):
            if t == table:
                sql.append(f"DROP TRIGGER IF EXISTS {_q(name)} ON {_q(table)}")
        for column in sorted(set(has) - set(was)):
            sql.append(f"ALTER TABLE {_q(table)} DROP COLUMN {_q(column)} CASCADE")
        for column, (_, nullable, default) in sorted(was.items()):
            live_null, live_default = has[column]
            if live_null != nullable:
                act = "DROP" if nullable else "SET"
                sql.append(f"ALTER TABLE {_q(table)} ALTER COLUMN {_q(column)} {act} NOT NULL")
            if str(live_default) != default:
                sql.append(
                    f"ALTER TABLE {_q(table)} ALTER COLUMN {_q(column)} DROP DEFAULT"
                    if default == "None"
                    else f"ALTER TABLE {_q(table)} ALTER COLUMN {_q(column)} SET DEFAULT {default}"
                )
    for name, table in sorted(live.indexes.items()):
        if table in kept and name not in start_indexes:
            sql.append(f"DROP INDEX IF EXISTS {_q(name)}")
    start_sequences = {e.tag for e in entries if e.kind == "SEQUENCE"}
    for name in sorted(live.sequences - start_sequences):
        sql.append(f"DROP SEQUENCE IF EXISTS {_q(name)} CASCADE")
    start_enums = {e.tag for e in entries if e.kind == "TYPE"}
    for name in sorted(live.enums - start_enums):
        sql.append(f"DROP TYPE IF EXISTS {_q(name)}")
    for statement in sql:
        conn.exec_driver_sql(statement)
    # 3. the dump's entries for what is missing now
    now = _live(conn)
    start_index_table = {
        i[0]: t for t, d in start["tables"].items() for i in d.get("indexes", []) if i[0]
    }

    def wanted(e: Entry) -> bool:
        if e.kind in (
            "TABLE",
            "TABLE DATA",
            "TABLE ATTACH",
            "DEFAULT",
            "POLICY",
            "RULE",
            "ROW SECURITY",
        ):
            return e.table in with_rows and e.table not in mine
        if e.kind in ("SEQUENCE", "SEQUENCE OWNED BY", "SEQUENCE SET"):
            return e.tag not in now.sequences
        if e.kind in ("CONSTRAINT", "FK CONSTRAINT"):
            return (e.table, e.name) not in now.constraints and e.table not in mine
        if e.kind == "TRIGGER":
            return (e.table, e.name) not in now.triggers and e.table not in mine
        if e.kind == "INDEX ATTACH":
            return e.tag not in now.indexes
        if e.kind == "INDEX":
            table = start_index_table.get(e.tag)
            return e.tag not in now.indexes and table not in mine
        if e.kind in ("VIEW", "MATERIALIZED VIEW", "MATERIALIZED VIEW DATA"):
            return True
        if e.kind == "TYPE":
            return e.tag not in now.enums
        if e.kind in ("ACL", "COMMENT"):
            what, _, name = e.tag.partition(" ")
            base = name.split(".", 1)[0]
            if what in ("TABLE", "COLUMN"):
                return (base in with_rows and base not in mine) or base in live.views
            if what in ("VIEW", "MATERIALIZED VIEW"):
                return True
            if what == "SEQUENCE":
                return name not in now.sequences
        return False

    chosen = [e.line for e in entries if wanted(e)]
    _stream(conn, dump, chosen, pg_restore)
    conn.execute(text("SELECT set_config('search_path', :p, false)"), {"p": search_path})
    conn.execute(text("SELECT set_config('lock_timeout', :t, true)"), {"t": lock_timeout})
    # 4. the proof, before the commit
    after = schema.describe(conn)
    if schema.fingerprint_of(after) != schema.fingerprint_of(start):
        differences = schema.diff(start, after)
        raise UndoFailed(
            "the targeted restore would not give the schema the run found: "
            + "; ".join(differences[:3])
        )
    return (
        f"restored {len(with_rows)} table(s) with their rows ({', '.join(sorted(with_rows))}); "
        f"{len(kept)} other table(s) kept their rows"
    )


_SESSION_SETTINGS = re.compile(
    r"^SET (?:lock_timeout|statement_timeout|idle_in_transaction_session_timeout|"
    r"transaction_timeout) = "
)


def _stream(conn: Connection, dump: Path, lines: list[str], pg_restore: str) -> None:
    """Run pg_restore's script of the entries ``lines`` on ``conn`` (in its
    transaction): statements in batches, each ``COPY ... FROM stdin`` block streamed."""
    if not lines:
        return
    listing = dump.parent / ".restore.list"
    listing.write_text("\n".join(lines) + "\n", encoding="utf-8")
    raw = conn.connection.driver_connection
    assert raw is not None
    proc = subprocess.Popen(
        [pg_restore, f"--use-list={listing}", "--file=-", str(dump)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        with raw.cursor() as cur:
            for kind, payload in _pieces(proc.stdout):
                if kind == "sql":
                    cur.execute(payload)
                else:
                    head, rows = payload
                    with cur.copy(head) as copy:
                        for row in rows:
                            copy.write(row)
        err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
        if proc.wait() != 0:
            raise UndoFailed(f"pg_restore failed: {err.strip().splitlines()[-1:]}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        listing.unlink(missing_ok=True)


def _pieces(stream: Any) -> Iterator[tuple[str, Any]]:
    batch: list[str] = []
    for raw in stream:
        line = raw.decode("utf-8")
        if line.startswith("COPY ") and line.rstrip().endswith("FROM stdin;"):
            if batch:
                yield "sql", "".join(batch)
                batch = []
            yield "copy", (line.rstrip().rstrip(";"), _copy_rows(stream))
            continue
        if _SESSION_SETTINGS.match(line) or line.startswith("\\"):
            continue  # the script's timeouts, and psql's meta-commands (\restrict)
        batch.append(line)
    if "".join(batch).strip():
        yield "sql", "".join(batch)


def _copy_rows(stream: Any) -> Iterator[bytes]:
    for raw in stream:
        if raw in (b"\\.\n", b"\\.\r\n"):
            return
        yield raw
