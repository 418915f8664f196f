"""The connection guard: while env.py runs, every connection is checked and watched.

env.py files differ: some use the connection slipway hands over, some build their own
engine from ``sqlalchemy.url``, from an environment variable, a settings object or a
Flask app's config, some are async. slipway trusts none of them. While a :class:`Guard`
is active, SQLAlchemy's class-level events see every connection any engine opens, sync
or async (an async engine runs on a sync ``Engine`` underneath):

- ``engine_connect``: the connection's database must be the one the command may touch
  (the target, or the scratch database of stairway, check or rehearsal); anything else
  raises :class:`WrongDatabase` before a statement runs. An allowed connection gets the
  revision's lock and statement timeouts.
- ``before_execute``: the statement, with its literal values rendered and secrets
  masked, is recorded under the revision that runs (``applied.sql``, ``rehearsal.sql``).

For stairway, check and the rehearsal (``redirect_from``: the target), a connection
env.py opens to the target is not refused but pointed at the scratch database: the
driver's connect arguments that name the target's database (its name, or its file)
are swapped for the scratch database's (``do_connect``), on the same server with
env.py's own credentials. Before any statement of env.py's runs, the server is asked
where the connection is (``current_database()``, ``DATABASE()``, ``PRAGMA
database_list``); anything but the scratch database stops the command. Connections to a
third database are refused as always.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import URL
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from slipway.dialects import Dialect, dialect_for
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
    out; record what they run. With ``redirect_from``, connections to that database
    (the target) go to the allowed one (a scratch copy) instead, proven there."""

    allowed: URL | None
    secrets: Sequence[str] = ()
    how_to_fix: str = ""
    timeouts: tuple[float, float] | None = None  # lock, statement (seconds)
    recording: Recording | None = None
    redirect_from: URL | None = None
    # Told the server's id of each session env.py opens with timeouts (a revision's).
    on_session: Callable[[str], None] | None = None

    def __post_init__(self) -> None:
        self._identity = (
            None if self.allowed is None else dialect_for(self.allowed).identity(self.allowed)
        )
        self._from = None
        if self.redirect_from is not None and self.allowed is not None:
            self._target = dialect_for(self.redirect_from)
            self._from = self._target.identity(self.redirect_from)
            self._scratch_at = dialect_for(self.allowed).location(self.allowed)
            self._target_at = self._target.location(self.redirect_from)
        # Engines of env.py's whose connections were pointed at the scratch database:
        # their pools are emptied when the guard ends, so that no later checkout (an
        # engine env.py keeps at module level) finds a connection to the scratch copy.
        self._redirected: list[Engine] = []
        self._swaps: dict[str, tuple[list[tuple[int, Any]], dict[str, Any], tuple[str, ...]]] = {}

    @contextmanager
    def active(self) -> Iterator[Guard]:
        with _ACTIVE:
            event.listen(Engine, "engine_connect", self._on_connect)
            event.listen(Engine, "before_execute", self._on_execute)
            if self._from is not None:
                event.listen(Engine, "do_connect", self._on_do_connect)
            try:
                yield self
            finally:
                if self._from is not None:
                    event.remove(Engine, "do_connect", self._on_do_connect)
                event.remove(Engine, "before_execute", self._on_execute)
                event.remove(Engine, "engine_connect", self._on_connect)
                for engine in self._redirected:
                    # Closed, not left to the garbage collector: each is a session on
                    # the scratch server, and a stairway walk opens one per step.
                    engine.dispose(close=True)
                self._redirected.clear()

    # events -----------------------------------------------------------------------
    def _on_connect(self, conn: Connection) -> None:
        url = conn.engine.url
        try:
            other = dialect_for(url)
            identity: tuple[str, ...] | None = other.identity(url)
        except BadInput:
            identity = None
        if identity is None or identity not in (self._identity, self._from):
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
        if self._from is not None:
            if identity == self._from and conn.engine not in self._redirected:
                self._redirected.append(conn.engine)
            self._prove(conn, other)
        if self.timeouts is not None:
            other.set_timeouts(conn, *self.timeouts)
            session = other.session_id(conn) if self.on_session is not None else None
            if session is not None and self.on_session is not None:
                self.on_session(session)
            if conn.in_transaction():
                # env.py must find its connection outside a transaction, or alembic
                # would take the transaction as the caller's and never commit it.
                conn.commit()

    def _prove(self, conn: Connection, dialect: Dialect) -> None:
        """Ask the server where ``conn`` is; it must be the scratch database. A pooled
        connection opened to the target before the guard began is replaced by one the
        redirect reaches."""
        where = dialect.where(conn.connection)
        if where == self._target_at and where != self._scratch_at:
            conn.invalidate()  # discarded unused; the next checkout connects anew
            where = dialect.where(conn.connection)
        if where != self._scratch_at:
            assert self.allowed is not None
            raise WrongDatabase(
                f"env.py's connection to {conn.engine.url.render_as_string(hide_password=True)} "
                f"is on {where or 'no database'}, not on the scratch database "
                f"{self.allowed.render_as_string(hide_password=True)}; nothing ran there",
                hint=self.how_to_fix or "let env.py use config.attributes['connection']",
            )

    def _on_do_connect(
        self, dialect: Any, _record: Any, cargs: list[Any], cparams: dict[str, Any]
    ) -> None:
        """Point a connection about to be opened to the target at the scratch database:
        the connect arguments that name the database (those where the driver's arguments
        for the target and for the scratch database differ) are swapped, if this
        connection's name the target on the target's server."""
        positions, keys, server = self._swap_for(dialect)
        if server and self._target.server(cparams.get("host"), cparams.get("port")) != server:
            return
        if any(i >= len(cargs) or not _same_place(cargs[i], t) for i, (t, _) in positions):
            return
        if any(not _same_place(cparams.get(k), t) for k, (t, _) in keys.items()):
            return
        for i, (_, scratch) in positions:
            cargs[i] = scratch
        for k, (_, scratch) in keys.items():
            cparams[k] = scratch

    def _swap_for(
        self, dialect: Any
    ) -> tuple[list[tuple[int, Any]], dict[str, Any], tuple[str, ...]]:
        """For this driver: the positional and keyword connect arguments that name the
        database, each as (target's value, scratch's value), and the target's server."""
        driver = f"{dialect.name}+{dialect.driver}"
        if driver not in self._swaps:
            assert self.redirect_from is not None and self.allowed is not None
            t_args, t_params = dialect.create_connect_args(
                self.redirect_from.set(drivername=driver)
            )
            s_args, s_params = dialect.create_connect_args(self.allowed.set(drivername=driver))
            positions = [
                (i, (t, s)) for i, (t, s) in enumerate(zip(t_args, s_args, strict=False)) if t != s
            ]
            keys = {
                k: (t_params[k], s_params.get(k))
                for k in t_params
                if k in s_params and t_params[k] != s_params[k]
            }
            server = (
                self._target.server(t_params.get("host"), t_params.get("port"))
                if "host" in t_params or "port" in t_params
                else ()
            )
            self._swaps[driver] = (positions, keys, server)
        return self._swaps[driver]

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


def _same_place(given: Any, target: Any) -> bool:
    """The same database name, or the same file (a SQLite path, relative or not)."""
    if given == target:
        return True
    if isinstance(given, str) and isinstance(target, str) and "/" in target:
        return os.path.realpath(given) == os.path.realpath(target)
    return False


def _parameters(values: Any) -> str:
    return f"  -- parameters: {values!r}" if values else ""
