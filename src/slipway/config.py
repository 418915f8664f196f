"""Environments and the settings object every step takes.

One YAML file (``slipway.yml`` by default) names the environments; each says where its
database URL comes from. A URL that carries a password must come from an environment
variable, never from the file. ``--db-url`` and ``--alembic-ini`` override the file, and
without a file they are enough on their own, so any Alembic project can be pointed at.
"""

from __future__ import annotations

import dataclasses
import os
import re
import reprlib
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from slipway import dialects, rulenames
from slipway.errors import BadInput

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CONFIG_ENV = "SLIPWAY_CONFIG"
DEFAULT_CONFIG = "slipway.yml"
# The migration tools a project's environment may name (``backend:``).
BackendName = Literal["alembic", "django", "aerich"]
BACKEND_NAMES: tuple[str, ...] = ("alembic", "django", "aerich")

REHEARSE_MODES = ("always", "live", "never")
LINT_LEVELS = ("error", "warning", "never")
RULE_LEVELS = ("error", "warning", "off")

Seconds = Annotated[float, Field(gt=0, le=86_400)]


# How a release backs the database up (see Options.backup).
BackupMethod = Literal["full", "targeted", "restore_point"]
BACKUP_METHODS = ("full", "targeted", "restore_point")


class Options(BaseModel):
    """Every setting of an environment, declared once with its type and bounds: the
    schema of ``defaults:`` and of each entry of ``environments:`` in slipway.yml.
    Values are taken as written: a quoted "false" is not a boolean, and an unknown key
    is an error."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)

    # The migration tool of the project: alembic (the default) or django (manage_py:
    # the project's manage.py, beside slipway.yml by default; django_settings names the
    # settings module, else DJANGO_SETTINGS_MODULE does).
    # aerich: aerich's settings in aerich_pyproject (pyproject.toml beside slipway.yml).
    backend: BackendName = "alembic"
    alembic_ini: str = "alembic.ini"
    manage_py: str = "manage.py"
    aerich_pyproject: str = "pyproject.toml"
    django_settings: str | None = Field(None, min_length=1, pattern=r"^[A-Za-z_][\w.]*$")
    artifacts_dir: str = "artifacts"
    # Run folders kept under artifacts_dir; older ones are pruned when a run begins.
    artifacts_keep: int = Field(50, ge=1)
    # A release backs the database up before it changes anything: how (a method or a
    # list of them). full (or true): a dump of the database, restored by slipway when a
    # rollback fails. targeted: a dump of the tables the pending SQL puts at risk (and
    # the schema of everything). restore_point (PostgreSQL with WAL archiving through
    # pgBackRest; MariaDB/MySQL with binary logging and a base backup): a point the
    # server can be recovered to, taken before anything changes; slipway never rewinds
    # the server itself, a failed rollback ends needs_attention with the point-in-time
    # recovery command. false opts an environment out (a scratch database,
    # a tenant restored from elsewhere): then no rehearsal runs, and a failed downgrade
    # ends needs_attention, with nothing to restore.
    backup: bool | BackupMethod | tuple[BackupMethod, ...] = True
    # restore_point: the archive may be this far behind when the release begins, and
    # the restore point's WAL must be archived within this time.
    archive_max_lag_s: float = Field(60.0, gt=0, le=86400)
    # restore_point: the pgBackRest stanza that archives this server's WAL, and its
    # configuration file when not pgBackRest's default.
    pgbackrest_stanza: str | None = Field(None, min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    pgbackrest_config: str | None = Field(None, min_length=1)
    # restore_point on MariaDB/MySQL: the folder, on the database host, of a physical
    # base backup (mariadb-backup or xtrabackup) the recovery starts from; the binary
    # logs from its position on must still be on the server.
    pitr_base_backup: str | None = Field(None, min_length=1)
    # restore_point: how the server is stopped and started around the recovery, in the
    # printed command ({data_directory}, {socket}: the server's, as it reports them).
    # Unset: pg_ctl stop/start on PostgreSQL, systemctl stop/start mariadb (or mysql).
    pitr_stop_command: str | None = Field(None, min_length=1)
    pitr_start_command: str | None = Field(None, min_length=1)
    backup_dir: str = "var/backups/{env}"
    backup_keep: int = Field(5, ge=1)
    # PostgreSQL only: more than 1 writes a directory-format dump with that many jobs.
    backup_jobs: int = Field(1, ge=1, le=64)
    # Free space needed beside the backup, as a multiple of the database's size.
    backup_min_free_ratio: float = Field(2.0, ge=0)
    # lock_timeout of each try of a revision: the retry ladder.
    # Each try of a revision waits at most this long for a lock: the application's
    # blocking budget (it queues behind the migration's lock request meanwhile).
    lock_timeouts_s: tuple[Seconds, ...] = Field((1.0,), min_length=1)
    lock_retry_pause_s: float = Field(1.0, ge=0, le=3600)
    # After the ladder, tries go on at its last lock timeout, with growing, jittered
    # pauses, until this many seconds have passed since the revision's first try; then
    # the release rolls back. Never an untimed wait. 0: the ladder alone.
    lock_retry_window_s: float = Field(300.0, ge=0, le=86400)
    # Off unless set: on a lock timeout, end the sessions that hold the lock and whose
    # transaction has been open this long (PostgreSQL), then retry. Recorded in the run.
    terminate_blockers_after_s: float | None = Field(None, gt=0)
    statement_timeout_s: Seconds = 900.0
    claim_lease_s: Seconds = 900.0
    # When a downgrade fails (in a rollback, or already in the rehearsal): restore the
    # release's backup. false: a rollback whose downgrade fails stops with the restore
    # command, and a rehearsal whose downgrade fails refuses the release.
    restore_on_failed_rollback: bool = True
    # The live schema against the one the last run left (its verify step's): differences
    # made outside slipway (a column added by hand) refuse a release, or are a warning.
    # Unset: refuse where no restore is automatic, warn where it is.
    drift: Literal["warn", "refuse"] | None = None
    development: bool = False
    version_table: str = Field("alembic_version", min_length=1)
    # The lint gate of preflight: refuse pending revisions with unaccepted findings of
    # this severity or worse, and per-rule severities.
    lint_fail_on: Literal["error", "warning", "never"] = "error"
    lint_rules: dict[str, Literal["error", "warning", "off"]] = Field(default_factory=dict)
    # Rehearse the pending revisions (up, down, up) on a scratch copy made from the
    # release's backup: always, live (only when a revision needs a live connection) or
    # never. Above rehearsal_max_bytes of backup the copy is schema-only.
    rehearse: Literal["always", "live", "never"] = "live"
    rehearsal_max_bytes: int = Field(1 << 30, ge=0)
    # Where the URL comes from: an environment variable, or the file (no password).
    database_url_env: str | None = Field(None, min_length=1)
    database_url: str | None = Field(None, min_length=1)

    @field_validator("lint_rules", mode="before")
    @classmethod
    def _yaml_off(cls, value: Any) -> Any:
        # YAML reads a bare off as false.
        if isinstance(value, dict):
            return {k: "off" if v is False else v for k, v in value.items()}
        return value

    @field_validator("lint_rules")
    @classmethod
    def _known_rules(cls, value: dict[str, str]) -> dict[str, str]:
        wrong = rulenames.unknown(value)
        if wrong:
            raise ValueError(f"no lint rule is named {', '.join(map(repr, wrong))}")
        return value

    @property
    def drift_policy(self) -> Literal["warn", "refuse"]:
        if self.drift is not None:
            return self.drift
        return "warn" if self.restore_on_failed_rollback else "refuse"

    @property
    def own_lock_timeout_s(self) -> float:
        """How long slipway's own statements (ledger, schema reads, backup, restore swap)
        may wait for a lock. They only read or take brief locks, so waiting does not hold
        the application up the way a revision's DDL does: at least 15 s."""
        return max(15.0, *self.lock_timeouts_s)

    @field_validator("lock_timeouts_s", mode="before")
    @classmethod
    def _ladder(cls, value: Any) -> Any:
        return tuple(value) if isinstance(value, list) else value

    @field_validator("backup", mode="before")
    @classmethod
    def _methods_list(cls, value: Any) -> Any:
        value = tuple(value) if isinstance(value, list) else value
        named = (value,) if isinstance(value, str) else value
        if isinstance(named, tuple):
            wrong = [v for v in named if v not in BACKUP_METHODS]
            if wrong:
                raise ValueError(
                    f"no backup method is named {', '.join(map(repr, wrong))}: "
                    f"{', '.join(BACKUP_METHODS)}, a list of them, or false"
                )
        return value

    @field_validator("backup")
    @classmethod
    def _methods(cls, value: Any) -> Any:
        methods = _backup_methods(value)
        if isinstance(value, tuple) and not methods:
            raise ValueError("an empty list: name a method, or write false")
        if len(set(methods)) != len(methods):
            raise ValueError("a method is named twice")
        if "targeted" in methods and "full" in methods:
            raise ValueError(
                "full and targeted together: a full backup already holds every table; "
                "name one of them"
            )
        return value

    @model_validator(mode="after")
    def _restore_point_needs_its_recovery(self) -> Options:
        if (
            "restore_point" in self.backup_methods
            and self.pgbackrest_stanza is None
            and self.pitr_base_backup is None
        ):
            raise ValueError(
                "backup: restore_point needs pgbackrest_stanza (PostgreSQL: the pgBackRest "
                "stanza that archives the server's WAL) or pitr_base_backup (MariaDB/MySQL: "
                "the base backup the binary logs replay onto)"
            )
        return self

    @property
    def backup_methods(self) -> tuple[str, ...]:
        """What a release's backup step does, in order: restore_point, then a dump
        (full, or targeted)."""
        return _backup_methods(self.backup)

    @property
    def dumps(self) -> bool:
        """The backup step writes a dump (of everything, or of the tables at risk), which
        slipway restores by itself."""
        return "full" in self.backup_methods or "targeted" in self.backup_methods


