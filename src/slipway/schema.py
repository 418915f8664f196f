"""A fingerprint of a database schema, to prove a rollback or restore left no trace.

Alembic's version table and slipway's ledger are left out: they describe the run, not
the service's schema.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from typing import Any

from sqlalchemy import Connection, inspect


def user_tables(conn: Connection, version_table: str) -> list[str]:
    """The tables of the database that are neither slipway's nor the version table."""
    return [
        t
        for t in sorted(inspect(conn).get_table_names())
        if t != version_table and not t.startswith("slipway_")
    ]


def describe(conn: Connection, *, skip: tuple[str, ...] = ("alembic_version",)) -> dict[str, Any]:
    insp = inspect(conn)
    names = [
        t for t in sorted(insp.get_table_names()) if t not in skip and not t.startswith("slipway_")
    ]
    tables: dict[str, Any] = {}
    if names:
        # One catalog query per kind for every table (SQLAlchemy's multi-table reflection).
        columns = insp.get_multi_columns(filter_names=names)
        indexes = insp.get_multi_indexes(filter_names=names)
        uniques = insp.get_multi_unique_constraints(filter_names=names)
        foreign = insp.get_multi_foreign_keys(filter_names=names)
    for table in names:
        key = (None, table)
        tables[table] = {
            "columns": [
                [c["name"], str(c["type"]), bool(c["nullable"]), str(c.get("default"))]
                for c in columns.get(key, [])
            ],
            "indexes": sorted(
                [i["name"] or "", list(map(str, i["column_names"])), bool(i["unique"])]
                for i in indexes.get(key, [])
            ),
            "unique": sorted(
                [u["name"] or "", list(u["column_names"])] for u in uniques.get(key, [])
            ),
            "foreign_keys": sorted(
                [f["name"] or "", list(f["constrained_columns"]), f["referred_table"]]
                for f in foreign.get(key, [])
            ),
        }
    described: dict[str, Any] = {
        "tables": tables,
        "views": sorted(insp.get_view_names()),
        "triggers": _triggers(conn),
    }
    if conn.dialect.name == "postgresql":
        described["enums"] = sorted(
            [e["name"], list(e["labels"])]
            for e in insp.get_enums(schema="*")  # type: ignore[attr-defined]
        )
        described["sequences"] = sorted(insp.get_sequence_names())
    return described


_TRIGGERS = {
    "postgresql": "SELECT c.relname || '.' || t.tgname FROM pg_trigger t "
    "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE NOT t.tgisinternal AND n.nspname = current_schema()",
    "mysql": "SELECT CONCAT(event_object_table, '.', trigger_name) "
    "FROM information_schema.triggers WHERE trigger_schema = DATABASE()",
    "sqlite": "SELECT tbl_name || '.' || name FROM sqlite_master WHERE type = 'trigger'",
}


def _triggers(conn: Connection) -> list[str]:
    """table.trigger of every trigger: a restore must bring them back too."""
    dialect = "mysql" if conn.dialect.name in ("mysql", "mariadb") else conn.dialect.name
    query = _TRIGGERS.get(dialect)
    return sorted(str(t) for t in conn.exec_driver_sql(query).scalars()) if query else []


def fingerprint(conn: Connection) -> str:
    return fingerprint_of(describe(conn))


def fingerprint_of(described: dict[str, Any]) -> str:
    blob = json.dumps(described, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def pack(described: dict[str, Any]) -> str:
    """A description as ledger text: JSON, compressed, base64."""
    blob = json.dumps(described, sort_keys=True, default=str).encode()
    return base64.b64encode(zlib.compress(blob, 6)).decode("ascii")


def unpack(text: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(zlib.decompress(base64.b64decode(text)))
    return loaded


def diff(
    before: dict[str, Any],
    after: dict[str, Any],
    *,
    more: str = "left behind",
    less: str = "is gone",
) -> list[str]:
    """What ``after`` has that ``before`` had not (``more``), and the other way round
    (``less``), in words."""
    out: list[str] = []
    old_tables, new_tables = before.get("tables", {}), after.get("tables", {})
    out += [f"table {t} {more}" for t in sorted(set(new_tables) - set(old_tables))]
    out += [f"table {t} {less}" for t in sorted(set(old_tables) - set(new_tables))]
    for table in sorted(set(old_tables) & set(new_tables)):
        for part, label in (
            ("columns", "column"),
            ("indexes", "index"),
            ("unique", "unique constraint"),
            ("foreign_keys", "foreign key"),
        ):
            was = {json.dumps(x, default=str) for x in old_tables[table][part]}
            now = {json.dumps(x, default=str) for x in new_tables[table][part]}
            changed = "left behind or changed" if more == "left behind" else more
            out += [f"{table}: {label} {x} {changed}" for x in sorted(now - was)]
            out += [f"{table}: {label} {x} {less}" for x in sorted(was - now)]
    for kind, label in (
        ("enums", "enum type"),
        ("sequences", "sequence"),
        ("views", "view"),
        ("triggers", "trigger"),
    ):
        was = {json.dumps(x) for x in before.get(kind, [])}
        now = {json.dumps(x) for x in after.get(kind, [])}
        out += [f"{label} {x} {more}" for x in sorted(now - was)]
        out += [f"{label} {x} {less}" for x in sorted(was - now)]
    return out
