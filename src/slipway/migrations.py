"""The Alembic project being released: its revision graph, files, SQL and the runs.

Rendering and applying go through the same ``alembic.command`` functions, so the SQL a
reviewer reads is produced by the code path that later runs against the database.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, inspect

from slipway import logs
from slipway.config import Settings
from slipway.errors import BadInput, Refused


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


ACCEPT_ATTRIBUTE = "slipway_accept"


@dataclass(frozen=True)
class Revision:
    id: str
    path: Path
    message: str
    down_revision: str | None = None

    @property
    def sha256(self) -> str:
        return file_sha256(self.path)


class Project:
    """An Alembic project, read once from its ini file."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ini = settings.alembic_ini
        try:
            self.script = ScriptDirectory.from_config(self._config())
            revisions = list(self.script.walk_revisions())
        except CommandError as err:
            raise BadInput(f"Alembic project of {self.ini} cannot be read: {err}") from err
        except Exception as err:  # a revision file that does not import: SyntaxError, ...
            raise BadInput(
                f"a migration file of {self.ini} cannot be loaded: {type(err).__name__}: {err}",
                hint="fix the file; nothing was run",
            ) from err
        if not revisions:
            raise BadInput(
                f"no migrations in {self.script.versions}",
                hint="add revisions with 'alembic revision', or point --alembic-ini elsewhere",
            )

    def _config(self, *, output: io.StringIO | None = None) -> Config:
        cfg = Config(str(self.ini), output_buffer=output)
        # Keep slipway's logging: env.py files that honour this skip fileConfig().
        cfg.attributes["configure_logger"] = False
        return cfg

    # the graph -------------------------------------------------------------------
    def heads(self) -> tuple[str, ...]:
        return tuple(self.script.get_heads())

    def single_head(self) -> str:
        heads = self.heads()
        if len(heads) != 1:
            raise Refused(
                f"the migration graph has {len(heads)} heads: {', '.join(sorted(heads))}",
                check="single_head",
                hint="merge them with 'alembic merge heads' and release the merge revision",
            )
        return heads[0]

    def knows(self, revision: str) -> bool:
        try:
            return self.script.get_revision(revision) is not None
        except CommandError:
            return False

    def _revision(self, script: Script) -> Revision:
        down = script.down_revision
        if isinstance(down, tuple | list):  # a merge point: its first parent
            down = down[0] if down else None
        return Revision(
            id=script.revision, path=Path(script.path), message=script.doc or "", down_revision=down
        )

    def history(self) -> list[Revision]:
        """Every revision from base to the single head, oldest first."""
        return self.pending(None, self.single_head())

    def above(self, revision: str) -> tuple[str | None, list[Revision]]:
        """``revision`` (or ``base``) as a start, and the revisions from it up to the head."""
        start = None if revision == "base" else revision
        if start is not None and not self.knows(start):
            raise BadInput(f"revision {start} is not in the migration graph")
        return start, self.pending(start, self.single_head())

    def acceptances(self, revision: str) -> dict[str, str]:
        """The lint findings a revision accepts: ``slipway_accept = {rule: reason}``."""
        script = self.script.get_revision(revision)
        if script is None:
            return {}
        declared = getattr(script.module, ACCEPT_ATTRIBUTE, None)
        if declared is None:
            return {}
        if not isinstance(declared, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in declared.items()
        ):
            raise BadInput(
                f"{ACCEPT_ATTRIBUTE} in {script.path} must map each rule to the reason "
                "it is accepted",
                hint=f'write {ACCEPT_ATTRIBUTE} = {{"ban-drop-column": "why this is safe"}}',
            )
        return {k: v.strip() for k, v in declared.items()}

    def applied(self, current: str | None) -> list[Revision]:
        """Revisions from base up to and including ``current``, oldest first."""
        if current is None:
            return []
        chain = [self._revision(s) for s in self.script.iterate_revisions(current, "base")]
        return list(reversed(chain))

    def pending(self, current: str | None, target: str) -> list[Revision]:
        """Revisions that ``upgrade target`` would run from ``current``, in order."""
        lower = current or "base"
        if lower == target:
            return []
        chain = [self._revision(s) for s in self.script.iterate_revisions(target, lower)]
        return list(reversed(chain))

    # the database's position -------------------------------------------------------
    def current(self, conn: Connection) -> tuple[str, ...]:
        if not inspect(conn).has_table(self.settings.version_table):
            return ()
        ctx = MigrationContext.configure(conn, opts={"version_table": self.settings.version_table})
        return tuple(ctx.get_current_heads())

    # SQL ------------------------------------------------------------------------------
    def _offline_config(self) -> tuple[Config, io.StringIO]:
        buf = io.StringIO()
        cfg = self._config(output=buf)
        # The offline script only needs the dialect: hand env.py a URL without password.
        safe = self.settings.url.set(password=None).render_as_string(hide_password=False)
        cfg.set_main_option("sqlalchemy.url", safe.replace("%", "%%"))
        return cfg, buf

    def upgrade_sql(self, current: str | None, target: str) -> str:
        cfg, buf = self._offline_config()
        spec = f"{current}:{target}" if current else target
        self._run(lambda: command.upgrade(cfg, spec, sql=True))
        return buf.getvalue()

    def downgrade_sql(self, target_head: str, back_to: str | None) -> str:
        cfg, buf = self._offline_config()
        self._run(lambda: command.downgrade(cfg, f"{target_head}:{back_to or 'base'}", sql=True))
        return buf.getvalue()

    # running -------------------------------------------------------------------------
    def _online_config(self, conn: Connection) -> Config:
        cfg = self._config()
        cfg.attributes["connection"] = conn
        # For env.py files that ignore the handed-over connection and connect themselves.
        url = self.settings.url.render_as_string(hide_password=False)
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
        return cfg

    def upgrade(self, conn: Connection, revision: str) -> None:
        cfg = self._online_config(conn)
        self._run(lambda: command.upgrade(cfg, revision))

    def downgrade(self, conn: Connection, revision: str | None) -> None:
        cfg = self._online_config(conn)
        self._run(lambda: command.downgrade(cfg, revision or "base"))

    def check_models(self, conn: Connection) -> None:
        """``alembic check``: raises AutogenerateDiffsDetected when models and database differ."""
        cfg = self._online_config(conn)
        cfg.stdout = io.StringIO()  # alembic prints its verdict; slipway reports it
        self._run(lambda: command.check(cfg))

    @staticmethod
    def _run(fn: Callable[[], None]) -> None:
        with logs.preserved():
            fn()
