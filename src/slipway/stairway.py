"""Checks that run the migrations for real, on a throwaway database beside the target.

- the stairway: for every revision in order, upgrade, downgrade, upgrade again; each
  downgrade must leave the schema exactly as it found it, and downgrading to base must
  leave nothing behind (tables, indexes, views, PostgreSQL enum types and sequences);
- the drift check: after ``upgrade head``, the models must match the database
  (the migration tool's own comparison: Alembic's autogenerate, as ``alembic check``).

The target database itself is never touched: the throwaway one is created on the same
server with the same credentials and dropped afterwards, and whatever env.py connects to
the target is pointed at the throwaway one, proven there before a statement runs.
"""

from __future__ import annotations

import dataclasses
import functools
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import URL

from slipway import schema
from slipway.backends import Backend, Revision
from slipway.dialects import dialect_for
from slipway.errors import Refused, env_error, first_line
from slipway.guard import Guard
from slipway.report import Report


@dataclasses.dataclass
class Scratch:
    """A throwaway database and the command's one project; env.py may touch only it."""

    project: Backend
    url: URL
    engine: Engine

    def guard(self) -> Guard:
        """env.py may touch the throwaway database only; what it opens to the target is
        pointed there (see :mod:`slipway.guard`)."""
        return Guard(
            self.url,
            secrets=self.project.settings.secrets,
            how_to_fix="let env.py connect to the database slipway is pointed at (or use "
            "config.attributes['connection']): checks run on a throwaway copy of it",
            redirect_from=self.project.settings.url,
        )

    def describe(self) -> dict[str, Any]:
        with self.engine.connect() as conn:
            return schema.describe(conn, skip=(self.project.version_table,))

    def upgrade(self, revision: str) -> None:
        self.project.migrate(self.engine, self.guard(), up=True, destination=revision, url=self.url)

    def downgrade_one(self, rev: Revision) -> None:
        self.project.downgrade_one(self.engine, self.guard(), rev, self.url)

    def downgrade(self, revision: str | None) -> None:
        self.project.migrate(
            self.engine, self.guard(), up=False, destination=revision, url=self.url
        )


@contextmanager
def scratch(project: Backend, tag: str) -> Iterator[Scratch]:
    with dialect_for(project.settings.url).scratch(f"{tag}_{secrets.token_hex(4)}") as url:
        engine = dialect_for(url).create_engine()
        try:
            yield Scratch(project, url, engine)
        finally:
            engine.dispose()


def _attempt(what: str, fn: Callable[[], None]) -> None:
    try:
        fn()
    except Exception as err:
        found = env_error(err)
        if found is not None:  # the guard stopped env.py: bad input, not a finding
            raise found from err
        raise Refused(f"{what} failed: {first_line(err)}", check="stairway") from err


def stairway(project: Backend, report: Report) -> int:
    """Walk every revision up, down and up again; raise :class:`Refused` on the first
    revision whose downgrade does not undo it. Returns the number of revisions walked."""
    revisions = project.history()
    with scratch(project, "stairway") as db:
        empty = db.describe()
        for rev in revisions:
            below = ", ".join(rev.parents) or None
            with report.step(f"stairway {rev.id}") as step:
                before = db.describe()
                _attempt(f"upgrade to {rev.id}", functools.partial(db.upgrade, rev.id))
                upgraded = db.describe()
                _attempt(f"downgrade of {rev.id}", functools.partial(db.downgrade_one, rev))
                left = schema.diff(before, db.describe())
                if left:
                    raise Refused(
                        f"the downgrade of {rev.id} does not undo its upgrade: {'; '.join(left)}",
                        check="stairway",
                        hint="drop in downgrade() everything upgrade() creates "
                        "(PostgreSQL enum types too)",
                    )
                _attempt(
                    f"upgrade to {rev.id} again after its downgrade",
                    functools.partial(db.upgrade, rev.id),
                )
                if db.describe() != upgraded:
                    raise Refused(
                        f"upgrading to {rev.id} a second time gives another schema: "
                        f"{'; '.join(schema.diff(upgraded, db.describe()))}",
                        check="stairway",
                    )
                step.detail = f"up, down, up: schema identical ({below or 'base'} <-> {rev.id})"
        with report.step("stairway base") as step:
            _attempt("downgrade to base", lambda: db.downgrade(None))
            left = schema.diff(empty, db.describe())
            if left:
                raise Refused(
                    f"downgrading to base leaves a trace: {'; '.join(left)}",
                    check="stairway",
                    hint="drop in downgrade() everything upgrade() creates",
                )
            step.detail = f"down to base from {revisions[-1].id}: nothing left behind"
    return len(revisions)


def drift(project: Backend) -> list[str]:
    """Differences between the models and a database upgraded to head (empty: none)."""
    head = project.single_head()
    with scratch(project, "check") as db:
        _attempt(f"upgrade to {head}", lambda: db.upgrade(head))
        return _compare(db)


def _compare(db: Scratch) -> list[str]:
    return db.project.model_drift(db.engine, db.guard(), db.url)