def _backup_methods(value: object) -> tuple[str, ...]:
    if value is True:
        return ("full",)
    if value is False:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value) if isinstance(value, tuple) else ()


def _options(raw: Mapping[str, Any], where: str) -> Options:
    """Validate one section; the error names the key, the file and what is allowed."""
    try:
        return Options.model_validate(dict(raw))
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "(section)"
        given = first.get("input")
        shown = "" if isinstance(given, dict) else f" (got {_short(given)})"
        if first["type"] == "extra_forbidden":
            known = ", ".join(sorted(Options.model_fields))
            raise BadInput(f"{where}: unknown setting '{key}'", hint=f"known: {known}") from None
        if not first["loc"]:  # a rule between settings
            raise BadInput(f"{where}: {first['msg'].removeprefix('Value error, ')}") from None
        raise BadInput(f"{where}: setting '{key}': {first['msg'].lower()}{shown}") from None


@dataclass(frozen=True)
class Settings:
    """Everything a step needs to know, validated before anything runs: where the
    database and the project are (resolved), and the environment's :class:`Options`."""

    env: str
    url: URL
    url_source: str
    # The file that says where the project's migrations are: the Alembic ini, or
    # Django's manage.py.
    project_file: Path
    artifacts_dir: Path
    backup_dir: Path
    options: Options = field(default_factory=Options)
    secrets: tuple[str, ...] = field(default=(), repr=False)
    config_path: Path | None = None
    # The application release this run ships, when the caller says (kept in the history).
    release: str | None = None

    @property
    def dialect_name(self) -> str:
        return self.url.get_backend_name()

    @property
    def database_name(self) -> str:
        return self.url.database or ""

    def safe_url(self) -> str:
        """The URL as it may be shown: never with its password."""
        return self.url.render_as_string(hide_password=True)

    def command(self, *args: str) -> str:
        """A ``slipway db`` command line that reaches this same database and project,
        to be run verbatim: the environment, config file, ini file, and the URL the way
        it was given (without its password; ``--db-url-stdin`` reads it again)."""
        parts = ["slipway", "db", *args, "--env", self.env]
        if self.config_path is not None:
            parts += ["--config", str(self.config_path)]
        if self.options.backend == "alembic":
            parts += ["--alembic-ini", str(self.project_file)]
        if self.url_source == "--db-url":
            parts += ["--db-url", self.url.set(password=None).render_as_string()]
        elif self.url_source == "stdin":
            parts.append("--db-url-stdin")
        return shlex.join(parts)


