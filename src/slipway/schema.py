"""A fingerprint of a database schema, to prove a rollback or restore left no trace.

Alembic's version table and slipway's ledger are left out: they describe the run, not
the service's schema.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, inspect

if TYPE_CHECKING:
    from slipway.dialects import Dialect


def user_tables(conn: Connection, version_table: str) -> list[str]:
    """The tables of the database that are neither slipway's nor the version table."""
    return [
        t
        for t in sorted(inspect(conn).get_table_names())
        if t != version_table and not t.startswith("slipway_")
    ]


def describe(
    conn: Connection,
    *,
    skip: tuple[str, ...] = ("alembic_version",),
    only: Collection[str] | None = None,
) -> dict[str, Any]:
    """The schema: every user table (with ``only``, those of its names that exist), its
    columns, indexes, unique constraints and foreign keys; views, triggers, and on
    PostgreSQL enum types and sequences."""
    insp = inspect(conn)
    names = [
        t
        for t in sorted(insp.get_table_names())
        if t not in skip and not t.startswith("slipway_") and (only is None or t in only)
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
    described |= _dialect(conn).schema_extras(insp)
    return described


def _dialect(conn: Connection) -> type[Dialect]:
    from slipway.dialects import dialect_named  # the dialects read schemas through here

    return dialect_named(conn.dialect.name)


def _triggers(conn: Connection) -> list[str]:
    """table.trigger of every trigger: a restore must bring them back too."""
    query = _dialect(conn).triggers_sql
    return sorted(str(t) for t in conn.exec_driver_sql(query).scalars()) if query else []


# What the server's catalog says of every user table, view, index, constraint,
# trigger, enum and sequence, as rows: a superset of what :func:`describe` reads, in one
# query. Its digest tells, for the cost of that query, whether the schema is still the
# one a run recorded (then the recorded description stands for it).


@dataclass(frozen=True)
class Catalog:
    """What :func:`read_catalog` found: the digest of all its rows, and the digest of the
    rows of each table (view, sequence, enum type) by name."""

    digest: str
    parts: dict[str, str]

    def changed_since(self, was: Catalog) -> set[str]:
        """The names whose rows differ from ``was``'s (added and removed ones included)."""
        return {
            n for n in self.parts.keys() | was.parts.keys() if self.parts.get(n) != was.parts.get(n)
        }


def read_catalog(
    conn: Connection, *, skip: tuple[str, ...] = ("alembic_version",)
) -> Catalog | None:
    """The catalog's rows for the user schema (slipway's tables and the tables in
    ``skip`` left out, as :func:`describe` leaves them out); None where the dialect has
    no such query."""
    query = _dialect(conn).catalog_sql
    if query is None:
        return None
    rows = sorted(
        (str(row[1]), "\x1f".join("" if v is None else str(v) for v in row))
        for row in conn.exec_driver_sql(query)
        if str(row[1]) not in skip and not str(row[1]).startswith(("slipway_", "sqlite_"))
    )
    by_name: dict[str, list[str]] = {}
    for name, line in rows:
        by_name.setdefault(name, []).append(line)
    return Catalog(
        digest=_digest(sorted(line for _, line in rows)),
        parts={name: _digest(lines) for name, lines in by_name.items()},
    )


def _digest(lines: list[str]) -> str:
    return hashlib.sha256("\x1e".join(lines).encode()).hexdigest()


def catalog(conn: Connection, *, skip: tuple[str, ...] = ("alembic_version",)) -> str | None:
    """The digest of the catalog's rows for the user schema (see :func:`read_catalog`)."""
    found = read_catalog(conn, skip=skip)
    return None if found is None else found.digest


def describe_since(
    conn: Connection,
    before: dict[str, Any],
    was: Catalog,
    now: Catalog,
    *,
    skip: tuple[str, ...] = ("alembic_version",),
) -> dict[str, Any]:
    """The schema as :func:`describe` reads it, where ``before`` described it when the
    catalog was ``was`` and the catalog is ``now``: the tables whose catalog rows are
    the same are as ``before`` describes them (the rows are a superset of what describe
    reads), the others are read again, as are the views, triggers, enums and sequences."""
    changed = now.changed_since(was)
    fresh = describe(conn, skip=skip, only=changed)
    tables = {t: d for t, d in before.get("tables", {}).items() if t not in changed}
    tables.update(fresh["tables"])
    return {**fresh, "tables": tables}


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
