"""Environments and the settings object every step takes.

One YAML file (``slipway.yml`` by default) names the environments; each says where its
database URL comes from. A URL that carries a password must come from an environment
variable, never from the file. ``--db-url`` and ``--alembic-ini`` override the file, and
without a file they are enough on their own, so any Alembic project can be pointed at.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from slipway.errors import BadInput

CONFIG_ENV = "SLIPWAY_CONFIG"
DEFAULT_CONFIG = "slipway.yml"
SUPPORTED_BACKENDS = ("postgresql", "mysql", "mariadb", "sqlite")

DEFAULTS: dict[str, Any] = {
    "alembic_ini": "alembic.ini",
    "artifacts_dir": "artifacts",
    "backup_dir": "var/backups/{env}",
    "backup_keep": 5,
    "backup_jobs": 1,
    "backup_min_free_ratio": 2.0,
    "lock_timeouts_s": [2, 5, 15],
    "lock_retry_pause_s": 1.0,
    "statement_timeout_s": 900,
    "claim_lease_s": 900,
    "restore_on_failed_rollback": False,
    "development": False,
    "version_table": "alembic_version",
    # The lint gate of preflight: refuse pending revisions with unaccepted findings of
    # this severity or worse (error | warning | never), and per-rule severities.
    "lint_fail_on": "error",
    "lint_rules": {},
    # Rehearse the pending revisions (up, down, up) on a scratch copy made from the
    # release's backup: always | live (only when a revision needs a live connection) |
    # never. Above rehearsal_max_bytes of backup the copy is schema-only.
    "rehearse": "live",
    "rehearsal_max_bytes": 1 << 30,
}
REHEARSE_MODES = ("always", "live", "never")
LINT_LEVELS = ("error", "warning", "never")
RULE_LEVELS = ("error", "warning", "off")


@dataclass(frozen=True)
class Settings:
    """Everything a step needs to know, validated before anything runs."""

    env: str
    url: URL
    url_source: str
    alembic_ini: Path
    artifacts_dir: Path
    backup_dir: Path
    backup_keep: int = 5
    backup_jobs: int = 1
    backup_min_free_ratio: float = 2.0
    lock_timeouts_s: tuple[float, ...] = (2.0, 5.0, 15.0)
    lock_retry_pause_s: float = 1.0
    statement_timeout_s: float = 900.0
    claim_lease_s: float = 900.0
    restore_on_failed_rollback: bool = False
    development: bool = False
    version_table: str = "alembic_version"
    lint_fail_on: str = "error"
    lint_rules: Mapping[str, str] = field(default_factory=dict)
    rehearse: str = "live"
    rehearsal_max_bytes: int = 1 << 30
    secrets: tuple[str, ...] = field(default=(), repr=False)
    config_path: Path | None = None

    @property
    def backend(self) -> str:
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
        parts += ["--alembic-ini", str(self.alembic_ini)]
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
    backend = url.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        raise BadInput(
            f"the database URL from {source} names '{backend}', which slipway does not support",
            hint="use postgresql, mysql/mariadb or sqlite",
        )
    if backend != "sqlite" and not url.database:
        raise BadInput(f"the database URL from {source} names no database", hint="add /NAME")
    if backend == "sqlite" and (not url.database or url.database == ":memory:"):
        raise BadInput(
            f"the SQLite URL from {source} names no file",
            hint="use sqlite:///relative/path.db or sqlite:////absolute/path.db",
        )
    return url


def _read_config(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise BadInput(f"cannot read {path}: {err.strerror}") from err
    except yaml.YAMLError as err:
        raise BadInput(f"{path} is not valid YAML", hint="check indentation and quoting") from err
    if not isinstance(data, dict) or not isinstance(data.get("environments"), dict):
        raise BadInput(f"{path} has no 'environments' mapping")
    return data


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
    default = Path(DEFAULT_CONFIG)
    return default if default.is_file() else None


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
    path = _find_config(config)
    base = Path.cwd()
    options: dict[str, Any] = dict(DEFAULTS)
    env_section: dict[str, Any] = {}
    if path is not None:
        data = _read_config(path)
        base = path.resolve().parent
        known = data["environments"]
        if env not in known:
            names = ", ".join(sorted(known)) or "none"
            raise BadInput(f"unknown environment '{env}'", hint=f"known: {names}")
        options.update(data.get("defaults") or {})
        env_section = known[env] or {}
        options.update(env_section)
    elif db_url is None or alembic_ini is None:
        raise BadInput(
            f"no {DEFAULT_CONFIG} here and no --config",
            hint="create one, or pass both --db-url and --alembic-ini",
        )

    unknown = set(options) - set(DEFAULTS) - {"database_url", "database_url_env"}
    if unknown:
        raise BadInput(f"unknown setting(s) for '{env}': {', '.join(sorted(unknown))}")

    if db_url is not None:
        url, source = parse_url(db_url, source=db_url_source), db_url_source
    elif db_url_source == "stdin":
        raise BadInput("no database URL on stdin", hint="pipe one line: dialect://user@host/db")
    elif "database_url_env" in env_section:
        var = str(env_section["database_url_env"])
        raw = environ.get(var)
        if not raw:
            raise BadInput(
                f"environment '{env}' takes its database URL from ${var}, which is not set",
                hint=f"export {var}=... or pass --db-url",
            )
        url, source = parse_url(raw, source=f"${var}"), f"${var}"
    elif "database_url" in env_section:
        url = parse_url(str(env_section["database_url"]), source=f"{path}")
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

    if url.get_backend_name() == "sqlite" and url.database and not os.path.isabs(url.database):
        url = url.set(database=str(base / url.database))

    def _path(value: Any) -> Path:
        p = Path(str(value).format(env=env))
        return p if p.is_absolute() else base / p

    ini = alembic_ini if alembic_ini is not None else _path(options["alembic_ini"])
    if not ini.is_file():
        raise BadInput(f"Alembic ini file {ini} does not exist", hint="pass --alembic-ini PATH")

    try:
        ladder = tuple(float(t) for t in options["lock_timeouts_s"])
        settings = Settings(
            env=env,
            url=url,
            url_source=source,
            alembic_ini=ini.resolve(),
            artifacts_dir=_path(options["artifacts_dir"]),
            backup_dir=_path(options["backup_dir"]),
            backup_keep=int(options["backup_keep"]),
            backup_jobs=int(options["backup_jobs"]),
            backup_min_free_ratio=float(options["backup_min_free_ratio"]),
            lock_timeouts_s=ladder,
            lock_retry_pause_s=float(options["lock_retry_pause_s"]),
            statement_timeout_s=float(options["statement_timeout_s"]),
            claim_lease_s=float(options["claim_lease_s"]),
            restore_on_failed_rollback=bool(options["restore_on_failed_rollback"]),
            development=bool(options["development"]),
            version_table=str(options["version_table"]),
            lint_fail_on=str(options["lint_fail_on"]),
            lint_rules={
                # YAML reads a bare off as false
                str(k): "off" if v is False else str(v)
                for k, v in dict(options["lint_rules"] or {}).items()
            },
            rehearse=str(options["rehearse"]),
            rehearsal_max_bytes=int(options["rehearsal_max_bytes"]),
            secrets=tuple(s for s in (url.password,) if s),
            config_path=path.resolve() if path is not None else None,
        )
    except (TypeError, ValueError) as err:
        raise BadInput(f"a setting of environment '{env}' has the wrong type: {err}") from err
    if not ladder or settings.backup_keep < 1 or settings.backup_jobs < 1:
        raise BadInput(
            f"environment '{env}' needs lock_timeouts_s non-empty, backup_keep and backup_jobs >= 1"
        )
    if settings.lint_fail_on not in LINT_LEVELS:
        raise BadInput(
            f"environment '{env}' has lint_fail_on '{settings.lint_fail_on}'",
            hint=f"use one of: {', '.join(LINT_LEVELS)}",
        )
    if settings.rehearse not in REHEARSE_MODES:
        raise BadInput(
            f"environment '{env}' has rehearse '{settings.rehearse}'",
            hint=f"use one of: {', '.join(REHEARSE_MODES)}",
        )
    bad = {k: v for k, v in settings.lint_rules.items() if v not in RULE_LEVELS}
    if bad:
        rule, level = next(iter(bad.items()))
        raise BadInput(
            f"environment '{env}' sets lint rule {rule} to '{level}'",
            hint=f"use one of: {', '.join(RULE_LEVELS)}",
        )
    return settings


def with_lint_policy(
    settings: Settings, *, fail_on: str | None = None, rules: Sequence[str] = ()
) -> Settings:
    """The settings with a lint policy given on the command line (``--lint-fail-on``,
    ``--lint-rule RULE=LEVEL``), for projects without a slipway.yml of their own."""
    if fail_on is not None and fail_on not in LINT_LEVELS:
        raise BadInput(
            f"--lint-fail-on '{fail_on}' is not a level", hint=f"use {', '.join(LINT_LEVELS)}"
        )
    merged = dict(settings.lint_rules)
    for item in rules:
        rule, sep, level = item.partition("=")
        if not sep or not rule.strip() or level.strip() not in RULE_LEVELS:
            raise BadInput(
                f"--lint-rule '{item}' is not RULE=LEVEL",
                hint=f"for example --lint-rule ban-drop-column=warning ({', '.join(RULE_LEVELS)})",
            )
        merged[rule.strip()] = level.strip()
    return dataclasses.replace(
        settings, lint_fail_on=fail_on or settings.lint_fail_on, lint_rules=merged
    )
