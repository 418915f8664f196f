"""A migration tool whose history spans apps (Django, aerich): released as one line.

Such a tool records each applied migration as a row (app, name) in its own table; its
migrations form one graph per app, or a DAG across apps. A release is a line: the
migrations in the order the database applied them, then the pending ones in the
tool's own order. A migration's revision is ``app:name`` and the one below it is the one
before it on the line, so a rollback unapplies, newest first, what was applied after
its target: the exact start state, app by app.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Iterable

from sqlalchemy import Connection

from slipway.backends._base import Backend, Rendered, Revision
from slipway.config import Settings
from slipway.dialects import dialect_for
from slipway.errors import BadInput

log = logging.getLogger(__name__)

Key = tuple[str, str]  # app, migration name


def key_id(key: Key) -> str:
    return f"{key[0]}:{key[1]}"


def id_key(revision: str) -> Key:
    app, _, name = revision.partition(":")
    return app, name


class LineBackend(Backend):
    """What Django's and aerich's backends share: the line, walks along it, the
    rendered SQL's cache, and what a run applies or undoes."""

    def __init__(self, settings: Settings, *, run_revisions: bool = True) -> None:
        super().__init__(settings, run_revisions=run_revisions)
        self._rendered: dict[tuple[str | None, str, bool], dict[str, Rendered]] = {}
        self._line: list[Key] = []
        self._index: dict[Key, int] = {}

    # what the tool answers -------------------------------------------------------------
    @abc.abstractmethod
    def _recorded(self, conn: Connection) -> list[Key]:
        """The rows of the tool's table, in the order they were applied."""

    @abc.abstractmethod
    def _known(self, recorded: list[Key]) -> list[Key]:
        """The recorded migrations of the apps this project has, in applied order."""

    @abc.abstractmethod
    def _in_order(self) -> Iterable[Key]:
        """Every migration of the project, in the order the tool applies them from empty."""

    @abc.abstractmethod
    def _revision(self, key: Key) -> Revision: ...

    @abc.abstractmethod
    def _record(self, conn: Connection, key: Key) -> None:
        """Write the tool's row for ``key``, as the tool writes it."""

    @abc.abstractmethod
    def _render_all(self, revisions: list[Revision], *, up: bool) -> dict[str, Rendered]: ...

    # the line -------------------------------------------------------------------------
    def _read_line(self) -> None:
        """The applied migrations (read with slipway's own connection), then the rest."""
        everything = list(self._in_order())
        present = set(everything)
        applied: list[Key] = []
        dialect = dialect_for(self.settings.url)
        if dialect.database_exists():
            engine = dialect.create_engine()
            try:
                with engine.connect() as conn:
                    applied = [k for k in self._known(self._recorded(conn)) if k in present]
            except Exception as err:  # noqa: BLE001 - the command's own read says why
                log.debug("the applied migrations could not be read: %s", err)
            finally:
                engine.dispose()
        seen = set(applied)
        self._line = applied + [k for k in everything if k not in seen]
        self._index = {key: i for i, key in enumerate(self._line)}

    def _below(self, key: Key) -> tuple[str, ...]:
        i = self._index[key]
        return (key_id(self._line[i - 1]),) if i > 0 else ()

    def _at(self, current: str | tuple[str, ...] | None) -> int:
        if not current:
            return -1
        named = (current,) if isinstance(current, str) else current
        return max(self._index[id_key(r)] for r in named)

    def _to_run(
        self, applied: set[Key], *, up: bool, destination: str | None, rev: Revision | None
    ) -> list[Key]:
        """What a migrate to ``destination`` runs, in order: the pending ones up to it, or
        the applied ones above it newest first (``rev`` alone, for one step down)."""
        if rev is not None and not up:
            return [id_key(rev.id)] if id_key(rev.id) in applied else []
        end = self._at(destination)
        if up:
            return [k for k in self._line[: end + 1] if k not in applied]
        return [k for k in reversed(self._line[end + 1 :]) if k in applied]

    # the graph ------------------------------------------------------------------------
    def knows(self, revision: str) -> bool:
        return id_key(revision) in self._index

    def revision(self, revision: str) -> Revision:
        if not self.knows(revision):
            raise BadInput(f"migration {revision} is not among the project's migrations")
        return self._revision(id_key(revision))

    def all_revisions(self) -> list[Revision]:
        return [self._revision(k) for k in self._line]

    def applied(self, current: str | tuple[str, ...] | None) -> list[Revision]:
        return [self._revision(k) for k in self._line[: self._at(current) + 1]]

    def pending(self, current: str | None, target: str) -> list[Revision]:
        return [self._revision(k) for k in self._line[self._at(current) + 1 : self._at(target) + 1]]

    # the database's position ------------------------------------------------------------
    def current(self, conn: Connection) -> tuple[str, ...]:
        known = self._known(self._recorded(conn))
        return (key_id(known[-1]),) if known else ()

    def stamp(self, conn: Connection, revision: str) -> None:
        """Every migration up to ``revision`` recorded, none run (``--fake``)."""
        have = set(self._recorded(conn))
        for key in self._line[: self._at(revision) + 1]:
            if key not in have:
                self._record(conn, key)

    # SQL -----------------------------------------------------------------------------------
    def rendered(
        self, start: str | None, revisions: list[Revision], *, up: bool
    ) -> dict[str, Rendered]:
        if not revisions:
            return {}
        key = (start, revisions[-1].id, up)
        if key not in self._rendered:
            self._rendered[key] = self._render_all(revisions, up=up)
        return self._rendered[key]

    def rendered_already(
        self, start: str | None, revisions: list[Revision], *, up: bool
    ) -> dict[str, Rendered] | None:
        if not revisions:
            return {}
        return self._rendered.get((start, revisions[-1].id, up))
