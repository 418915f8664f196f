"""The connection guard: while env.py runs, every connection is checked and watched.

env.py files differ: some use the connection slipway hands over, some build their own
engine from ``sqlalchemy.url``, from an environment variable or a settings object, some
are async. slipway trusts none of them. While a :class:`Guard` is active, SQLAlchemy's
class-level engine events see every connection any engine opens, sync or async (an
async engine runs on a sync ``Engine`` underneath):

- ``engine_connect``: the connection's database must be the one the command may touch
  (the target, or the scratch database of stairway, check or rehearsal); anything else
  raises :class:`WrongDatabase` before a statement runs. An allowed connection gets the
  revision's lock and statement timeouts.
- ``before_execute``: the statement, with its literal values rendered and secrets
  masked, is recorded under the revision that runs (``applied.sql``, ``rehearsal.sql``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import URL
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from slipway.dialects import dialect_for
from slipway.errors import BadInput
from slipway.logs import redact

# One guard at a time per process: the events are class-level.
_ACTIVE = threading.Lock()


class WrongDatabase(BadInput):
    """env.py connected to a database the command may not touch."""


@dataclass
class Recording:
    """The statements that ran, per revision, in order."""

    sections: list[tuple[str, list[str]]] = field(default_factory=list)
    latest: str = ""
    since: float = 0.0

    def begin(self, title: str) -> None:
        self.sections.append((title, []))

    def add(self, sql: str) -> None:
        if not self.sections:
            self.begin("statements")
        self.sections[-1][1].append(sql.rstrip().rstrip(";") + ";")
        self.latest, self.since = sql, time.monotonic()

    def running(self) -> str:
        """The statement that began last, on one line, and for how long it has run
        (waiting for a lock counts): what a live display shows."""
        if not self.latest:
            return ""
        text = " ".join(self.latest.split())
        text = text if len(text) <= 60 else text[:57] + "..."
        return f"{text} ({time.monotonic() - self.since:.0f} s)"

    def note(self, text: str) -> None:
        """A comment line after the statements so far (a failure, say)."""
        if not self.sections:
            self.begin("statements")
        self.sections[-1][1].append("-- " + " ".join(text.splitlines()))

    def statements(self) -> list[str]:
        return [s for _, stmts in self.sections for s in stmts]

    def text(self) -> str:
        out = []
        for title, stmts in self.sections:
            out.append(f"-- {title}\n")
            out.extend(f"{s}\n" for s in stmts)
            out.append("\n")
        return "".join(out)


@dataclass
class Guard:
    """Allow connections to one database only (``None``: to none at all); time them
    out; record what they run."""

    allowed: URL | None
    secrets: Sequence[str] = ()
    how_to_fix: str = ""
    timeouts: tuple[float, float] | None = None  # lock, statement (seconds)
    recording: Recording | None = None

    def __post_init__(self) -> None:
        self._identity = (
            None if self.allowed is None else dialect_for(self.allowed).identity(self.allowed)
        )

    @contextmanager
    def active(self) -> Iterator[Guard]:
        with _ACTIVE:
            event.listen(Engine, "engine_connect", self._on_connect)
            event.listen(Engine, "before_execute", self._on_execute)
            try:
                yield self
            finally:
                event.remove(Engine, "before_execute", self._on_execute)
                event.remove(Engine, "engine_connect", self._on_connect)

    # events -----------------------------------------------------------------------
    def _on_connect(self, conn: Connection) -> None:
        url = conn.engine.url
        try:
            other = dialect_for(url)
            same = other.identity(url) == self._identity
        except BadInput:
            same = False
        if not same:
            shown = url.render_as_string(hide_password=True)
            allowed = (
                "none while slipway reads the revision graph"
                if self.allowed is None
                else self.allowed.render_as_string(hide_password=True)
            )
            raise WrongDatabase(
                f"env.py connected to {shown}, but this command may only touch "
                f"{allowed}; nothing ran there",
                hint=self.how_to_fix
                or "let env.py use config.attributes['connection'] or sqlalchemy.url",
            )
        if self.timeouts is not None:
            other.set_timeouts(conn, *self.timeouts)
            if conn.in_transaction():
                # env.py must find its connection outside a transaction, or alembic
                # would take the transaction as the caller's and never commit it.
                conn.commit()

    def _on_execute(
        self,
        conn: Connection,
        clauseelement: Any,
        multiparams: Sequence[dict[str, Any]],
        params: dict[str, Any],
        execution_options: Any,
    ) -> None:
        if self.recording is None:
            return
        for sql in render_statement(conn, clauseelement, multiparams, params):
            self.recording.add(redact(sql, self.secrets))


def render_statement(
    conn: Connection,
    statement: Any,
    multiparams: Sequence[dict[str, Any]] | Any,
    params: dict[str, Any] | Any,
) -> list[str]:
    """The SQL of one execute call, a statement per parameter set, values as literals
    where SQLAlchemy can render them (else the parameters follow as a comment). The
    statement is compiled once, each parameter set only renders its values: a bulk
    insert of many rows costs one compilation."""
    sets: list[Any] = list(multiparams) if multiparams else [params or {}]
    if isinstance(statement, str):
        return [statement + _parameters(values) for values in sets]
    if not isinstance(statement, ClauseElement):
        return [str(statement) for _ in sets]
    keys: dict[str, Any] = (
        {"column_keys": list(sets[0])} if isinstance(sets[0], dict) and sets[0] else {}
    )
    try:
        # every value is rendered when the statement is expanded for its parameters
        literal = statement.compile(
            dialect=conn.dialect, compile_kwargs={"literal_execute": True}, **keys
        )
    except Exception:  # noqa: BLE001 - shown without literals below
        literal = None
    if literal is not None and not isinstance(literal, SQLCompiler):
        return [str(literal) for _ in sets]  # DDL: no parameters
    out = []
    plain = None
    for values in sets:
        try:
            if literal is None:
                raise LookupError
            out.append(literal.construct_expanded_state(values or None).statement)
        except Exception:  # noqa: BLE001 - a value without a literal form: show it beside
            plain = plain or statement.compile(dialect=conn.dialect, **keys)
            out.append(str(plain) + _parameters(values))
    return out


def _parameters(values: Any) -> str:
    return f"  -- parameters: {values!r}" if values else ""
