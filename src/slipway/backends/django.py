"""The Django backend: a project's migrations, read and run through Django's own API.

slipway.yml sits beside ``manage.py``; ``django_settings`` (or DJANGO_SETTINGS_MODULE)
names the settings module. The database is Django's ``default`` connection, and it must
be the database slipway.yml names: anything else is refused before anything runs.

Django's migration graph is a DAG across apps; a release is a line. The line is the
order the database applied its migrations in (``django_migrations``, by id) followed by
the pending ones in the order ``manage.py migrate`` applies them; a migration's
revision is ``app:name`` and the one below it is the one before it on the line. A
rollback unapplies, newest first, what was applied after the start: the exact start
state, app by app. The SQL is Django's own (``sqlmigrate``: the schema editor collecting
instead of running); a ``RunPython`` step cannot be written as SQL and is marked
live-only. Django's connection is watched through its own hooks: ``connection_created``
proves where it is and sets the revision's timeouts, ``execute_wrapper`` records every
statement.
"""

from __future__ import annotations

import ast
import datetime as dt
import logging
import os
import runpy
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, column, inspect, select, table
from sqlalchemy.engine import URL

from slipway.backends._base import Rendered, Revision
from slipway.backends._line import Key, LineBackend, id_key, key_id
from slipway.config import Settings
from slipway.dialects import dialect_for
from slipway.errors import BadInput, env_error, first_line
from slipway.guard import Guard, WrongDatabase
from slipway.logs import redact

log = logging.getLogger(__name__)

TABLE = "django_migrations"
_CANNOT = "-- THIS OPERATION CANNOT BE WRITTEN AS SQL"


class NeedsLiveDatabase(Exception):
    """A migration step that cannot be written as SQL (RunPython): it runs only live."""


# The settings module this process set Django up with.
_ready: str | None = None


def _manage_py_default(manage_py: Path) -> str | None:
    """The settings module manage.py names (``os.environ.setdefault(
    "DJANGO_SETTINGS_MODULE", "mysite.settings")``, as startproject writes it), read
    without running it."""
    try:
        tree = ast.parse(manage_py.read_bytes(), filename=str(manage_py))
    except (OSError, SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "setdefault"
            and len(node.args) == 2
            and all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args)
            and node.args[0].value == "DJANGO_SETTINGS_MODULE"  # type: ignore[attr-defined]
        ):
            return str(node.args[1].value)  # type: ignore[attr-defined]
    return None


class _BeforeTheCommand(Exception):
    """manage.py reached the point where it would run a management command."""


def _stop(*_args: Any, **_kw: Any) -> None:
    raise _BeforeTheCommand


def _prepare_as_manage_py(manage_py: Path) -> None:
    """Run manage.py up to the management command it would run, and no further: what it
    prepares first (the settings module's default, folders added to the import path,
    a .env file loaded) is what the project's settings expect. A manage.py that fails
    before that point is left: its settings default is then read from its text."""
    import django.core.management as management

    saved = management.execute_from_command_line, sys.argv
    management.execute_from_command_line = _stop
    sys.argv = [str(manage_py), "help"]
    try:
        runpy.run_path(str(manage_py), run_name="__main__")
    except _BeforeTheCommand:
        pass
    except (Exception, SystemExit) as err:  # noqa: BLE001 - the settings say what fails
        log.debug("manage.py stopped before its command: %s", err)
    finally:
        management.execute_from_command_line, sys.argv = saved


def _setup(manage_py: Path, module: str | None) -> None:
    """``django.setup()`` once per process, with the project's folder importable and the
    settings module manage.py would use (unless slipway.yml or the environment names
    one), as ``manage.py`` does."""
    global _ready
    root = manage_py.parent
    try:
        import django
    except ImportError as err:
        raise BadInput(
            "backend: django, but Django is not installed beside slipway",
            hint="install slipway into the project's environment",
        ) from err
    if module:
        os.environ["DJANGO_SETTINGS_MODULE"] = module
    if _ready is None:
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
        _prepare_as_manage_py(manage_py)
    module = module or os.environ.get("DJANGO_SETTINGS_MODULE") or _manage_py_default(manage_py)
    if not module:
        raise BadInput(
            "backend: django, but no settings module is named",
            hint="set django_settings: mysite.settings in slipway.yml, or export "
            "DJANGO_SETTINGS_MODULE",
        )
    if _ready is not None:
        if _ready != module:
            raise BadInput(f"Django is already set up with {_ready} in this process, not {module}")
        return
    os.environ["DJANGO_SETTINGS_MODULE"] = module
    try:
        django.setup()
    except Exception as err:
        raise BadInput(
            f"Django settings {module} cannot be loaded: {type(err).__name__}: {first_line(err)}",
            hint="run slipway where 'python manage.py check' works",
        ) from err
    _ready = module


