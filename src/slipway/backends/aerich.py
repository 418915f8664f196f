"""The aerich backend: a Tortoise ORM project whose migrations aerich manages.

slipway reads aerich's own settings as aerich does (``[tool.aerich]``, or the
``[tool.tortoise]`` table newer aerich writes, in pyproject.toml: ``tortoise_orm``,
``location``, ``src_folder``), and the Tortoise configuration they name; the default
connection of every app with migrations must be the database slipway.yml names.

An aerich migration is a file whose ``upgrade(db)`` and ``downgrade(db)`` return SQL,
and whose ``MODELS_STATE`` is what aerich records beside its name in table ``aerich``.
slipway asks each file for its SQL, then runs that SQL on its own guarded connection
(the same guard as Alembic's: the target proven, timeouts set, every statement in
applied.sql), one migration per transaction unless the file says
``RUN_IN_TRANSACTION = False``, and records the row aerich records. The line a release
walks is the order the database applied its migrations (table ``aerich``, by id), then
the pending files of each app in aerich's order (by number).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import sqlparse
from sqlalchemy import JSON, Connection, Engine, column, inspect, select, table
from sqlalchemy.engine import URL

from slipway.backends._base import Rendered, Revision
from slipway.backends._line import Key, LineBackend, id_key, key_id
from slipway.config import Settings
from slipway.dialects import dialect_for
from slipway.errors import BadInput, env_error, first_line
from slipway.guard import Guard
from slipway.logs import redact

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

TABLE = "aerich"


def _number(stem: str) -> int | None:
    head = stem.split("_", 1)[0]
    return int(head) if "_" in stem and head.isdigit() else None


def _aerich_settings(pyproject: Path) -> dict[str, str]:
    """aerich's table of ``pyproject``: ``[tool.aerich]`` or ``[tool.tortoise]``."""
    try:
        tool = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise BadInput(f"{pyproject} cannot be read as TOML: {first_line(err)}") from err
    found = tool.get("aerich") or tool.get("tortoise") or {}
    if not isinstance(found, dict) or not found.get("tortoise_orm"):
        raise BadInput(
            f"{pyproject} has no [tool.aerich] (or [tool.tortoise]) table naming tortoise_orm",
            hint="run 'aerich init -t your.settings.TORTOISE_ORM' in the project",
        )
    return {
        "tortoise_orm": str(found["tortoise_orm"]),
        "location": str(found.get("location") or "./migrations"),
        "src_folder": str(found.get("src_folder") or "./."),
    }


def _tortoise_url(url: URL) -> str:
    """``url`` as Tortoise reads a database URL (``sqlite://PATH``, ``postgres://``)."""
    dialect = url.get_backend_name()
    if url.database and dialect_for(url).file_based:
        return f"sqlite://{url.database}"
    scheme = {"postgresql": "postgres"}.get(dialect, dialect)
    return url.set(drivername=scheme).render_as_string(hide_password=False)


