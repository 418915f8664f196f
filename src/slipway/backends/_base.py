"""What the release asks of a migration tool, and what every tool's project shares.

The release (plan, steps, report, ledger, guard, CLI, roles) is the same for every
migration tool; a :class:`Backend` answers for one tool: how its graph is read, how a
migration's SQL is rendered, how one migration is applied and undone, and where the tool
records what is applied. A backend names each migration by one string (its *revision*)
and the database's position by the revisions its record holds (its heads).

What does not depend on the tool lives here once: the revisions a team adopted
(``slipway-baseline.yml``), the findings it accepted (``slipway-accepted.yml``), the
checksum of a migration file, and the walks that follow from the graph.
"""

from __future__ import annotations

import abc
import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import yaml
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL

from slipway import checksums
from slipway.config import Settings
from slipway.errors import BadInput, Refused
from slipway.guard import Guard

# libyaml's safe loader where PyYAML was built with it: the baseline of a long history
# is read in a hundredth of the time.
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

ACCEPT_ATTRIBUTE = "slipway_accept"
ACCEPTED_FILE = "slipway-accepted.yml"
# Beside the project's migration settings, written by `slipway db adopt`: the revisions
# released before slipway watched the project, each with its checksum.
BASELINE_FILE = "slipway-baseline.yml"
_ACCEPT_KEYS = ("revision", "rule", "reason")
# A revision's phase in a rolling deploy (module attribute): pre (default) or post.
PHASE_ATTRIBUTE = "slipway_phase"
PHASES = ("pre", "post")


@functools.lru_cache(maxsize=8192)
def _checksum(path: Path, _stamp: tuple[int, int]) -> str:
    return checksums.code_sha256(path)


@functools.lru_cache(maxsize=8192)
def _file_checksum(path: Path, _stamp: tuple[int, int]) -> str:
    return checksums.file_sha256(path)


# sha256 of a file's bytes -> the checksum of its code, as the ledger and the adoption
# baseline recorded them: the code checksum is a function of the bytes, so a file whose
# bytes are unchanged is not parsed again (a history of hundreds of revisions is checked
# in milliseconds).
_KNOWN_CODE: dict[str, str] = {}


def remember(file_sha256: str | None, code_sha256: str) -> None:
    if file_sha256:
        _KNOWN_CODE[file_sha256] = code_sha256


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_mtime_ns, st.st_size


@dataclass(frozen=True)
class Revision:
    """One migration: its name in the tool's graph, its file, and what is below it."""

    id: str
    path: Path
    message: str
    down_revision: str | None = None
    # Every revision directly below: two or more for a merge, none at base.
    parents: tuple[str, ...] = ()
    dependencies: tuple[str, ...] = ()

    @property
    def sha256(self) -> str:
        """The checksum recorded when the revision is applied: of its code, the same on
        every Python (see :mod:`slipway.checksums`); computed once per file state."""
        stamp = _stamp(self.path)
        known = _KNOWN_CODE.get(_file_checksum(self.path, stamp))
        return known or _checksum(self.path, stamp)

    @property
    def file_sha256(self) -> str:
        """sha256 of the file's bytes, recorded beside :attr:`sha256`."""
        return _file_checksum(self.path, _stamp(self.path))

    def matches(self, recorded: str, recorded_file: str | None = None) -> bool:
        """The file does what it did when ``recorded`` was taken (by this slipway; by an
        older one, of its bytes or of ``ast.dump`` on another Python). ``recorded_file``:
        the sha256 of its bytes then; the same bytes need no parsing."""
        if recorded_file is not None and recorded_file == self.file_sha256:
            remember(recorded_file, recorded)
            return True
        return recorded == self.sha256 or recorded in checksums.legacy_sha256s(self.path)

    @property
    def below(self) -> tuple[str, ...]:
        """What must be applied before this revision: its parents and dependencies."""
        return self.parents + tuple(d for d in self.dependencies if d not in self.parents)