def parse_url(raw: str, *, source: str) -> URL:
    """Parse a database URL; the error never repeats the URL, which may hold a password."""
    try:
        url = make_url(raw)
    except (ArgumentError, ValueError) as err:
        raise BadInput(
            f"the database URL from {source} is malformed",
            hint="expected dialect+driver://user@host:port/database or sqlite:///path",
        ) from err
    parts = [url.username, url.password, url.host, url.database, *url.query.values()]
    text = "".join(str(p) for p in parts if p is not None) + raw
    if any(ord(c) < 32 or c == "\x7f" for c in text):
        raise BadInput(
            f"the database URL from {source} holds a control character (a NUL byte, %00?)",
            hint="client libraries cut or misread such URLs; remove it",
        )
    dialect = url.get_backend_name()
    if dialect not in dialects.supported():
        raise BadInput(
            f"the database URL from {source} names '{dialect}', which slipway does not support",
            hint="use postgresql, mysql/mariadb or sqlite",
        )
    url = dialects.dialect_class(url).canonical(url)
    dialects.dialect_class(url).check_url(url, source)
    return url


# A configuration file is a few kilobytes: bounds that keep reading it bounded in time
# and memory whatever it holds (an alias bomb expands to billions of nodes).
MAX_CONFIG_BYTES = 1 << 20
MAX_YAML_ALIASES = 100
# Names that become folder names and ledger values: no separators, no '..', no more
# than the ledger's column holds.
ENV_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")
MAX_RELEASE_CHARS = 120


