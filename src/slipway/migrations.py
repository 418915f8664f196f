"""The Alembic project being released: its revision graph, files, SQL and the runs.

One :class:`Project` per command: its ``ScriptDirectory`` is read once, so every
revision module is imported once however many revisions a command renders, lints or
applies. Every Alembic operation runs the project's own env.py through
:meth:`Project.run_env`, under a :class:`~slipway.guard.Guard` that allows one database.

Rendering and applying go through the same env.py and the same revision functions, so
the SQL a reviewer reads is produced by the code path that later runs against the
database.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import importlib.util
import io
import logging
import os
import sys
import types
from bisect import bisect_left
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from alembic import command
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from alembic.script.revision import RevisionMap
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, inspect
from sqlalchemy.engine import URL

from slipway import checksums, logs
from slipway.config import Settings
from slipway.errors import BadInput, Refused, SlipwayError, first_line
from slipway.guard import Guard

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=8192)
def _checksum(path: Path, _stamp: tuple[int, int]) -> str:
    return checksums.code_sha256(path)


@functools.lru_cache(maxsize=8192)
def _file_checksum(path: Path, _stamp: tuple[int, int]) -> str:
    return checksums.file_sha256(path)


# libyaml's safe loader where PyYAML was built with it: the baseline of a long history
# is read in a hundredth of the time.
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

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


ACCEPT_ATTRIBUTE = "slipway_accept"
ACCEPTED_FILE = "slipway-accepted.yml"
# Beside the Alembic ini, written by `slipway db adopt`: the revisions released before
# slipway watched the project, each with its checksum.
BASELINE_FILE = "slipway-baseline.yml"
_ACCEPT_KEYS = ("revision", "rule", "reason")
# Options of env.py's context.configure() that say where the revision is recorded.
_VERSION_OPTIONS = ("version_table", "version_table_schema")
_USED_TABLE = "_used_version_table"
# What a revision file declares about its place in the graph.
# What a read-only command reads from each revision file without running it (the
# graph, and the phase of a rolling deploy).
_DECLARED = ("revision", "down_revision", "branch_labels", "depends_on", "slipway_phase")


@dataclass(frozen=True)
class Revision:
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
    writes: tuple[int, ...] = ()  # where each of Alembic's writes began in ``sql``


def _offline_guarded(
    fn: Callable[..., Any], revision: str, failed: dict[str, BaseException]
) -> Callable[..., Any]:
    """``fn`` (a revision's upgrade or downgrade) rendering offline: an exception is kept
    for its revision, and the revisions after it render on."""

    @functools.wraps(fn)
    def guarded(**kw: Any) -> Any:
        try:
            return fn(**kw)
        except Exception as err:
            if env_error(err) is not None:
                raise
            failed[revision] = err
            return None

    return guarded


def _environment(
    cfg: Config, script: ScriptDirectory, *, extra: dict[str, Any], seen: dict[str, Any], **kw: Any
) -> EnvironmentContext:
    """env.py's ``context``: whatever env.py configures, slipway adds what it needs
    (no version-table creation for a probe) and reads back the version-table options.
    alembic proxies ``context.configure`` to this instance's attribute."""
    env = EnvironmentContext(cfg, script, **kw)
    configure = env.configure

    def configure_with_slipway(*args: Any, **options: Any) -> None:
        seen.update({k: options[k] for k in _VERSION_OPTIONS if options.get(k) is not None})
        # The table env.py really uses: Alembic's own default where it names none.
        seen[_USED_TABLE] = options.get("version_table") or "alembic_version"
        configure(*args, **{**options, **extra})

    env.configure = configure_with_slipway  # type: ignore[method-assign]
    return env


# What slipway promises whatever env.py configures: each revision commits on its own (a
# revision using autocommit_block() owns its transactions), so a failure stops between
# revisions, and the rendered SQL shows the same BEGIN/COMMIT per revision.
ONE_TRANSACTION_PER_REVISION = {"transaction_per_migration": True}

_StepsFn = Callable[[Any, MigrationContext], Iterable[Any]]


@dataclass
class _EnvRun:
    heads: tuple[str, ...] = ()
    seen: dict[str, Any] = field(default_factory=dict)


def _declared_script(script: ScriptDirectory, path: Path) -> Script | None:
    """A revision file read for what it declares (revision, down_revision, branch_labels,
    depends_on, its docstring) without running it. A file whose declarations are not
    plain literals is imported as Alembic does."""
    if script.sourceless or path.suffix != ".py":
        return Script._from_path(script, path)
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError):
        return Script._from_path(script, path)  # fails as Alembic's own import would
    found: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name) and target.id in _DECLARED:
                try:
                    found[target.id] = ast.literal_eval(value)
                except ValueError:
                    return Script._from_path(script, path)
    if not isinstance(found.get("revision"), str) or "down_revision" not in found:
        return Script._from_path(script, path)
    module = types.ModuleType(path.stem, ast.get_docstring(tree))
    for name, value in found.items():
        setattr(module, name, value)
    return Script(module, found["revision"], str(path))