@dataclass(frozen=True)
class Rendered:
    """The offline SQL of one revision's step, and where it came from: (line of the
    SQL, line of the revision file whose code wrote it). ``error``: the revision's code
    raised offline (it reads the database, say); ``sql`` is then what it wrote before."""

    sql: str
    marks: list[tuple[int, int]]
    error: BaseException | None = None
    writes: tuple[int, ...] = ()  # where each of the tool's writes began in ``sql``


class Backend(abc.ABC):
    """One migration tool's project, read once per command. With ``run_revisions``
    false (read-only commands: status) the graph is read without running migration code
    where the tool allows it."""

    #: The value of ``backend:`` in slipway.yml that selects this class.
    name: ClassVar[str]
    #: How the team joins two heads, named in the refusal of a graph with several.
    merge_hint: ClassVar[str]
    #: The setting (of slipway.config.Options) naming the file that says where the
    #: project's migrations are, and what to do when it is missing.
    project_setting: ClassVar[str]
    missing_project_hint: ClassVar[str]

    @classmethod
    def missing_project(cls, path: Path) -> str:
        return f"backend: {cls.name}, but {path} does not exist"

    def __init__(self, settings: Settings, *, run_revisions: bool = True) -> None:
        self.settings = settings
        # The revision whose step the tool is running (or ran last) in migrate().
        self.running: str | None = None
        self._accepted: dict[str, dict[str, str]] | None = None
        self._baseline: dict[str, str] | None = None
        self._baseline_files: dict[str, str] = {}

    # where the project is, without reading it ----------------------------------------
    @property
    @abc.abstractmethod
    def folder(self) -> Path:
        """The folder of the project's migration settings: the baseline and the accepted
        findings are kept there, and paths in reports are shown from there."""

    @property
    @abc.abstractmethod
    def version_table(self) -> str:
        """The table in which the tool records what is applied (never slipway's to
        compare, restore or drop as the application's)."""

    @classmethod
    @abc.abstractmethod
    def recorded_heads(cls, settings: Settings, conn: Connection) -> tuple[str, ...] | None:
        """The revisions the tool's record in ``conn``'s database holds, read without
        the project's code; None where there is no record."""

    @classmethod
    @abc.abstractmethod
    def migrations_folder(cls, settings: Settings) -> Path | None:
        """The folder that holds the migration files, found without running any of the
        project's code; None where it cannot be told."""

    @classmethod
    def url_from_app(cls, raw: str) -> str:
        """A database URL from the variable the application reads (``database_url_env``),
        written as slipway reads URLs: the framework's own spelling made SQLAlchemy's."""
        return raw

    @classmethod
    def folder_head(cls, folder: Path) -> str:
        """The single head of the migrations in ``folder``, read without a project's
        settings: the head a bundle's image is labelled with."""
        raise BadInput(f"the {cls.name} backend cannot name the head of {folder} on its own")

    # the graph -----------------------------------------------------------------------
    @abc.abstractmethod
    def heads(self) -> tuple[str, ...]:
        """The revisions nothing is above."""

    def single_head(self) -> str:
        heads = self.heads()
        if len(heads) != 1:
            raise Refused(
                f"the migration graph has {len(heads)} heads: {', '.join(sorted(heads))}",
                check="single_head",
                hint=self.merge_hint,
            )
        return heads[0]

    @abc.abstractmethod
    def knows(self, revision: str) -> bool: ...

    @abc.abstractmethod
    def revision(self, revision: str) -> Revision: ...

    @abc.abstractmethod
    def all_revisions(self) -> list[Revision]:
        """Every revision of the graph, whatever its heads, each after those below it."""

    @abc.abstractmethod
    def applied(self, current: str | tuple[str, ...] | None) -> list[Revision]:
        """Revisions from base up to and including ``current`` (one or more heads),
        oldest first."""

    @abc.abstractmethod
    def pending(self, current: str | None, target: str) -> list[Revision]:
        """Revisions that an upgrade to ``target`` runs from ``current``, in order."""

    def is_below(self, lower: str, upper: str) -> bool:
        """``lower`` is ``upper`` or applied before it."""
        return lower == upper or lower in {r.id for r in self.applied(upper)}

    def history(self) -> list[Revision]:
        """Every revision from base to the single head, oldest first."""
        return self.pending(None, self.single_head())

    def above(self, revision: str) -> tuple[str | None, list[Revision]]:
        """``revision`` (or ``base``) as a start, and the revisions from it up to the head."""
        start = None if revision == "base" else revision
        if start is not None and not self.knows(start):
            raise BadInput(f"revision {start} is not in the migration graph")
        return start, self.pending(start, self.single_head())

    # what a revision's file declares ---------------------------------------------------
    @abc.abstractmethod
    def declared(self, revision: str, attribute: str) -> tuple[Any, Path | None]:
        """A module attribute of the revision's file (None when it has none), and the
        file; (None, None) for a revision not in the graph."""

    def phase_of(self, revision: str) -> str:
        """``pre`` (the default: runs before any host switches to the new version) or
        ``post`` (``slipway_phase = "post"`` in the revision's file: runs once every host
        serves the new version)."""
        phase, path = self.declared(revision, PHASE_ATTRIBUTE)
        phase = "pre" if phase is None else phase
        if phase not in PHASES:
            raise BadInput(
                f"{PHASE_ATTRIBUTE} in {path or revision} is {phase!r}",
                hint=f'write {PHASE_ATTRIBUTE} = "post" (or leave it out: "pre")',
            )
        return str(phase)

    def verify_check(self, revision: str) -> Callable[[Connection], object] | str | None:
        """A revision's own check of what its upgrade did: a ``verify(connection)``
        function (it raises, or returns False, when the upgrade did not do its job), or
        ``verify_sql``, a query whose first row's first value must be true."""
        check, path = self.declared(revision, "verify")
        sql, _ = self.declared(revision, "verify_sql")
        if check is not None and not callable(check):
            raise BadInput(
                f"verify in {path} is not a function",
                hint="write def verify(connection): ... (raise, or return False, to fail)",
            )
        if sql is not None and not (isinstance(sql, str) and sql.strip()):
            raise BadInput(
                f"verify_sql in {path} must be a query",
                hint='write verify_sql = "SELECT count(*) = 0 FROM t WHERE c IS NULL"',
            )
        return check if check is not None else sql

    def acceptances(self, revision: str) -> dict[str, str]:
        """The lint findings a revision accepts: ``slipway_accept = {rule: reason}`` in
        its file, or entries of ``slipway-accepted.yml`` (the file's own entry wins)."""
        if self._accepted is None:
            self._accepted = self._accepted_file()
        if not self.knows(revision):
            return {}
        from_file = dict(self._accepted.get(revision, {}))
        declared, path = self.declared(revision, ACCEPT_ATTRIBUTE)
        if declared is None:
            return from_file
        if not isinstance(declared, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in declared.items()
        ):
            raise BadInput(
                f"{ACCEPT_ATTRIBUTE} in {path} must map each rule to the reason it is accepted",
                hint=f'write {ACCEPT_ATTRIBUTE} = {{"ban-drop-column": "why this is safe"}}',
            )
        return from_file | {k: v.strip() for k, v in declared.items()}

    def _accepted_file(self) -> dict[str, dict[str, str]]:
        """``slipway-accepted.yml`` beside the project's settings: findings accepted for
        revisions the team does not own (a list of revision, rule, reason)."""
        path = self.folder / ACCEPTED_FILE
        if not path.is_file():
            return {}
        hint = "write a list of {revision: ID, rule: RULE, reason: WHY}"
        try:
            entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        except (OSError, yaml.YAMLError) as err:
            raise BadInput(f"{path} cannot be read as YAML", hint=hint) from err
        out: dict[str, dict[str, str]] = {}
        for entry in entries if isinstance(entries, list) else [entries]:
            fields = entry if isinstance(entry, dict) else {}
            rev, rule, reason = (str(fields.get(k) or "").strip() for k in _ACCEPT_KEYS)
            if not (rev and rule and reason):
                raise BadInput(f"{path} has an entry without revision, rule and reason", hint=hint)
            if not self.knows(rev):
                raise BadInput(f"{path} names revision {rev}, which is not in the graph")
            out.setdefault(rev, {})[rule] = reason
        return out

    def owns(self, rev: Revision) -> bool:
        """The revision is the team's own (not a library's, installed beside the project):
        the lint gate judges only those (a library's findings are reported), and only
        those must never change once applied (a library's change with its upgrades)."""
        return True

    # the adopted history -------------------------------------------------------------
    @property
    def baseline_path(self) -> Path:
        return self.folder / BASELINE_FILE

    def baseline(self) -> dict[str, str]:
        """revision -> checksum, of ``slipway-baseline.yml`` (``slipway db adopt``): the
        history as it stood when the team adopted slipway. Empty without the file."""
        if self._baseline is None:
            self._baseline = self._read_baseline()
        return self._baseline

    def _read_baseline(self) -> dict[str, str]:
        path = self.baseline_path
        if not path.is_file():
            return {}
        hint = "write it again with 'slipway db adopt', or restore it from the repository"
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SafeLoader)  # noqa: S506
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
            raise BadInput(f"{path} cannot be read as YAML", hint=hint) from err
        revisions = data.get("revisions") if isinstance(data, dict) else None
        files = (data.get("files") if isinstance(data, dict) else None) or {}
        if (
            not isinstance(revisions, dict)
            or not isinstance(files, dict)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in revisions.items())
        ):
            raise BadInput(f"{path} has no 'revisions' mapping of revision to sha256", hint=hint)
        self._baseline_files = {str(k): str(v) for k, v in files.items()}
        return dict(revisions)

    def in_baseline(self, rev: Revision) -> bool:
        """The revision was released before slipway was adopted, and is unchanged since:
        its lint findings are reported, never gating."""
        recorded = self.baseline().get(rev.id)
        return recorded is not None and rev.matches(recorded, self._baseline_files.get(rev.id))

    # the database's position -------------------------------------------------------------
    @abc.abstractmethod
    def current(self, conn: Connection) -> tuple[str, ...]:
        """The revisions the tool's record holds (its heads); () at base."""

    @abc.abstractmethod
    def probe(self, engine: Engine, guard: Guard) -> tuple[str, ...]:
        """Open the project's own connection once, with nothing to migrate: proves which
        database it reaches (the guard stops any other) and returns its heads. Changes
        nothing."""

    @abc.abstractmethod
    def probe_failed(self, err: Exception) -> BadInput:
        """The project's own code failed in :meth:`probe`, before any migration ran."""

    @abc.abstractmethod
    def stamp(self, conn: Connection, revision: str) -> None:
        """Record ``revision`` as the database's position, running no migration."""

    # SQL -------------------------------------------------------------------------------------
    @abc.abstractmethod
    def rendered(
        self, start: str | None, revisions: list[Revision], *, up: bool
    ) -> dict[str, Rendered]:
        """The SQL of each of ``revisions`` (from above ``start`` up to the last of them,
        oldest first), rendered without a database: upward, or downward from the last
        back to ``start``. A revision whose code raises offline carries the error; the
        others render on. Cached: lint and render of one command share a pass."""

    @abc.abstractmethod
    def rendered_already(
        self, start: str | None, revisions: list[Revision], *, up: bool
    ) -> dict[str, Rendered] | None:
        """What :meth:`rendered` gave for these revisions earlier in this command, or
        None: renders nothing."""

    # running -------------------------------------------------------------------------------
    @abc.abstractmethod
    def migrate(
        self,
        engine: Engine,
        guard: Guard,
        *,
        up: bool,
        destination: str | None,
        url: URL,
        rev: Revision | None = None,
        on_step: Callable[[str, bool], None] | None = None,
    ) -> None:
        """Upgrade or downgrade to ``destination`` (a revision, or None for base), one
        transaction per revision where the dialect allows, every connection under
        ``guard``. ``on_step(revision, done)`` is called as each revision's step begins,
        and once its transaction has committed."""

    def downgrade_one(self, engine: Engine, guard: Guard, rev: Revision, url: URL) -> None:
        """Downgrade ``rev`` alone, whatever other heads the database has."""
        self.migrate(engine, guard, up=False, destination=rev.down_revision, url=url, rev=rev)

    @abc.abstractmethod
    def model_drift(self, engine: Engine, guard: Guard, url: URL) -> list[str]:
        """How the project's models differ from the database (empty: they match)."""
