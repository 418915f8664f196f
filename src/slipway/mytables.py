"""MariaDB/MySQL's targeted undo: what ``SHOW CREATE TABLE`` says, part by part.

MariaDB has no transactional DDL, so the undo is one swap (see ``MySQL.restore_tables``):
the tables at risk come back from the dump, loaded into a database of their own, by one
``RENAME TABLE``. The other tables keep their rows and get their start shape back by one
``ALTER TABLE`` each, planned here from the two ``SHOW CREATE TABLE`` texts (the start's,
from the loaded dump, and the live one): what the release added is dropped, a column
whose definition changed is modified back, what it dropped is added again. Foreign keys
are made equal to the start's last, once every table is in place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_NAME = r"`((?:[^`]|``)+)`"


@dataclass
class Shape:
    """A table's parts, each as its ``SHOW CREATE TABLE`` line (no trailing comma)."""

    columns: dict[str, str] = field(default_factory=dict)  # in order
    keys: dict[str, str] = field(default_factory=dict)  # PRIMARY, UNIQUE, KEY, FULLTEXT...
    checks: dict[str, str] = field(default_factory=dict)
    foreign: dict[str, str] = field(default_factory=dict)


def _unquote(name: str) -> str:
    return name.replace("``", "`")


def shape(create: str) -> Shape:
    out = Shape()
    for raw in create.splitlines()[1:]:
        line = raw.strip().rstrip(",")
        if line.startswith(")"):
            break
        if m := re.match(rf"^{_NAME}\s", line):
            out.columns[_unquote(m.group(1))] = line
        elif line.startswith("PRIMARY KEY"):
            out.keys["PRIMARY"] = line
        elif m := re.match(rf"^(?:UNIQUE |FULLTEXT |SPATIAL )?(?:KEY|INDEX) {_NAME}", line):
            out.keys[_unquote(m.group(1))] = line
        elif m := re.match(rf"^CONSTRAINT {_NAME} FOREIGN KEY", line):
            out.foreign[_unquote(m.group(1))] = line
        elif m := re.match(rf"^CONSTRAINT {_NAME} CHECK", line):
            out.checks[_unquote(m.group(1))] = line
    return out


def q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


class Unrestorable(Exception):
    """A table's start shape cannot be had back without rows the backup does not hold."""


def alter_back(table: str, start: Shape, live: Shape) -> str | None:
    """The one ``ALTER TABLE`` that gives ``table`` its start shape (foreign keys
    aside), or None when it has it."""
    gone = [c for c in start.columns if c not in live.columns]
    if gone:
        raise Unrestorable(
            f"column {table}.{gone[0]} is gone and its rows are not in the targeted backup"
        )
    clauses = [
        f"DROP FOREIGN KEY {q(name)}"
        for name, line in live.foreign.items()
        if start.foreign.get(name) != line
    ]
    for name, line in live.keys.items():
        if start.keys.get(name) != line:
            clauses.append("DROP PRIMARY KEY" if name == "PRIMARY" else f"DROP INDEX {q(name)}")
    for name, line in live.checks.items():
        if start.checks.get(name) != line:
            clauses.append(f"DROP CONSTRAINT {q(name)}")
    for name in live.columns:
        if name not in start.columns:
            clauses.append(f"DROP COLUMN {q(name)}")
    for name, line in start.columns.items():
        if live.columns[name] != line:
            clauses.append(f"MODIFY COLUMN {line}")
    for name, line in start.keys.items():
        if live.keys.get(name) != line:
            clauses.append(f"ADD {line}")
    for name, line in start.checks.items():
        if live.checks.get(name) != line:
            clauses.append(f"ADD {line}")
    return f"ALTER TABLE {q(table)} " + ", ".join(clauses) if clauses else None


@dataclass(frozen=True)
class ForeignKey:
    name: str
    line: str
    columns: tuple[str, ...]
    parent: str
    parent_columns: tuple[str, ...]


def foreign_key(name: str, line: str) -> ForeignKey:
    m = re.search(rf"FOREIGN KEY \(([^)]*)\) REFERENCES (?:{_NAME}\.)?{_NAME} \(([^)]*)\)", line)
    if not m:
        raise Unrestorable(f"foreign key {name} cannot be read: {line}")

    def cols(text: str) -> tuple[str, ...]:
        return tuple(_unquote(c) for c in re.findall(_NAME, text))

    return ForeignKey(name, line, cols(m.group(1)), _unquote(m.group(3)), cols(m.group(4)))


def orphans_sql(table: str, fk: ForeignKey) -> str:
    """A query that finds a row of ``table`` the foreign key would refuse."""
    present = " AND ".join(f"c.{q(col)} IS NOT NULL" for col in fk.columns)
    match = " AND ".join(
        f"p.{q(pc)} = c.{q(col)}" for col, pc in zip(fk.columns, fk.parent_columns, strict=True)
    )
    return (
        f"SELECT 1 FROM {q(table)} c WHERE {present} AND NOT EXISTS "
        f"(SELECT 1 FROM {q(fk.parent)} p WHERE {match}) LIMIT 1"
    )