def _short(value: object, limit: int = 80) -> str:
    """repr of a value, cut at ``limit`` characters (never the whole of a big input)."""
    shown = reprlib.Repr()
    shown.maxstring = shown.maxother = limit
    text = shown.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing more than :data:`MAX_YAML_ALIASES` aliases."""

    aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_YAML_ALIASES:
                raise yaml.YAMLError(f"more than {MAX_YAML_ALIASES} aliases")
        return super().compose_node(parent, index)


def _read_config(path: Path) -> dict[str, Any]:
    """slipway.yml, or the ``[tool.slipway]`` table of a pyproject.toml (same keys)."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as err:
        raise BadInput(f"cannot read {path}: {err.strerror}") from err
    if len(raw) > MAX_CONFIG_BYTES:
        raise BadInput(
            f"{path} is larger than {MAX_CONFIG_BYTES // 1024} KiB: not a configuration file",
            hint="point --config at the project's slipway.yml",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BadInput(
            f"{path} is not UTF-8 text (byte {err.start})", hint="save the file as UTF-8"
        ) from None
    if path.suffix == ".toml":
        try:
            data = tomllib.loads(text).get("tool", {}).get("slipway")
        except tomllib.TOMLDecodeError as err:
            raise BadInput(f"{path} is not valid TOML: {err}") from err
    else:
        try:
            data = yaml.load(text, Loader=_BoundedLoader)  # noqa: S506 - a SafeLoader
        except RecursionError:
            raise BadInput(f"{path} is nested too deeply to be a configuration") from None
        except yaml.YAMLError as err:
            problem = getattr(err, "problem", None) or str(err)
            mark = getattr(err, "problem_mark", None)
            at = f" at line {mark.line + 1}" if mark is not None else ""
            raise BadInput(
                f"{path} is not valid YAML{at}: {_short(problem)[1:-1]}",
                hint="check indentation and quoting",
            ) from None
    if not isinstance(data, dict) or not isinstance(data.get("environments"), dict):
        raise BadInput(f"{path} has no 'environments' mapping")
    return data


def check_env_name(env: str) -> None:
    if not ENV_NAME.fullmatch(env) or ".." in env:
        raise BadInput(
            f"environment name {_short(env)} is not allowed",
            hint="use letters, digits, '-', '_' and '.', at most 40 characters, "
            "starting with a letter or digit",
        )


def check_release(value: str) -> str:
    """An application release as the history keeps it."""
    if len(value) > MAX_RELEASE_CHARS or not value.isprintable():
        raise BadInput(
            f"--release {_short(value)} is not a release name",
            hint=f"give printable text of at most {MAX_RELEASE_CHARS} characters "
            "(a tag or a commit)",
        )
    return value


def _has_tool_table(pyproject: Path) -> bool:
    try:
        return "slipway" in tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False


def find_project(start: Path | None = None) -> Path | None:
    """The nearest slipway.yml, or pyproject.toml with a ``[tool.slipway]`` table, in
    ``start`` (the current folder) or a folder above it: slipway works from anywhere
    inside a project, as git does."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / DEFAULT_CONFIG).is_file():
            return folder / DEFAULT_CONFIG
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and _has_tool_table(pyproject):
            return pyproject
    return None


def _find_config(config: Path | None) -> Path | None:
    if config is not None:
        if not config.is_file():
            raise BadInput(f"config file {config} does not exist")
        return config
    from_env = os.environ.get(CONFIG_ENV)
    if from_env:
        if not Path(from_env).is_file():
            raise BadInput(f"config file {from_env} (from ${CONFIG_ENV}) does not exist")
        return Path(from_env)
    return find_project()


def environments(config: Path | None = None) -> tuple[Path, list[str]]:
    """The config file (as :func:`load_settings` finds it) and its environments."""
    path = _find_config(config)
    if path is None:
        raise BadInput(
            f"no {DEFAULT_CONFIG} (nor pyproject.toml with [tool.slipway]) in {Path.cwd()} "
            "or any folder above it, and no --config",
            hint="run slipway inside the project, or pass --config",
        )
    return path, sorted(_read_config(path)["environments"])


def load_settings(
    env: str,
    *,
    config: Path | None = None,
    db_url: str | None = None,
    db_url_source: str = "--db-url",
    alembic_ini: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve the settings of one environment; raise :class:`BadInput` on anything wrong."""
    environ = os.environ if environ is None else environ
    check_env_name(env)
    path = _find_config(config)
    base = Path.cwd()
    sections: list[tuple[Mapping[str, Any], str]] = []
    env_section: dict[str, Any] = {}
    if path is not None:
        data = _read_config(path)
        base = path.resolve().parent
        known = data["environments"]
        if env not in known:
            names = ", ".join(sorted(known)) or "none"
            raise BadInput(f"unknown environment '{env}'", hint=f"known: {names}")
        env_section = known[env] or {}
        sections = [
            (data.get("defaults") or {}, f"{path}: defaults"),
            (env_section, f"{path}: environment '{env}'"),
        ]
    elif db_url is None or alembic_ini is None:
        raise BadInput(
            f"no {DEFAULT_CONFIG} (nor pyproject.toml with [tool.slipway]) in {Path.cwd()} "
            "or any folder above it, and no --config",
            hint="run slipway inside the project, or pass --config (or --db-url and --alembic-ini)",
        )
    merged: dict[str, Any] = {}
    for section, where in sections:
        if not isinstance(section, Mapping):
            raise BadInput(f"{where} must be a mapping of settings")
        _options(section, where)  # each section on its own: the error names where
        merged |= dict(section)
    options = _options(merged, f"{path}: environment '{env}'")
    from slipway.backends import backend_class  # the backends read Settings: not above

    if db_url is not None:
        url, source = parse_url(db_url, source=db_url_source), db_url_source
    elif db_url_source == "stdin":
        raise BadInput("no database URL on stdin", hint="pipe one line: dialect://user@host/db")
    elif options.database_url_env is not None:
        var = options.database_url_env
        raw = environ.get(var)
        if not raw:
            raise BadInput(
                f"environment '{env}' takes its database URL from ${var}, which is not set",
                hint=f"export {var}=... or pass --db-url",
            )
        raw = backend_class(options.backend).url_from_app(raw)
        url, source = parse_url(raw, source=f"${var}"), f"${var}"
    elif options.database_url is not None:
        url = parse_url(options.database_url, source=f"{path}")
        source = str(path)
        if url.password:
            raise BadInput(
                f"environment '{env}' has a password in {path}",
                hint="move the URL to an environment variable named by database_url_env",
            )
    else:
        raise BadInput(
            f"environment '{env}' names no database",
            hint="set database_url_env (or database_url without a password), or pass --db-url",
        )

    url = dialects.dialect_class(url).resolved(url, base)

    def _path(key: str) -> Path:
        value = getattr(options, key)
        try:
            p = Path(value.format(env=env))
        except (KeyError, IndexError, ValueError, AttributeError) as err:
            raise BadInput(
                f"{path}: environment '{env}': setting '{key}': {_short(value)} is not a "
                f"path: braces must be {{env}} (got {type(err).__name__}: {_short(str(err))})",
                hint="write {env} for the environment's name, and {{ }} for a brace",
            ) from None
        return p if p.is_absolute() else base / p

    tool = backend_class(options.backend)
    given = alembic_ini if tool.project_setting == "alembic_ini" else None
    project_file = given if given is not None else _path(tool.project_setting)
    if not project_file.is_file():
        raise BadInput(tool.missing_project(project_file), hint=tool.missing_project_hint)
    return Settings(
        env=env,
        url=url,
        url_source=source,
        project_file=project_file.resolve(),
        artifacts_dir=_path("artifacts_dir"),
        backup_dir=_path("backup_dir"),
        options=options,
        secrets=tuple(s for s in (url.password,) if s),
        config_path=path.resolve() if path is not None else None,
    )


def with_lint_policy(
    settings: Settings, *, fail_on: str | None = None, rules: Sequence[str] = ()
) -> Settings:
    """The settings with a lint policy given on the command line (``--lint-fail-on``,
    ``--lint-rule RULE=LEVEL``), for projects without a slipway.yml of their own."""
    if fail_on is not None and fail_on not in LINT_LEVELS:
        raise BadInput(
            f"--lint-fail-on '{fail_on}' is not a level", hint=f"use {', '.join(LINT_LEVELS)}"
        )
    merged: dict[str, Any] = dict(settings.options.lint_rules)
    for item in rules:
        rule, sep, level = item.partition("=")
        if not sep or not rule.strip() or level.strip() not in RULE_LEVELS:
            raise BadInput(
                f"--lint-rule '{item}' is not RULE=LEVEL",
                hint=f"for example --lint-rule ban-drop-column=warning ({', '.join(RULE_LEVELS)})",
            )
        if rulenames.unknown([rule.strip()]):
            raise BadInput(
                f"--lint-rule '{item}': no lint rule is named '{rule.strip()}'",
                hint="'slipway db lint' names each finding's rule; squawk's and slipway's "
                "rules are listed in docs/contract.md",
            )
        merged[rule.strip()] = level.strip()
    policy = {"lint_fail_on": fail_on or settings.options.lint_fail_on, "lint_rules": merged}
    options = _options(settings.options.model_dump() | policy, "the command line")
    return dataclasses.replace(settings, options=options)