def _url_of(expanded: dict[str, Any], root: Path) -> URL:
    """Tortoise's expanded connection settings as a URL slipway compares."""
    engine = str(expanded.get("engine", ""))
    creds = dict(expanded.get("credentials") or {})
    if engine.endswith("sqlite"):
        path = Path(str(creds.get("file_path", "")))
        return URL.create("sqlite", database=str(path if path.is_absolute() else root / path))
    scheme = "mysql" if "mysql" in engine else "postgresql"
    port = creds.get("port")
    return URL.create(
        scheme,
        username=creds.get("user") or None,
        host=creds.get("host") or None,
        port=int(port) if port else None,
        database=creds.get("database") or None,
    )


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"slipway_aerich_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise BadInput(f"{path} cannot be loaded as a migration")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Project(LineBackend):
    """A Tortoise ORM project with aerich's migrations, read from its pyproject.toml."""

    name = "aerich"
    project_setting = "aerich_pyproject"
    missing_project_hint = (
        "keep slipway.yml beside the pyproject.toml 'aerich init' wrote, or set aerich_pyproject"
    )
    merge_hint = "keep one migration per number in each app's folder"

    def __init__(self, settings: Settings, *, run_revisions: bool = True) -> None:
        super().__init__(settings, run_revisions=run_revisions)
        self.pyproject = settings.project_file
        self.root = self.pyproject.parent
        found = _aerich_settings(self.pyproject)
        var = settings.options.database_url_env
        if var and not os.environ.get(var):
            os.environ[var] = _tortoise_url(settings.url)
        src = (self.root / found["src_folder"]).resolve()
        if str(src) not in sys.path:
            sys.path.insert(0, str(src))
        self.config = self._tortoise_config(found["tortoise_orm"])
        location = found["location"]
        self.location = (
            (self.root / location) if not Path(location).is_absolute() else Path(location)
        )
        self._files: dict[Key, Path] = {}
        for app in sorted(self.config.get("apps", {})):
            folder = Path(location.format(app=app)) if "{app}" in location else self.location / app
            folder = folder if folder.is_absolute() else self.root / folder
            stems = [p.stem for p in folder.glob("*.py") if _number(p.stem) is not None]
            for stem in sorted(stems, key=lambda s: _number(s) or 0):
                self._files[(app, stem)] = folder / f"{stem}.py"
        if not self._files:
            raise BadInput(
                f"no aerich migrations under {self.location}",
                hint="create them with 'aerich init-db' and 'aerich migrate'",
            )
        self._check_same_database()
        self._modules: dict[Key, ModuleType] = {}
        self._read_line()

    def _tortoise_config(self, dotted: str) -> dict[str, Any]:
        module_name, _, attribute = dotted.rpartition(".")
        try:
            module = importlib.import_module(module_name)
            config = getattr(module, attribute)
        except Exception as err:
            raise BadInput(
                f"the Tortoise configuration {dotted} cannot be loaded: "
                f"{type(err).__name__}: {first_line(err)}",
                hint="run slipway where 'aerich heads' works",
            ) from err
        if not isinstance(config, dict) or not isinstance(config.get("apps"), dict):
            raise BadInput(f"{dotted} is not a Tortoise configuration (a dict with 'apps')")
        return config

    def _check_same_database(self) -> None:
        from tortoise.backends.base.config_generator import expand_db_url

        mine = self.settings.url
        apps = sorted({app for app, _ in self._files})
        for app in apps:
            name = self.config["apps"][app].get("default_connection", "default")
            given = self.config.get("connections", {}).get(name)
            try:
                expanded = expand_db_url(given) if isinstance(given, str) else dict(given or {})
                theirs = _url_of(expanded, self.root)
                same = dialect_for(theirs).identity(theirs) == dialect_for(mine).identity(mine)
            except Exception:  # noqa: BLE001 - an unreadable connection is not the same one
                same, theirs = False, None
            if not same:
                shown = theirs.render_as_string(hide_password=True) if theirs else repr(name)
                raise BadInput(
                    f"the Tortoise connection of app '{app}' is {shown}, but the settings of "
                    f"'{self.settings.env}' name {self.settings.safe_url()}",
                    hint="point database_url (or database_url_env) at the database the "
                    "Tortoise configuration uses",
                )

    # the line ----------------------------------------------------------------------------
    def _recorded(self, conn: Connection) -> list[Key]:
        if not inspect(conn).has_table(TABLE):
            return []
        t = table(TABLE, column("id"), column("app"), column("version"))
        rows = conn.execute(select(t.c.app, t.c.version).order_by(t.c.id)).all()
        return [(str(a), str(v).removesuffix(".py")) for a, v in rows]

    def _known(self, recorded: list[Key]) -> list[Key]:
        apps = {app for app, _ in self._files}
        return [k for k in recorded if k[0] in apps]

    def _in_order(self) -> Iterable[Key]:
        return self._files  # each app's files by number, the apps in name order

    @classmethod
    def url_from_app(cls, raw: str) -> str:
        # Tortoise writes a file as sqlite://relative or sqlite:///absolute (SQLAlchemy:
        # one slash more), and names PostgreSQL by its drivers.
        scheme, sep, rest = raw.partition("://")
        if not sep:
            return raw
        if scheme == "sqlite":
            return f"sqlite:///{rest}"
        if scheme in ("asyncpg", "psycopg"):
            return f"postgresql://{rest}"
        return raw

    # where the project is --------------------------------------------------------------
    @property
    def folder(self) -> Path:
        return self.root

    @property
    def version_table(self) -> str:
        return TABLE

    @classmethod
    def recorded_heads(cls, settings: Settings, conn: Connection) -> tuple[str, ...] | None:
        if not inspect(conn).has_table(TABLE):
            return None
        t = table(TABLE, column("id"), column("app"), column("version"))
        row = conn.execute(select(t.c.app, t.c.version).order_by(t.c.id.desc()).limit(1)).first()
        return (f"{row[0]}:{str(row[1]).removesuffix('.py')}",) if row else ()

    @classmethod
    def migrations_folder(cls, settings: Settings) -> Path | None:
        return None

    # the graph -----------------------------------------------------------------------------
    def heads(self) -> tuple[str, ...]:
        numbers: dict[tuple[str, int], list[Key]] = {}
        for key in self._files:
            numbers.setdefault((key[0], _number(key[1]) or 0), []).append(key)
        twice = sorted(key_id(k) for keys in numbers.values() if len(keys) > 1 for k in keys)
        return tuple(twice) if twice else (key_id(self._line[-1]),)

    def _revision(self, key: Key) -> Revision:
        below = self._below(key)
        return Revision(
            id=key_id(key),
            path=self._files[key],
            message=key[1].split("_", 2)[-1],
            down_revision=below[0] if below else None,
            parents=below,
        )

    def _module(self, key: Key) -> ModuleType:
        if key not in self._modules:
            try:
                self._modules[key] = _load(self._files[key])
            except Exception as err:
                raise BadInput(
                    f"the migration file {self._files[key]} cannot be loaded: "
                    f"{type(err).__name__}: {first_line(err)}",
                    hint="fix the file; nothing was run",
                ) from err
        return self._modules[key]

    def declared(self, revision: str, attribute: str) -> tuple[Any, Path | None]:
        key = id_key(revision)
        if key not in self._files:
            return None, None
        return getattr(self._module(key), attribute, None), self._files[key]

    # the database's position ---------------------------------------------------------------
    def probe(self, engine: Engine, guard: Guard) -> tuple[str, ...]:
        with guard.active(), engine.connect() as conn:
            return self.current(conn)

    def probe_failed(self, err: Exception) -> BadInput:
        return BadInput(
            f"reading aerich's table failed before any migration ran: "
            f"{type(err).__name__}: {redact(first_line(err), self.settings.secrets)}",
            hint="run 'aerich heads' with the same settings to see why",
        )

    def _content(self, key: Key) -> Any:
        from aerich.coder import encoder
        from aerich.utils import decompress_dict

        state = getattr(self._module(key), "MODELS_STATE", None)
        if not state:
            raise BadInput(
                f"{self._files[key]} has no MODELS_STATE, which aerich records with it",
                hint="run 'aerich fix-migrations' to bring the file to aerich's format",
            )
        return json.loads(encoder(decompress_dict(state)))

    def _record(self, conn: Connection, key: Key) -> None:
        t = table(TABLE, column("app"), column("version"), column("content", JSON))
        conn.execute(
            t.insert().values(app=key[0], version=f"{key[1]}.py", content=self._content(key))
        )

    # SQL ------------------------------------------------------------------------------------------
    def _sql(self, key: Key, *, up: bool) -> str:
        function = getattr(self._module(key), "upgrade" if up else "downgrade", None)
        if function is None:
            raise LookupError(
                f"{self._files[key].name} has no {'upgrade' if up else 'downgrade'}()"
            )
        sql = asyncio.run(function(None))
        if not isinstance(sql, str):
            raise TypeError(f"{self._files[key].name} returned {type(sql).__name__}, not SQL")
        if not up and not sql.strip():
            raise LookupError(f"{self._files[key].name} has no downgrade SQL (aerich refuses it)")
        return sql

    def _render_all(self, revisions: list[Revision], *, up: bool) -> dict[str, Rendered]:
        out: dict[str, Rendered] = {}
        for rev in revisions:
            key = id_key(rev.id)
            try:
                body = self._sql(key, up=up).strip()
            except BadInput:
                raise
            except Exception as err:  # noqa: BLE001 - kept as the revision's error
                out[rev.id] = Rendered("", [], err)
                continue
            atomic = getattr(self._module(key), "RUN_IN_TRANSACTION", True)
            sql = f"BEGIN;\n{body}\nCOMMIT;\n" if atomic else f"{body}\n"
            out[rev.id] = Rendered(f"-- {rev.id}\n{sql}", [])
        return out

    # running -------------------------------------------------------------------------------------
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
        self.running = None
        # ``engine`` reaches ``url`` (the target, or the scratch copy of stairway and
        # the rehearsal): slipway's own connection runs the files' SQL.
        with guard.active(), engine.connect() as conn:
            applied = set(self._known(self._recorded(conn)))
            if conn.in_transaction():
                conn.commit()
            for key in self._to_run(applied, up=up, destination=destination, rev=rev):
                self._step(conn, guard, key, up=up, on_step=on_step)

    def _step(
        self,
        conn: Connection,
        guard: Guard,
        key: Key,
        *,
        up: bool,
        on_step: Callable[[str, bool], None] | None,
    ) -> None:
        name = key_id(key)
        self.running = name
        if on_step:
            on_step(name, False)
        try:
            sql = self._sql(key, up=up)
        except BadInput:
            raise
        except Exception as err:
            if env_error(err) is not None:
                raise
            raise BadInput(
                f"{name} does not give its SQL without a database connection: "
                f"{type(err).__name__}: {first_line(err)}",
                hint="slipway runs aerich migrations whose upgrade()/downgrade() return SQL",
            ) from err
        statements = [s for s in (p.strip() for p in sqlparse.split(sql)) if s]
        atomic = getattr(self._module(key), "RUN_IN_TRANSACTION", True)
        for statement in statements:
            if guard.recording is not None:  # the driver's own call: no execute() event
                guard.recording.add(redact(statement, guard.secrets))
            conn.exec_driver_sql(statement)
            if not atomic:  # the migration owns its transactions: each statement commits
                conn.commit()
        if up:
            self._record(conn, key)
        else:
            t = table(TABLE, column("app"), column("version"))
            conn.execute(t.delete().where(t.c.app == key[0], t.c.version == f"{key[1]}.py"))
        conn.commit()
        if on_step:
            on_step(name, True)

    def model_drift(self, engine: Engine, guard: Guard, url: URL) -> list[str]:
        raise BadInput(
            "slipway db check does not compare aerich models yet",
            hint="run 'aerich migrate' and see whether it writes a migration",
        )
