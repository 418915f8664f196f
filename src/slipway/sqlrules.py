"""slipway's own lint rules for MySQL/MariaDB and SQLite, over the SQL a revision renders.

PostgreSQL has a well-kept linter (squawk); these two do not, so slipway reads their
rendered statements itself. Rule names follow squawk's where the danger is the same, so
an acceptance or a severity override reads alike on every dialect.

Each dialect is one small class: what its server can do online, and since which
version it understands ``RENAME COLUMN``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import sqlparse
from sqlparse import tokens as T


@dataclass(frozen=True)
class Statement:
    """One statement of rendered SQL, with the lines it spans (0-based, inclusive)."""

    text: str  # comments stripped, whitespace collapsed
    first_line: int
    last_line: int


@dataclass(frozen=True)
class Hit:
    rule: str
    statement: str
    message: str
    hint: str


@dataclass(frozen=True)
class ServerVersion:
    """What the target server is, as far as lint needs to know."""

    flavour: str  # postgresql | mysql | mariadb | sqlite
    version: tuple[int, ...]

    def __str__(self) -> str:
        return f"{self.flavour} {'.'.join(map(str, self.version))}"

    @classmethod
    def parse(cls, text: str, default_flavour: str) -> ServerVersion | None:
        """``mariadb-10.4``, ``mysql 5.7.44``, ``15``: None when no number is in it."""
        match = re.match(r"^\s*([a-z]+)?[\s-]*(\d+(?:\.\d+)*)", text.lower())
        if not match:
            return None
        flavour = match.group(1) or default_flavour
        if "maria" in text.lower():
            flavour = "mariadb"
        return cls(flavour, tuple(int(p) for p in match.group(2).split(".")))


def split(sql: str, writes: Sequence[int] = ()) -> list[Statement]:
    """The statements of a script, with the lines each spans in ``sql``. With ``writes``
    (where each of Alembic's writes began: one statement each, or a comment) each write
    is split on its own, and one holding a single statement that ends at its only ``;``
    and has no comment is taken as it is: a 1,000-row bulk insert is not lexed row by
    row. Otherwise sqlparse's splitter (one lexer pass, without its parser)."""
    if not writes:
        return _split(sql, 0)
    out: list[Statement] = []
    comment_line: int | None = None  # leading comments belong to the next statement
    bounds = sorted({0, *writes, len(sql)})
    for start, end in itertools.pairwise(bounds):
        chunk = sql[start:end]
        if _simple(chunk):
            body = chunk.strip()
            first = sql.count("\n", 0, start + chunk.index(body[0]))
            last = first + body.count("\n")
            text = " ".join(body.rstrip(";").split())
            out.append(Statement(text, first if comment_line is None else comment_line, last))
            comment_line = None
            continue
        found = _split(chunk, sql.count("\n", 0, start))
        if not found:
            if chunk.strip() and comment_line is None:
                comment_line = sql.count("\n", 0, start + chunk.index(chunk.strip()[0]))
            continue
        if comment_line is not None:
            head = found[0]
            found[0] = Statement(head.text, min(comment_line, head.first_line), head.last_line)
            comment_line = None
        out.extend(found)
    return out


def _simple(chunk: str) -> bool:
    """One statement, ended by its only semicolon, with no comment: nothing to lex."""
    body = chunk.rstrip()
    return (
        body.endswith(";")
        and body.count(";") == 1
        and not any(mark in body for mark in ("--", "/*", "#"))
    )


def _split(sql: str, line0: int) -> list[Statement]:
    out: list[Statement] = []
    pos = 0
    stack = sqlparse.engine.FilterStack()  # type: ignore[no-untyped-call]
    for stmt in stack.run(sql):  # type: ignore[no-untyped-call]
        raw = str(stmt)
        here, pos = pos, pos + len(raw)
        text = "".join(" " if tok.ttype in T.Comment else tok.value for tok in stmt.flatten())
        clean = " ".join(text.strip().rstrip(";").split())
        if not clean:
            continue
        # The leading comment lines belong to the statement for squawk's line numbers.
        start = here + len(raw) - len(raw.lstrip())
        end = here + len(raw.rstrip())
        first, last = sql.count("\n", 0, start), sql.count("\n", 0, end)
        out.append(Statement(clean, line0 + first, line0 + last))
    return out


# hit(rule, message, hint): records a finding on the statement being checked.
_HitFn = Callable[[str, str, str], None]
_IDENT = r"[`\"\[]?([\w$]+)[`\"\]]?"
_NOT_A_COLUMN = {"INDEX", "KEY", "FOREIGN", "PRIMARY", "CONSTRAINT", "CHECK", "PARTITION"}
# The copy a table rebuild fills and renames over the table: Alembic's batch mode, and
# Django's schema editor on SQLite.
_TMP = ("_alembic_tmp_", "new__")


class SqlRules:
    """The rules both dialects share; subclasses say what differs."""

    name: ClassVar[str]
    # (flavour, version) -> first version with RENAME COLUMN
    rename_column_since: ClassVar[dict[str, tuple[int, ...]]]
    online_index: ClassVar[bool] = False

    def check(self, statements: list[Statement], server: ServerVersion | None) -> list[Hit]:
        hits: list[Hit] = []
        rebuilt = {
            m.group(1).lower()
            for s in statements
            if (m := re.match(rf"ALTER TABLE {_IDENT} RENAME TO {_IDENT}", s.text, re.I))
            and m.group(1).lower().startswith(_TMP)
        }
        # A table created in the same revision is empty and unused by the running code:
        # indexing or altering it cannot block anyone (autogenerate writes an index
        # after every create_table).
        created = {
            m.group(1).lower()
            for s in statements
            if (m := re.match(rf"CREATE TABLE (?:IF NOT EXISTS )?{_IDENT}", s.text, re.I))
        }
        for stmt in statements:
            if (table := _target_table(stmt.text)) is not None and table.lower() in created:
                continue
            hits.extend(self._check(stmt, server, rebuilt))
        return hits

    def _check(self, stmt: Statement, server: ServerVersion | None, rebuilt: set[str]) -> list[Hit]:
        text, up = stmt.text, stmt.text.upper()
        hits: list[Hit] = []

        def hit(rule: str, message: str, hint: str) -> None:
            hits.append(Hit(rule, text, message, hint))

        if m := re.match(rf"DROP TABLE (?:IF EXISTS )?{_IDENT}", text, re.I):
            if any(f"{tmp}{m.group(1)}".lower() in rebuilt for tmp in _TMP):
                hit(
                    "table-rebuild",
                    f"table {m.group(1)} is rebuilt (copied row by row) while writes wait",
                    "fine for small tables; for large ones change the schema in steps",
                )
            else:
                hit(
                    "ban-drop-table",
                    f"dropping table {m.group(1)} deletes its data and breaks code still using it",
                    "stop using the table in one release, drop it in a later one",
                )
            return hits
        if m := re.match(rf"RENAME TABLE {_IDENT}", text, re.I):
            hit(
                "renaming-table",
                f"renaming table {m.group(1)} breaks code that still uses the old name",
                "create the new table (or a view) and move readers first",
            )
            return hits
        if re.match(r"CREATE (?:UNIQUE )?INDEX", text, re.I):
            self._index(hit, up, created=True)
            return hits
        if re.match(r"DROP INDEX", text, re.I):
            self._index(hit, up, created=False)
            return hits
        m = re.match(rf"ALTER TABLE {_IDENT}\s+(.*)$", text, re.I | re.S)
        if not m:
            return hits
        table, body = m.group(1), m.group(2)
        for clause in clauses(body):
            self._alter_clause(hit, table, clause, server)
        return hits

    def _alter_clause(
        self, hit: _HitFn, table: str, clause: str, server: ServerVersion | None
    ) -> None:
        up = clause.upper()
        m = re.match(rf"DROP (?:COLUMN )?{_IDENT}", clause, re.I)
        if m and m.group(1).upper() not in _NOT_A_COLUMN:
            hit(
                "ban-drop-column",
                f"dropping column {table}.{m.group(1)} breaks code that still reads it",
                "stop reading the column in one release, drop it in a later one",
            )
            return
        if re.match(r"DROP (?:INDEX|KEY) ", up):
            self._index(hit, up, created=False)
            return
        if re.match(r"ADD (?:UNIQUE |FULLTEXT |SPATIAL )?(?:INDEX|KEY)\b|ADD UNIQUE\b", up):
            self._index(hit, up, created=True)
            return
        if m := re.match(rf"RENAME COLUMN {_IDENT} TO {_IDENT}", clause, re.I):
            hit(
                "renaming-column",
                f"renaming {table}.{m.group(1)} to {m.group(2)} breaks code that uses the old "
                "name while the release rolls out",
                "add the new column, write both, move readers, drop the old one later",
            )
            self._rename_support(hit, server)
            return
        m = re.match(rf"RENAME (?:TO |AS )?{_IDENT}", clause, re.I)
        if m and m.group(1).upper() not in ("INDEX", "KEY", "COLUMN"):
            if not table.lower().startswith(_TMP):
                hit(
                    "renaming-table",
                    f"renaming table {table} to {m.group(1)} breaks code that still uses the "
                    "old name",
                    "create the new table (or a view) and move readers first",
                )
            return
        if m := re.match(rf"CHANGE (?:COLUMN )?{_IDENT}\s+{_IDENT}\s", clause + " ", re.I):
            old, new = m.group(1), m.group(2)
            if old.lower() != new.lower():
                hit(
                    "renaming-column",
                    f"renaming {table}.{old} to {new} breaks code that uses the old name while "
                    "the release rolls out",
                    "add the new column, write both, move readers, drop the old one later",
                )
            else:
                self._type_change(hit, table, old)
            return
        if m := re.match(rf"(?:MODIFY|ALTER) (?:COLUMN )?{_IDENT}\s+(?!SET |DROP )", clause, re.I):
            self._type_change(hit, table, m.group(1))
            return
        if m := re.match(rf"ADD (?:COLUMN )?{_IDENT}\s", clause + " ", re.I):
            if m.group(1).upper() in ("CONSTRAINT", "PRIMARY", "FOREIGN", "CHECK"):
                return
            required = re.search(r"\bNOT NULL\b", up) and not re.search(
                r"\bDEFAULT\b|\bAUTO_INCREMENT\b|\bGENERATED\b|\bAS\s*\(", up
            )
            if required:
                hit(
                    "adding-required-field",
                    f"column {table}.{m.group(1)} is NOT NULL without a default: existing rows "
                    "have no value and the old code's inserts fail",
                    "add it nullable (or with a server default), backfill, then set NOT NULL",
                )

    def _type_change(self, hit: _HitFn, table: str, column: str) -> None:
        hit(
            "changing-column-type",
            f"redefining column {table}.{column} (type, size or nullability) copies the table "
            "under lock and can truncate or reject data",
            "add a new column of the new type, backfill, switch readers, drop the old one",
        )

    def _index(self, hit: _HitFn, up: str, *, created: bool) -> None:
        del hit, up, created  # no online index build to ask for (SQLite)

    def _rename_support(self, hit: _HitFn, server: ServerVersion | None) -> None:
        if server is None:
            return
        since = self.rename_column_since.get(server.flavour)
        if since is not None and server.version < since:
            hit(
                "rename-column-unsupported",
                f"{server} has no RENAME COLUMN (it came in {server.flavour} "
                f"{'.'.join(map(str, since))})",
                "pass existing_type= to op.alter_column so Alembic writes CHANGE COLUMN",
            )


def clauses(body: str) -> list[str]:
    """The comma-separated clauses of an ALTER TABLE, commas inside brackets kept."""
    out, depth, start, quote = [], 0, 0, ""
    for i, ch in enumerate(body):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"`":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(body[start:i].strip())
            start = i + 1
    out.append(body[start:].strip())
    return [c for c in out if c]


def _target_table(text: str) -> str | None:
    """The table an index or ALTER statement changes."""
    m = re.match(
        rf"(?:CREATE (?:UNIQUE )?INDEX \S+ ON|ALTER TABLE|DROP INDEX \S+ ON) {_IDENT}", text, re.I
    )
    return m.group(1) if m else None


class MySQLRules(SqlRules):
    name = "mysql"
    rename_column_since: ClassVar[dict[str, tuple[int, ...]]] = {
        "mysql": (8, 0),
        "mariadb": (10, 5, 2),
    }
    online_index = True

    def _index(self, hit: _HitFn, up: str, *, created: bool) -> None:
        if re.search(r"\bLOCK\s*=?\s*NONE\b", up):
            return
        if created:
            hit(
                "require-online-index-creation",
                "the index is built without LOCK=NONE: the server may block writes to the "
                "table while it builds",
                "write it with ALGORITHM=INPLACE, LOCK=NONE (op.execute) so the server refuses "
                "instead of blocking",
            )
        else:
            hit(
                "require-online-index-deletion",
                "the index is dropped without LOCK=NONE: the server may block writes",
                "write DROP INDEX ... ALGORITHM=INPLACE, LOCK=NONE (op.execute)",
            )


class SQLiteRules(SqlRules):
    name = "sqlite"
    rename_column_since: ClassVar[dict[str, tuple[int, ...]]] = {"sqlite": (3, 25, 0)}


RULES: dict[str, type[SqlRules]] = {"mysql": MySQLRules, "sqlite": SQLiteRules}