def _url_of(settings_dict: dict[str, Any], vendor: str) -> URL:
    """Django's connection settings as a URL (the vendors slipway knows are named as
    SQLAlchemy names them)."""
    port = settings_dict.get("PORT")
    return URL.create(
        vendor,
        username=settings_dict.get("USER") or None,
        host=settings_dict.get("HOST") or None,
        port=int(port) if port else None,
        database=str(settings_dict.get("NAME") or "") or None,
    )


class Project(LineBackend):
    """A Django project: its apps' migrations, through MigrationLoader and
    MigrationExecutor."""

    name = "django"
    project_setting = "manage_py"
    missing_project_hint = "keep slipway.yml beside the project's manage.py, or set manage_py"
    merge_hint = (
        "merge them with 'python manage.py makemigrations --merge' and release the merge migration"
    )

    def __init__(self, settings: Settings, *, run_revisions: bool = True) -> None:
        super().__init__(settings, run_revisions=run_revisions)
        self.root = settings.project_file.parent
        var = settings.options.database_url_env
        if var and not os.environ.get(var):
            # The URL came another way (stdin, --db-url): the settings read it where the
            # environment's settings say they do, written as dj-database-url reads it.
            plain = settings.url.set(drivername=settings.url.get_backend_name())
            os.environ[var] = plain.render_as_string(hide_password=False)
        _setup(settings.project_file, settings.options.django_settings)
        from django.db import connections
        from django.db.migrations.loader import MigrationLoader

        wrapper = connections["default"]
        theirs = _url_of(wrapper.settings_dict, wrapper.vendor)
        try:
            same = dialect_for(theirs).identity(theirs) == dialect_for(settings.url).identity(
                settings.url
            )
        except BadInput:
            same = False
        if not same:
            raise BadInput(
                f"Django's default database is {theirs.render_as_string(hide_password=True)}, "
                f"but the settings of '{settings.env}' name {settings.safe_url()}",
                hint="point database_url (or database_url_env) at the database Django's "
                "settings use",
            )
        try:
            self.loader = MigrationLoader(None, ignore_no_migrations=True)
        except Exception as err:
            raise BadInput(
                f"the migrations of the Django project in {self.root} cannot be loaded: "
                f"{type(err).__name__}: {first_line(err)}",
                hint="fix the file; nothing was run",
            ) from err
        self.graph = self.loader.graph
        if not self.graph.nodes:
            raise BadInput(
                f"no migrations in the Django project in {self.root}",
                hint="create them with 'python manage.py makemigrations'",
            )
        # A squashed migration stands for those it replaces (recorded one by one).
        self._replaced: dict[Key, Key] = {
            old: key for key, mig in self.loader.replacements.items() for old in mig.replaces
        }
        self._read_line()

    # the line ----------------------------------------------------------------------
    def _recorded(self, conn: Connection) -> list[Key]:
        if not inspect(conn).has_table(TABLE):
            return []
        t = table(TABLE, column("id"), column("app"), column("name"))
        rows = conn.execute(select(t.c.app, t.c.name).order_by(t.c.id)).all()
        return [(str(a), str(n)) for a, n in rows]

    def _known(self, recorded: list[Key]) -> list[Key]:
        """The recorded migrations as nodes of the graph, in the order they were applied;
        an unknown migration of an app with migrations is kept (the database is ahead)."""
        out: list[Key] = []
        for key in recorded:
            key = self._replaced.get(key, key)
            known = key in self.graph.nodes or key[0] in self.loader.migrated_apps
            if known and key not in out:
                out.append(key)
        return out

    def _in_order(self) -> Iterable[Key]:
        seen: set[Key] = set()
        for leaf in sorted(self.graph.leaf_nodes()):
            for key in self.graph.forwards_plan(leaf):
                if key not in seen:
                    seen.add(key)
                    yield key

    def _record(self, conn: Connection, key: Key) -> None:
        t = table(TABLE, column("app"), column("name"), column("applied"))
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        conn.execute(t.insert().values(app=key[0], name=key[1], applied=now))

    # where the project is ----------------------------------------------------------
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
        t = table(TABLE, column("id"), column("app"), column("name"))
        row = conn.execute(select(t.c.app, t.c.name).order_by(t.c.id.desc()).limit(1)).first()
        return (f"{row[0]}:{row[1]}",) if row else ()

    @classmethod
    def migrations_folder(cls, settings: Settings) -> Path | None:
        return None  # each app has its own: the early backup's guess does not apply

    # the graph -----------------------------------------------------------------------
    def heads(self) -> tuple[str, ...]:
        conflicts = self.loader.detect_conflicts()
        if conflicts:
            return tuple(sorted(f"{app}:{n}" for app, names in conflicts.items() for n in names))
        return (key_id(self._line[-1]),)

    def _revision(self, key: Key) -> Revision:
        migration = self.graph.nodes[key]
        module = sys.modules[type(migration).__module__]
        below = self._below(key)
        return Revision(
            id=key_id(key),
            path=Path(module.__file__ or ""),
            message=key[1],
            down_revision=below[0] if below else None,
            parents=below,
            dependencies=tuple(key_id(p.key) for p in self.graph.node_map[key].parents),
        )

    def declared(self, revision: str, attribute: str) -> tuple[Any, Path | None]:
        key = id_key(revision)
        if key not in self.graph.nodes:
            return None, None
        migration = self.graph.nodes[key]
        module = sys.modules[type(migration).__module__]
        found = getattr(migration, attribute, None)
        if found is None:
            found = getattr(module, attribute, None)
        return found, Path(module.__file__ or "")

    def owns(self, rev: Revision) -> bool:
        return rev.path.resolve().is_relative_to(self.root.resolve())

    # the database's position -----------------------------------------------------------
    def probe(self, engine: Engine, guard: Guard) -> tuple[str, ...]:
        with guard.active(), self._watched(self.settings.url, guard) as wrapper:
            wrapper.ensure_connection()
            with engine.connect() as conn:
                return self.current(conn)

    def probe_failed(self, err: Exception) -> BadInput:
        return BadInput(
            f"Django's default connection failed before any migration ran: "
            f"{type(err).__name__}: {redact(first_line(err), self.settings.secrets)}",
            hint="run 'python manage.py showmigrations' with the same settings to see why",
        )

    # Django's connection, watched -------------------------------------------------------
    @contextmanager
    def _watched(self, url: URL, guard: Guard | None) -> Iterator[Any]:
        """Django's default connection pointed at ``url``'s database (the target, or a
        scratch copy on the same server, with Django's own credentials) and watched:
        each new connection is asked where it is before a statement of the project's
        runs, gets the guard's timeouts, and records what it runs."""
        from django.db import connections
        from django.db.backends.signals import connection_created

        wrapper = connections["default"]
        saved = dict(wrapper.settings_dict)
        dialect = dialect_for(url)
        place = dialect.location(url)

        def created(sender: Any, connection: Any, **_kw: Any) -> None:
            if connection.alias != "default":
                raise WrongDatabase(
                    f"Django opened its '{connection.alias}' database, but this command may "
                    f"only touch {url.render_as_string(hide_password=True)}; nothing ran there",
                    hint="migrations run on Django's default database",
                )
            where = dialect.where(connection.connection)
            if where != place:
                raise WrongDatabase(
                    f"Django's connection is on {where or 'no database'}, not on "
                    f"{url.render_as_string(hide_password=True)}; nothing ran there",
                    hint="let the settings' default database be the one slipway is pointed at",
                )
            if guard is not None and guard.timeouts is not None:
                dialect.set_driver_timeouts(connection.connection, *guard.timeouts)
                if guard.on_session is not None:
                    session = dialect.driver_session_id(connection.connection)
                    if session is not None:
                        guard.on_session(session)

        def record(
            execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
        ) -> Any:
            if guard is not None and guard.recording is not None:
                for text in _statements(context, sql, params, many):
                    guard.recording.add(redact(text, guard.secrets))
            return execute(sql, params, many, context)

        wrapper.close()
        wrapper.settings_dict["NAME"] = url.database
        connection_created.connect(created, weak=False, dispatch_uid="slipway-guard")
        wrapper.execute_wrappers.append(record)
        try:
            yield wrapper
        finally:
            connection_created.disconnect(dispatch_uid="slipway-guard")
            if record in wrapper.execute_wrappers:
                wrapper.execute_wrappers.remove(record)
            wrapper.close()
            wrapper.settings_dict.clear()
            wrapper.settings_dict.update(saved)

    # SQL -------------------------------------------------------------------------------------
    def _render_all(self, revisions: list[Revision], *, up: bool) -> dict[str, Rendered]:
        """Django's ``sqlmigrate`` of each revision (``--backwards`` downward), on a
        connection to the target (its schema editor reads the catalog for some steps;
        it runs nothing), or to a scratch database while the target does not exist."""
        dialect = dialect_for(self.settings.url)
        where = (
            nullcontext(self.settings.url)
            if dialect.database_exists()
            else dialect.scratch("render")
        )
        with where as url:
            guard = Guard(url, secrets=self.settings.secrets)
            with guard.active(), self._watched(url, guard) as wrapper:
                # the graph read once serves every revision: collect_sql asks it for
                # the state before each one
                self.loader.connection = wrapper
                try:
                    return {r.id: self._render_one(wrapper, id_key(r.id), up=up) for r in revisions}
                finally:
                    self.loader.connection = None

    def _render_one(self, wrapper: Any, key: Key, *, up: bool) -> Rendered:
        migration = self.graph.nodes[key]
        try:
            statements = self.loader.collect_sql([(migration, not up)])
        except Exception as err:
            if env_error(err) is not None:
                raise
            return Rendered("", [], err)
        atomic = migration.atomic and wrapper.features.can_rollback_ddl
        body = "\n".join(statements)
        sql = f"BEGIN;\n{body}\nCOMMIT;\n" if atomic else f"{body}\n"
        error = None
        if _CANNOT in statements:
            error = NeedsLiveDatabase(
                f"{key_id(key)} has a step that cannot be written as SQL (RunPython)"
            )
        return Rendered(f"-- {key_id(key)}\n{sql}", [], error)

    # running -------------------------------------------------------------------------------
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
        from django.core.management.sql import (
            emit_post_migrate_signal,
            emit_pre_migrate_signal,
        )
        from django.db.migrations.executor import MigrationExecutor

        self.running = None

        def progress(action: str, migration: Any = None, fake: bool = False) -> None:
            if migration is None:
                return
            name = key_id((migration.app_label, migration.name))
            if action.endswith("_start"):
                self.running = name
                if on_step:
                    on_step(name, False)
            elif action.endswith("_success") and on_step:
                on_step(name, True)

        with guard.active(), self._watched(url, guard) as wrapper:
            executor = MigrationExecutor(wrapper, progress_callback=progress)
            applied = set(self._known(list(executor.loader.applied_migrations)))
            keys = self._to_run(applied, up=up, destination=destination, rev=rev)
            plan = [(self.graph.nodes[k], not up) for k in keys]
            if not plan:
                return
            emit_pre_migrate_signal(0, False, "default", plan=plan)
            state = executor.migrate(None, plan=plan)
            emit_post_migrate_signal(0, False, "default", apps=state.apps, plan=plan)

    def model_drift(self, engine: Engine, guard: Guard, url: URL) -> list[str]:
        """``makemigrations --check``: what the models have that no migration makes."""
        from django.apps import apps
        from django.db.migrations.autodetector import MigrationAutodetector
        from django.db.migrations.state import ProjectState

        changes = MigrationAutodetector(
            self.loader.project_state(), ProjectState.from_apps(apps)
        ).changes(graph=self.graph)
        return [
            f"{app}: {op.describe()}"
            for app, migrations in sorted(changes.items())
            for migration in migrations
            for op in migration.operations
        ]


def _statements(context: Any, sql: str, params: Any, many: bool) -> list[str]:
    """One executed call as SQL text, values inlined where the driver can (psycopg's
    and PyMySQL's ``mogrify``), else beside it as a comment."""
    sets = list(params) if many and params is not None else [params]
    cursor = getattr(context.get("cursor"), "cursor", None)
    mogrify = getattr(cursor, "mogrify", None)
    out = []
    for values in sets:
        if not values:
            out.append(sql)
            continue
        try:
            out.append(str(mogrify(sql, values)) if mogrify is not None else "")
        except Exception:  # noqa: BLE001 - shown with its parameters below
            out.append("")
        if not out[-1]:
            out[-1] = f"{sql}  -- parameters: {values!r}"
    return out