def _declared_revisions(script: ScriptDirectory) -> Iterable[Script]:
    """The revision files of ``script`` as :func:`_declared_script` reads them, found
    where Alembic finds them (version locations, recursive or not)."""
    seen: set[Path] = set()
    for folder in map(Path, script._version_locations):  # str before alembic 1.15
        if not folder.exists():
            continue
        for path in map(Path, Script._list_py_dir(script, folder)):
            real = path.resolve()
            if real in seen:
                continue
            seen.add(real)
            found = _declared_script(script, real)
            if found is not None:
                yield found


# A revision's phase in a rolling deploy (module attribute): pre (default) or post.
PHASE_ATTRIBUTE = "slipway_phase"
PHASES = ("pre", "post")

# The async driver of each backend, for an env.py that builds an async engine from a
# URL written with the sync one (alembic init -t async with sqlite:///app.db).
_ASYNC_DRIVERS = {
    "sqlite": "aiosqlite",
    "postgresql": "asyncpg",
    "mysql": "aiomysql",
    "mariadb": "aiomysql",
}


def async_variant(url: URL) -> URL:
    """``url`` with its backend's async driver (as it is, when it names one already)."""
    with contextlib.suppress(Exception):  # a driver that does not load: judged by the caller
        if getattr(url.get_dialect(), "is_async", False):
            return url
    backend = url.get_backend_name()
    driver = _ASYNC_DRIVERS.get(backend)
    return url.set(drivername=f"{backend}+{driver}") if driver else url


def _needs_async_driver(err: BaseException) -> bool:
    """SQLAlchemy's answer to an async engine built on a sync driver."""
    seen: BaseException | None = err
    while seen is not None:
        if "requires an async driver" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def script_folder(ini: Path) -> Path | None:
    """The folder of env.py and the revisions that ``ini`` names, read from the ini
    alone (no file of the project runs); None where it names no folder (a package)."""
    location = Config(str(ini)).get_main_option("script_location")
    here = ini.parent
    if location is None:  # Flask-Migrate: the ini beside env.py
        return here if (here / "env.py").is_file() else None
    for folder in (here / location, Path(location)):
        if folder.is_dir():
            return folder
    return None


def version_heads(conn: Connection, version_options: dict[str, Any]) -> tuple[str, ...] | None:
    """The revisions the version table named by ``version_options`` holds (Alembic's
    ``version_table`` and ``version_table_schema``); None where there is no such table."""
    table = version_options["version_table"]
    if not inspect(conn).has_table(table, schema=version_options.get("version_table_schema")):
        return None
    ctx = MigrationContext.configure(conn, opts=dict(version_options))
    return tuple(ctx.get_current_heads())


