"""Targeted backups: what a release can destroy, read from the SQL it renders.

A release that drops a column of one table and backfills another puts the rows of those
two tables at risk, not the rows of the hundred others. The targeted backup holds the
schema of everything and the rows of the tables the pending revisions destroy or rewrite
(``DROP TABLE``, ``DROP COLUMN``, a column's type, a rename, ``UPDATE``, ``DELETE``,
``TRUNCATE``, rows inserted into a table that existed before), read here from the
rendered upgrade SQL. Its undo (the dialect's ``restore_tables``) puts back those tables
and the schema of the rest in one transaction, leaving the other tables' rows, the
application's writes during the release included, where they are.

What cannot be read this way makes the reading ``unreadable``: a revision whose upgrade
only runs live (Python reading the database), functions and ``DO`` blocks (they may
write anywhere), enum and extension changes, and any statement this module does not
know. The backup step then falls back to a full dump (or to the restore point alone,
where one is taken).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slipway import schema
from slipway.artifacts import private_file
from slipway.sqlrules import clauses, split

# A targeted backup is a folder: the dump, and the schema as the run found it.
DUMP = "tables.dump"
START = "start.json"


def is_targeted(path: Path) -> bool:
    return path.is_dir() and (path / START).is_file()


def write_start(folder: Path, described: dict[str, Any], tables: list[str]) -> None:
    path = folder / START
    private_file(path)
    path.write_text(
        json.dumps({"schema": schema.pack(described), "tables": tables}), encoding="utf-8"
    )


def read_start(folder: Path) -> tuple[dict[str, Any], list[str]]:
    data = json.loads((folder / START).read_text(encoding="utf-8"))
    return schema.unpack(data["schema"]), list(data["tables"])


def dump_of(path: Path) -> Path:
    """The dump file of a backup: the backup itself, or a targeted backup's dump."""
    return path / DUMP if is_targeted(path) else path


_NAME = r'(?:"(?:[^"]|"")+"|`(?:[^`]|``)+`|[\w$]+)'
_QNAME = rf"{_NAME}(?:\s*\.\s*{_NAME})?"
_IF_EXISTS = r"(?:IF\s+EXISTS\s+)?"
_IF_NOT_EXISTS = r"(?:IF\s+NOT\s+EXISTS\s+)?"

# Statements that change no row of an existing table, and whose schema the undo puts
# back by itself (objects the release created are dropped; those it dropped come back
# from the backup's schema).
_HARMLESS = re.compile(
    r"^(?:"
    r"BEGIN|COMMIT|START TRANSACTION|SET\s|RESET\s|LOCK\s|ANALYZE|VACUUM|COMMENT ON\s|"
    r"GRANT\s|REVOKE\s|REFRESH MATERIALIZED VIEW\s|"
    r"CREATE\s+(?:UNIQUE\s+)?INDEX\s|CREATE\s+SEQUENCE\s|CREATE\s+(?:OR\s+REPLACE\s+)?TRIGGER\s|"
    r"ALTER\s+INDEX\s|"
    r"CREATE\s+(?:OR\s+REPLACE\s+)?(?:MATERIALIZED\s+)?VIEW\s|"
    r"DROP\s+(?:MATERIALIZED\s+)?VIEW\s|DROP\s+INDEX\s|DROP\s+TRIGGER\s"
    r")",
    re.I,
)
_CREATE_TABLE = re.compile(rf"^CREATE\s+(?:UNLOGGED\s+)?TABLE\s+{_IF_NOT_EXISTS}({_QNAME})", re.I)
_CREATE_ENUM = re.compile(rf"^CREATE\s+TYPE\s+({_QNAME})\s+AS\s+ENUM\b", re.I)
_DROP_TABLE = re.compile(rf"^DROP\s+TABLE\s+{_IF_EXISTS}(.+?)(?:\s+(?:CASCADE|RESTRICT))?$", re.I)
_ROWS = re.compile(
    rf"^(?:UPDATE\s+(?:ONLY\s+)?|DELETE\s+FROM\s+(?:ONLY\s+)?|INSERT\s+INTO\s+|"
    rf"MERGE\s+INTO\s+|COPY\s+)({_QNAME})",
    re.I,
)
_TRUNCATE = re.compile(
    r"^TRUNCATE\s+(?:TABLE\s+)?(?:ONLY\s+)?(.+?)(?:\s+(?:CASCADE|RESTRICT|"
    r"RESTART IDENTITY|CONTINUE IDENTITY))*$",
    re.I,
)
_ALTER_TABLE = re.compile(
    rf"^ALTER\s+TABLE\s+{_IF_EXISTS}(?:ONLY\s+)?({_QNAME})\s+(.*)$", re.I | re.S
)
_RENAME_TABLE = re.compile(r"^RENAME\s+TABLE\s+(.+)$", re.I)