class Project:
    """An Alembic project, read once from its ini file. With ``run_revisions`` false
    (read-only commands: status) the revision graph is read from what each file
    declares, and no revision file runs."""

    def __init__(self, settings: Settings, *, run_revisions: bool = True) -> None:
        self.settings = settings
        self.ini = settings.alembic_ini
        # Learned from env.py's configure() on the first online run (version_table ...).
        self.version_options: dict[str, Any] = {"version_table": settings.options.version_table}
        # The revision whose step env.py is running (or ran last) in migrate().
        self.running: str | None = None
        self._accepted: dict[str, dict[str, str]] | None = None
        self._rendered: dict[tuple[str | None, str, bool], dict[str, Rendered]] = {}
        self._flask_app: Any = None
        # env.py builds an async engine from sqlalchemy.url: it gets the async driver.
        self._async_env = False
        self._baseline: dict[str, str] | None = None
        self._baseline_files: dict[str, str] = {}
        self._chains: dict[tuple[str | tuple[str, ...], str], tuple[Revision, ...]] = {}
        try:
            self.script = ScriptDirectory.from_config(self._config())
            if not run_revisions:
                script = self.script
                script.revision_map = RevisionMap(lambda: _declared_revisions(script))
            self._let_env_place_versions()
            # Reads every revision file (the graph is built whole); a walk is not needed.
            revisions = self.script.get_heads()
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

    def _let_env_place_versions(self) -> None:
        """Run env.py once offline, with nothing to migrate, before the revision graph is
        read: env.py may set ``context.script.version_locations`` (Alembic reads the
        graph lazily, after env.py, and ``revision_environment`` runs env.py for
        ``alembic revision`` for this reason). No database may be reached; an env.py
        that fails here fails again, with its own error, when the command runs it."""
        try:
            run = self.run_env(
                lambda _heads, _ctx: (),
                url=self._offline_url(),
                guard=Guard(allowed=None),
                as_sql=True,
                output=io.StringIO(),
            )
        except Exception as err:  # noqa: BLE001 - reported by the command's own run
            log.debug("env.py did not run offline: %s", err)
            return
        # Where env.py keeps the version table, until an online run says otherwise.
        self._learn(run.seen)

    def _learn(self, seen: dict[str, Any]) -> None:
        """Take the version-table options env.py configured (the last run's win). A
        ``version_table`` in slipway.yml must name the table env.py
        uses (else slipway would read one table and env.py write another): bad input,
        before anything is read or changed."""
        options = self.settings.options
        used = seen.get(_USED_TABLE)
        declared = "version_table" in options.model_fields_set
        if declared and used and used != options.version_table:
            raise BadInput(
                f"version_table: {options.version_table} in the settings of "
                f"'{self.settings.env}', but env.py keeps the revision in table {used}",
                hint="remove version_table from slipway.yml (slipway reads env.py's), or "
                f"have env.py pass version_table='{options.version_table}' to "
                "context.configure()",
            )
        self.version_options.update({k: v for k, v in seen.items() if k in _VERSION_OPTIONS})

    def _config(self, *, output: io.StringIO | None = None) -> Config:
        cfg = Config(str(self.ini), output_buffer=output)
        # Keep slipway's logging: env.py files that honour this skip fileConfig().
        cfg.attributes["configure_logger"] = False
        self._from_the_ini_folder(cfg)
        return cfg

    def _from_the_ini_folder(self, cfg: Config) -> None:
        """Paths in the ini are meant from the project's folder, as Alembic is run there:
        slipway, run from anywhere inside the project, reads them from the ini's folder.
        Flask-Migrate keeps alembic.ini beside env.py without a ``script_location`` (it
        sets one itself): that folder is the script location."""
        here = self.ini.parent
        location = cfg.get_main_option("script_location")
        if location is None:
            if (here / "env.py").is_file():
                cfg.set_main_option("script_location", str(here).replace("%", "%%"))
            return
        if Path.cwd().resolve() == here.resolve():
            return
        if (
            not os.path.isabs(location)
            and not Path(location).is_dir()
            and (here / location).is_dir()
        ):
            cfg.set_main_option("script_location", str(here / location).replace("%", "%%"))
        listed = getattr(cfg, "get_prepend_sys_paths_list", None)  # alembic 1.16 and newer
        for entry in (listed() or []) if listed else []:
            full = str(here / entry)
            if not os.path.isabs(entry) and full not in sys.path:
                sys.path.insert(0, full)

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
        parents = tuple(script._versioned_down_revisions)
        return Revision(
            id=script.revision,
            path=Path(script.path),
            message=script.doc or "",
            down_revision=parents[0] if parents else None,
            parents=parents,
            dependencies=tuple(script._resolved_dependencies),
        )

    def revision(self, revision: str) -> Revision:
        script = self.script.get_revision(revision)
        if script is None:
            raise BadInput(f"revision {revision} is not in the migration graph")
        return self._revision(script)

    def all_revisions(self) -> list[Revision]:
        """Every revision of the graph, whatever its heads, each after those below it."""
        return [self._revision(s) for s in reversed(list(self.script.walk_revisions()))]

    def history(self) -> list[Revision]:
        """Every revision from base to the single head, oldest first."""
        return self.pending(None, self.single_head())

    def above(self, revision: str) -> tuple[str | None, list[Revision]]:
        """``revision`` (or ``base``) as a start, and the revisions from it up to the head."""
        start = None if revision == "base" else revision
        if start is not None and not self.knows(start):
            raise BadInput(f"revision {start} is not in the migration graph")
        return start, self.pending(start, self.single_head())

    def _accepted_file(self) -> dict[str, dict[str, str]]:
        """``slipway-accepted.yml`` beside the ini file: findings accepted for revisions
        the team does not own (a list of revision, rule, reason)."""
        path = self.ini.parent / ACCEPTED_FILE
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

    @property
    def baseline_path(self) -> Path:
        return self.ini.parent / BASELINE_FILE

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

    def acceptances(self, revision: str) -> dict[str, str]:
        """The lint findings a revision accepts: ``slipway_accept = {rule: reason}`` in
        its file, or entries of ``slipway-accepted.yml`` (the file's own entry wins)."""
        if self._accepted is None:
            self._accepted = self._accepted_file()
        script = self.script.get_revision(revision)
        if script is None:
            return {}
        from_file = dict(self._accepted.get(script.revision, {}))
        declared = getattr(script.module, ACCEPT_ATTRIBUTE, None)
        if declared is None:
            return from_file
        if not isinstance(declared, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in declared.items()
        ):
            raise BadInput(
                f"{ACCEPT_ATTRIBUTE} in {script.path} must map each rule to the reason "
                "it is accepted",
                hint=f'write {ACCEPT_ATTRIBUTE} = {{"ban-drop-column": "why this is safe"}}',
            )
        return from_file | {k: v.strip() for k, v in declared.items()}

    def phase_of(self, revision: str) -> str:
        """``pre`` (the default: runs before any host switches to the new version) or
        ``post`` (``slipway_phase = "post"`` in the revision's file: runs once every host
        serves the new version)."""
        script = self.script.get_revision(revision)
        phase = getattr(script.module, PHASE_ATTRIBUTE, "pre") if script is not None else "pre"
        if phase not in PHASES:
            raise BadInput(
                f"{PHASE_ATTRIBUTE} in {script.path if script else revision} is {phase!r}",
                hint=f'write {PHASE_ATTRIBUTE} = "post" (or leave it out: "pre")',
            )
        return str(phase)

    def verify_check(self, revision: str) -> Callable[[Connection], object] | str | None:
        """A revision's own check of what its upgrade did: a ``verify(connection)``
        function (it raises, or returns False, when the upgrade did not do its job), or
        ``verify_sql``, a query whose first row's first value must be true."""
        script = self.script.get_revision(revision)
        if script is None:
            return None
        check = getattr(script.module, "verify", None)
        sql = getattr(script.module, "verify_sql", None)
        if check is not None and not callable(check):
            raise BadInput(
                f"verify in {script.path} is not a function",
                hint="write def verify(connection): ... (raise, or return False, to fail)",
            )
        if sql is not None and not (isinstance(sql, str) and sql.strip()):
            raise BadInput(
                f"verify_sql in {script.path} must be a query",
                hint='write verify_sql = "SELECT count(*) = 0 FROM t WHERE c IS NULL"',
            )
        return check if check is not None else sql

    def applied(self, current: str | tuple[str, ...] | None) -> list[Revision]:
        """Revisions from base up to and including ``current`` (one or more heads),
        oldest first."""
        if not current:
            return []
        return list(self._chain(current, "base"))

    def pending(self, current: str | None, target: str) -> list[Revision]:
        """Revisions that ``upgrade target`` would run from ``current``, in order."""
        lower = current or "base"
        if lower == target:
            return []
        return list(self._chain(target, lower))

    def _chain(self, upper: str | tuple[str, ...], lower: str) -> tuple[Revision, ...]:
        """Alembic's walk from ``lower`` (exclusive) up to ``upper``, oldest first; the
        graph does not change while a command runs, so each walk is made once (a long
        history's walk takes tens of milliseconds, and a release asks several times)."""
        key = (upper, lower)
        if key not in self._chains:
            chain = [self._revision(s) for s in self.script.iterate_revisions(upper, lower)]
            self._chains[key] = tuple(reversed(chain))
        return self._chains[key]

    # the database's position -------------------------------------------------------
    def current(self, conn: Connection) -> tuple[str, ...]:
        return version_heads(conn, self.version_options) or ()

    # running env.py ---------------------------------------------------------------------
    def _env_config(
        self, url: URL, connection: Connection | None, output: io.StringIO | None = None
    ) -> Config:
        cfg = self._config(output=output)
        if connection is not None:
            cfg.attributes["connection"] = connection
        raw = url.render_as_string(hide_password=False)
        cfg.set_main_option("sqlalchemy.url", raw.replace("%", "%%"))
        return cfg

    def run_env(
        self,
        steps: _StepsFn,
        *,
        url: URL,
        guard: Guard | None,
        connection: Connection | None = None,
        as_sql: bool = False,
        output: io.StringIO | None = None,
        starting_rev: str | None = None,
        destination_rev: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> _EnvRun:
        """Run env.py once, with ``steps(heads, context)`` as the migration function.

        env.py finds ``url`` as ``sqlalchemy.url`` and ``connection`` (outside any
        transaction: a revision owns its transactions) in ``config.attributes``.
        """
        if self._async_env and not as_sql:
            url = async_variant(url)
        cfg = self._env_config(url, connection, output)
        result = _EnvRun()
        began = False

        def fn(heads: Any, context: MigrationContext) -> Iterable[Any]:
            nonlocal began
            began = True
            result.heads = tuple(heads or ())
            return steps(heads, context)

        env = _environment(
            cfg,
            self.script,
            fn=fn,
            as_sql=as_sql,
            starting_rev=starting_rev,
            destination_rev=destination_rev,
            extra=extra or {},
            seen=result.seen,
        )
        guarded = guard.active() if guard else nullcontext()
        try:
            with logs.preserved(), self._app_context(), guarded, env:
                self.script.run_env()
        except Exception as err:
            if began or as_sql or self._async_env or not _needs_async_driver(err):
                raise
            # env.py builds an async engine from sqlalchemy.url (alembic init -t async)
            # and the URL names a sync driver: nothing ran; env.py gets the same
            # database through the async driver from now on.
            self._use_async_driver(url)
            return self.run_env(
                steps,
                url=url,
                guard=guard,
                connection=connection,
                output=output,
                starting_rev=starting_rev,
                destination_rev=destination_rev,
                extra=extra,
            )
        if not as_sql:
            self._learn(result.seen)
        return result

    def _use_async_driver(self, url: URL) -> None:
        wanted = async_variant(url)
        module = wanted.drivername.partition("+")[2]
        if wanted.drivername == url.drivername or importlib.util.find_spec(module) is None:
            raise BadInput(
                f"env.py builds an async engine, and the URL names the sync driver "
                f"'{url.drivername}': it needs '{wanted.drivername}'"
                + ("" if wanted.drivername == url.drivername else f" ({module} is not installed)"),
                hint="pip install 'slipway-release[async]', or write the URL with the async "
                "driver (sqlite+aiosqlite://, postgresql+asyncpg://, mysql+aiomysql://)",
            )
        log.info("env.py builds an async engine: it gets the URL with driver %s", wanted.drivername)
        self._async_env = True

    def _app_context(self) -> AbstractContextManager[Any]:
        """An env.py written for Flask-Migrate reads ``current_app``: as ``flask db``
        does, slipway runs it inside an application context of the app ``FLASK_APP``
        names (loaded once per command). Nothing when FLASK_APP is not set."""
        name = os.environ.get("FLASK_APP")
        if not name:
            return nullcontext()
        if self._flask_app is None:
            try:
                from flask.cli import ScriptInfo
            except ImportError:
                return nullcontext()
            try:
                self._flask_app = ScriptInfo(app_import_path=name).load_app()
            except Exception as err:
                raise BadInput(
                    f"FLASK_APP={name} cannot be loaded: {type(err).__name__}: {first_line(err)}",
                    hint="run slipway where 'flask db current' works, or unset FLASK_APP",
                ) from err
        return self._flask_app.app_context()  # type: ignore[no-any-return]

    def _upgrade_steps(self, destination: str) -> _StepsFn:
        return lambda heads, _ctx: self.script._upgrade_revs(destination, heads)

    def _downgrade_steps(self, destination: str) -> _StepsFn:
        return lambda heads, _ctx: self.script._downgrade_revs(destination, heads)

    def _one_down_steps(self, rev: Revision) -> _StepsFn:
        # Walked from this revision alone, not from every head: a downgrade to the
        # parent of a branch revision must not take the sibling branch down too.
        destination = rev.down_revision or "base"
        return lambda _heads, _ctx: self.script._downgrade_revs(destination, rev.id)

    def probe(self, engine: Engine, guard: Guard) -> tuple[str, ...]:
        """Run env.py online with nothing to migrate: proves which database it reaches
        (the guard stops any other), learns its version-table options, returns the
        database's heads. Changes nothing (no version table is created)."""
        with engine.connect() as conn:
            run = self.run_env(
                lambda _heads, _ctx: (),
                url=self.settings.url,
                guard=guard,
                connection=_outside_transaction(conn),
                extra={"dont_mutate": True},
            )
            if conn.in_transaction():
                conn.rollback()
        return run.heads

    # SQL ------------------------------------------------------------------------------
    def _offline_url(self) -> URL:
        # The offline script only needs the dialect: hand env.py a URL without password.
        return self.settings.url.set(password=None)

    def _render(
        self, steps: _StepsFn, start: Any, destination: str, buf: io.StringIO | None = None
    ) -> str:
        buf = buf or io.StringIO()
        self.run_env(
            steps,
            url=self._offline_url(),
            guard=None,
            as_sql=True,
            output=buf,
            starting_rev=start,
            destination_rev=destination,
            extra=dict(ONE_TRANSACTION_PER_REVISION),
        )
        return buf.getvalue()

    def rendered(
        self, start: str | None, revisions: list[Revision], *, up: bool
    ) -> dict[str, Rendered]:
        """The SQL of each of ``revisions`` (from above ``start`` up to the last of them,
        oldest first) in one offline run of env.py: ``upgrade start:last --sql``, or
        ``downgrade last:start --sql``, cut where each revision's step begins. A
        revision whose code raises offline carries the error; the others render on.
        Cached: lint and render of one command share a pass."""
        if not revisions:
            return {}
        key = (start, revisions[-1].id, up)
        if key not in self._rendered:
            last = revisions[-1].id
            if up:
                steps, begin, end = self._upgrade_steps(last), start, last
            else:
                steps, begin, end = self._downgrade_steps(start or "base"), last, start or "base"
            self._rendered[key] = self._render_each(steps, begin, end, revisions)
        return self._rendered[key]

    def rendered_already(
        self, start: str | None, revisions: list[Revision], *, up: bool
    ) -> dict[str, Rendered] | None:
        """What :meth:`rendered` gave for these revisions earlier in this command, or None:
        never runs env.py."""
        if not revisions:
            return {}
        return self._rendered.get((start, revisions[-1].id, up))

    def _render_each(
        self, steps: _StepsFn, start: Any, destination: str, revisions: list[Revision]
    ) -> dict[str, Rendered]:
        buf = _TracedOutput()
        cuts: list[tuple[str, int, int]] = []  # revision, offset and line where it began
        failed: dict[str, BaseException] = {}

        def each(heads: Any, ctx: MigrationContext) -> Iterable[Any]:
            for step in steps(heads, ctx):
                script = step.revision
                cuts.append((script.revision, buf.size, buf.lines))
                buf.source = _real(script.path)
                step.migration_fn = _offline_guarded(step.migration_fn, script.revision, failed)
                yield step

        try:
            self._render(each, start, destination, buf)
        except Exception as err:
            if env_error(err) is not None:
                raise
            # env.py itself failed: what was not rendered yet carries its error
            ran = {rev for rev, _, _ in cuts}
            failed.update({r.id: err for r in revisions if r.id not in ran})
        sql = buf.getvalue()
        mark_lines = [at for at, _ in buf.marks]
        out: dict[str, Rendered] = {}
        for i, (rev, offset, line) in enumerate(cuts):
            end, end_line = cuts[i + 1][1:] if i + 1 < len(cuts) else (len(sql), buf.lines + 1)
            if i == 0:  # what env.py wrote before the first step goes with it
                offset, line = 0, 0
            # marks and writes are in order: take each revision's slice, not a scan
            first, past = bisect_left(mark_lines, line), bisect_left(mark_lines, end_line)
            marks = [(at - line, src) for at, src in buf.marks[first:past]]
            first, past = bisect_left(buf.writes, offset), bisect_left(buf.writes, end)
            writes = tuple(w - offset for w in buf.writes[first:past])
            out[rev] = Rendered(sql[offset:end], marks, failed.get(rev), writes)
        for rev, raised in failed.items():
            out.setdefault(rev, Rendered("", [], raised))
        return out

    # running -------------------------------------------------------------------------
    def downgrade_one(self, engine: Engine, guard: Guard, rev: Revision, url: URL) -> None:
        """Downgrade ``rev`` alone, whatever other heads the database has."""
        self.migrate(engine, guard, up=False, destination=rev.down_revision, url=url, rev=rev)

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
        """``upgrade``/``downgrade`` to ``destination`` (a revision or ``base``) through
        env.py, in one run of it, on a connection of ``engine`` handed over.
        ``on_step(revision, done)`` is called as each revision's step begins, and once its
        transaction has committed."""
        target = destination or "base"
        if rev is not None and not up:
            inner = self._one_down_steps(rev)
        else:
            inner = self._upgrade_steps(target) if up else self._downgrade_steps(target)
        self.running = None

        def steps(heads: Any, ctx: MigrationContext) -> Iterable[Any]:
            for step in inner(heads, ctx):
                # alembic takes one step at a time: the last one named is the one running
                self.running = getattr(getattr(step, "revision", None), "revision", None)
                if on_step and self.running:
                    on_step(self.running, False)
                yield step
                # alembic asks for the next step once this one's transaction has ended
                if on_step and self.running:
                    on_step(self.running, True)

        with guard.active(), engine.connect() as conn:
            self.run_env(
                steps,
                url=url,
                guard=None,
                connection=_outside_transaction(conn),
                destination_rev=target,
                extra=dict(ONE_TRANSACTION_PER_REVISION),
            )
            # An env.py that never began a transaction of its own leaves the
            # autobegun one open: what it ran is meant to last.
            if conn.in_transaction():
                conn.commit()

    def check_models(self, engine: Engine, guard: Guard, url: URL) -> None:
        """``alembic check``: raises AutogenerateDiffsDetected when models and database differ."""
        with guard.active(), engine.connect() as conn:
            cfg = self._env_config(url, _outside_transaction(conn))
            cfg.stdout = io.StringIO()  # alembic prints its verdict; slipway reports it
            with logs.preserved(), self._app_context():
                command.check(cfg)
            if conn.in_transaction():
                conn.rollback()


@functools.lru_cache(maxsize=4096)
def _real(path: str) -> str:
    return os.path.realpath(path)


class _TracedOutput(io.StringIO):
    """Offline SQL output that notes, for each write, the line of ``source`` (the revision
    file being rendered) whose code was running: lint points at the ``op.*`` call, not
    at ``upgrade``."""

    def __init__(self) -> None:
        super().__init__()
        self.source = ""
        self.lines = 0
        self.size = 0
        self.marks: list[tuple[int, int]] = []
        self.writes: list[int] = []

    def write(self, text: str) -> int:
        self.writes.append(self.size)
        self.size += len(text)
        frame = sys._getframe(1)
        while frame is not None:
            if _real(frame.f_code.co_filename) == self.source:
                self.marks.append((self.lines, frame.f_lineno))
                break
            frame = frame.f_back  # type: ignore[assignment]
        self.lines += text.count("\n")
        return super().write(text)


def _outside_transaction(conn: Connection) -> Connection:
    if conn.in_transaction():
        conn.commit()
    return conn


def env_error(err: Exception) -> SlipwayError | None:
    """The guard's refusal, wherever env.py or alembic wrapped it."""
    seen: set[int] = set()
    cur: BaseException | None = err
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, SlipwayError):
            return cur
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return None