# ALTER TABLE clauses: what each does to the table's rows.
_CLAUSE_SAFE = re.compile(
    r"^(?:ADD\s+(?:COLUMN\s+)?(?!CONSTRAINT\b|PRIMARY\b|UNIQUE\b|FOREIGN\b|CHECK\b|EXCLUDE\b)|"
    r"ADD\s+(?:CONSTRAINT\s|PRIMARY\s|UNIQUE\b|FOREIGN\s|CHECK\b)|"
    r"DROP\s+(?:CONSTRAINT|FOREIGN\s+KEY|INDEX|KEY|PRIMARY\s+KEY|CHECK)\b|"
    r"VALIDATE\s+CONSTRAINT\s|RENAME\s+CONSTRAINT\s|"
    r"ALTER\s+(?:COLUMN\s+)?\S+\s+(?:SET|DROP)\s+(?:DEFAULT|NOT\s+NULL)\b)",
    re.I,
)
_CLAUSE_DESTROYS = re.compile(
    r"^(?:DROP\s+(?:COLUMN\s+)?(?!CONSTRAINT\b|INDEX\b|KEY\b|PRIMARY\b|FOREIGN\b|CHECK\b)|"
    r"ALTER\s+(?:COLUMN\s+)?\S+\s+(?:SET\s+DATA\s+)?TYPE\s|"
    r"RENAME\s|MODIFY\s|CHANGE\s|CONVERT\s+TO\s)",
    re.I,
)


@dataclass
class Reading:
    """What the pending revisions' upgrade SQL does to tables that exist."""

    tables: set[str] = field(default_factory=set)  # rows or columns destroyed or rewritten
    created: set[str] = field(default_factory=set)  # made by the release itself
    unreadable: list[str] = field(default_factory=list)  # "revision R: why"

    def touch(self, name: str) -> None:
        if name not in self.created:
            self.tables.add(name)


def table_name(text: str) -> str:
    """The table of ``schema.table`` / ``"Table"`` as the catalog spells it."""
    parts = re.findall(_NAME, text.strip())
    last = parts[-1] if parts else text.strip()
    if last.startswith('"'):
        return last[1:-1].replace('""', '"')
    if last.startswith("`"):
        return last[1:-1].replace("``", "`")
    return last.lower()


def elsewhere(text: str) -> bool:
    """A name qualified with a schema other than ``public``: the targeted undo works in
    the release's own schema only."""
    parts = re.findall(_NAME, text.strip())
    return len(parts) > 1 and parts[0].strip('"`').lower() != "public"


def _names(listed: str) -> list[str]:
    return [table_name(p) for p in re.split(r"\s*,\s*", listed.strip()) if p.strip()]


def read_statement(reading: Reading, text: str) -> str | None:
    """Record what one statement does; why it cannot be read, or None."""
    if m := _CREATE_TABLE.match(text):
        reading.created.add(table_name(m.group(1)))
        return None
    if _CREATE_ENUM.match(text) or _HARMLESS.match(text):
        return None
    if m := _DROP_TABLE.match(text) or _TRUNCATE.match(text):
        listed = re.split(r"\s*,\s*", m.group(1).strip())
        if any(elsewhere(p) for p in listed):
            return text[:80]
        for name in _names(m.group(1)):
            reading.touch(name)
        return None
    if m := _ROWS.match(text):
        if elsewhere(m.group(1)):
            return text[:80]
        reading.touch(table_name(m.group(1)))
        return None
    if m := _RENAME_TABLE.match(text):  # MySQL: RENAME TABLE a TO b, c TO d
        for pair in re.split(r"\s*,\s*", m.group(1)):
            old, _, new = pair.partition(" TO ") if " TO " in pair else pair.partition(" to ")
            reading.touch(table_name(old))
            reading.created.add(table_name(new))
        return None
    if m := _ALTER_TABLE.match(text):
        if elsewhere(m.group(1)):
            return text[:80]
        name = table_name(m.group(1))
        for clause in clauses(m.group(2)):
            if _CLAUSE_DESTROYS.match(clause):
                reading.touch(name)
                renamed = re.match(rf"^RENAME\s+TO\s+({_QNAME})", clause, re.I)
                if renamed:
                    reading.created.add(table_name(renamed.group(1)))
            elif not _CLAUSE_SAFE.match(clause) and name not in reading.created:
                return f"ALTER TABLE {name} {clause[:60]}"
        return None
    return text[:80]


def read(rendered: dict[str, str | None], version_table: str) -> Reading:
    """What the upgrade SQL of each revision (None: it only runs live) puts at risk, in
    revision order. The version table's statements are the run's own."""
    reading = Reading()
    for revision, sql in rendered.items():
        if sql is None:
            reading.unreadable.append(f"revision {revision}: its upgrade only runs live")
            continue
        for stmt in split(sql):
            rows = _ROWS.match(stmt.text)
            if rows and table_name(rows.group(1)) == version_table:
                continue
            why = read_statement(reading, stmt.text)
            if why is not None:
                reading.unreadable.append(f"revision {revision}: cannot read '{why}'")
    reading.tables.discard(version_table)
    return reading
