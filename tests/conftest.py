"""Real databases for the tests: a throwaway database per test on PostgreSQL, MariaDB
and SQLite, a throwaway Alembic project per test, and the slipway CLI as a process."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

ROOT = Path(__file__).resolve().parents[1]
# The servers as this runner reaches them (a docker runner: the job's services).
PG_ADMIN = os.environ.get(
    "SLIPWAY_TEST_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
MARIA_ADMIN = os.environ.get(
    "SLIPWAY_TEST_MARIA_ADMIN", "mysql+pymysql://root@127.0.0.1:3306/mysql"
)
DIALECTS = ("sqlite", "postgresql", "mariadb")
# The steps of a guarded release that applied, in the order its report lists them.
RELEASE_STEPS = ["preflight", "lock", "backup", "render", "rehearse", "apply", "verify"]

# The files that take minutes (real SSH hosts, app releases, the pipeline), run first.
# `make test` hands whole files to its two workers in collection order (--dist loadfile
# --no-loadscope-reorder), and a worker whose queue holds two tests or fewer gets the
# next file at once: a fast file third keeps the two-test app release from drawing the
# Ansible file onto its worker too.
SLOW_FIRST = (
    "test_gitlab_pipeline.py",
    "test_app_release.py",
    "test_bad_input.py",
    "test_ansible_migrate.py",
    "test_real_alembic_projects.py",
    "test_async_alembic_projects.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return SLOW_FIRST.index(name) if name in SLOW_FIRST else len(SLOW_FIRST)

    items.sort(key=rank)  # stable: each file keeps its own order


@dataclass
class ThrowawayDB:
    """One throwaway database on a real server (or a real SQLite file)."""

    kind: str
    url: URL
    folder: Path
    _engines: list[sa.Engine] = field(default_factory=list)

    @property
    def url_str(self) -> str:
        return self.url.render_as_string(hide_password=False)

    def engine(self) -> sa.Engine:
        engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        self._engines.append(engine)
        return engine

    def execute(self, *statements: str) -> None:
        with self.engine().begin() as conn:
            for stmt in statements:
                conn.exec_driver_sql(stmt)

    def scalar(self, sql: str) -> Any:
        with self.engine().connect() as conn:
            return conn.exec_driver_sql(sql).scalar()

    def revision(self) -> str | None:
        with self.engine().connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            rows = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
        return rows[0][0] if rows else None

    def tables(self) -> list[str]:
        with self.engine().connect() as conn:
            return sorted(sa.inspect(conn).get_table_names())

    def contents(self, skip_ledger: bool = True) -> dict[str, str]:
        """sha256 of every table's rows, in primary-key order: 'rows unchanged' made exact."""
        out: dict[str, str] = {}
        with self.engine().connect() as conn:
            insp = sa.inspect(conn)
            for table in sorted(insp.get_table_names()):
                if skip_ledger and (table.startswith("slipway_") or table == "alembic_version"):
                    continue
                cols = [c["name"] for c in insp.get_columns(table)]
                pk = insp.get_pk_constraint(table)["constrained_columns"] or cols
                q = conn.dialect.identifier_preparer.quote
                sql = (
                    f"SELECT {', '.join(q(c) for c in cols)} FROM {q(table)} "
                    f"ORDER BY {', '.join(q(c) for c in pk)}"
                )
                rows = conn.exec_driver_sql(sql).all()
                out[table] = hashlib.sha256(
                    repr([tuple(map(str, r)) for r in rows]).encode()
                ).hexdigest()
        return out

    def schema(self) -> dict[str, Any]:
        from slipway.schema import describe

        with self.engine().connect() as conn:
            return describe(conn)

    def dispose(self) -> None:
        for engine in self._engines:
            engine.dispose()


def _new_name() -> str:
    return f"sw_{uuid.uuid4().hex[:12]}"


def create_database(kind: str, tmp: Path) -> ThrowawayDB:
    name = _new_name()
    if kind == "sqlite":
        return ThrowawayDB(kind, make_url(f"sqlite:///{tmp / (name + '.db')}"), tmp)
    admin = sa.create_engine(
        PG_ADMIN if kind == "postgresql" else MARIA_ADMIN,
        isolation_level="AUTOCOMMIT",
        poolclass=sa.pool.NullPool,
    )
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    base = make_url(PG_ADMIN if kind == "postgresql" else MARIA_ADMIN)
    return ThrowawayDB(kind, base.set(database=name), tmp)


def drop_database(db: ThrowawayDB) -> None:
    db.dispose()
    if db.kind == "sqlite":
        return
    admin = sa.create_engine(
        PG_ADMIN if db.kind == "postgresql" else MARIA_ADMIN,
        isolation_level="AUTOCOMMIT",
        poolclass=sa.pool.NullPool,
    )
    with admin.connect() as conn:
        if db.kind == "postgresql":
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {db.url.database} WITH (FORCE)")
        else:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {db.url.database}")
    admin.dispose()


def throwaway(kind: str, tmp_path: Path) -> Iterator[ThrowawayDB]:
    database = create_database(kind, tmp_path)
    yield database
    drop_database(database)


@pytest.fixture(params=DIALECTS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ThrowawayDB]:
    """A throwaway database on each of the three real database kinds."""
    yield from throwaway(request.param, tmp_path)


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[ThrowawayDB]:
    yield from throwaway("postgresql", tmp_path)


@pytest.fixture
def maria(tmp_path: Path) -> Iterator[ThrowawayDB]:
    yield from throwaway("mariadb", tmp_path)


@pytest.fixture
def lite(tmp_path: Path) -> Iterator[ThrowawayDB]:
    yield from throwaway("sqlite", tmp_path)


# A throwaway Alembic project --------------------------------------------------------

ENV_PY = """
from alembic import context
from sqlalchemy import create_engine, pool

config = context.config

def run_offline():
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True,
                      transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()

def run_online():
    conn = config.attributes.get("connection")
    if conn is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
        with engine.connect() as conn:
            context.configure(connection=conn, transaction_per_migration=True)
            with context.begin_transaction():
                context.run_migrations()
        return
    context.configure(connection=conn, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()

if context.is_offline_mode():
    run_offline()
else:
    run_online()
"""

REVISION = """
import os
import time

import sqlalchemy as sa
from alembic import op

revision = {rev!r}
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade():
{upgrade}


def downgrade():
{downgrade}
"""


@dataclass
class Project:
    """An Alembic project of the test's own, with the revisions the test writes."""

    root: Path
    revisions: list[str] = field(default_factory=list)

    @property
    def ini(self) -> Path:
        return self.root / "alembic.ini"

    def add(
        self, rev: str, upgrade: str, downgrade: str = "pass", down: str | None = "last"
    ) -> Path:
        down_rev = (self.revisions[-1] if self.revisions else None) if down == "last" else down
        body = REVISION.format(
            rev=rev,
            down=down_rev,
            upgrade=textwrap.indent(textwrap.dedent(upgrade).strip() or "pass", "    "),
            downgrade=textwrap.indent(textwrap.dedent(downgrade).strip() or "pass", "    "),
        )
        path = self.root / "versions" / f"{rev}.py"
        path.write_text(body, encoding="utf-8")
        self.revisions.append(rev)
        return path


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "proj"
    (root / "versions").mkdir(parents=True)
    (root / "env.py").write_text(ENV_PY, encoding="utf-8")
    (root / "alembic.ini").write_text(
        "[alembic]\nscript_location = %(here)s\n"
        "version_locations = %(here)s/versions\npath_separator = os\n",
        encoding="utf-8",
    )
    return Project(root)


def things_table(project: Project, rows: int = 5) -> None:
    """Revision r1: table ``things`` with ``rows`` rows (``thing 1``, ``thing 2``...)."""
    project.add(
        "r1",
        f"""
        t = op.create_table("things", sa.Column("id", sa.Integer, primary_key=True),
                            sa.Column("name", sa.String(50), nullable=False))
        op.bulk_insert(t, [{{"id": i, "name": f"thing {{i}}"}} for i in range(1, {rows + 1})])
        """,
        'op.drop_table("things")',
    )


def unrecoverable_history(
    project: Project, r3: str = 'raise RuntimeError("this upgrade fails")'
) -> None:
    """r1 ``things``; r2 rewrites its rows and cannot be downgraded; r3 (``r3``) fails:
    a release from r1 fails and its rollback fails too."""
    things_table(project)
    project.add(
        "r2",
        """
        op.add_column("things", sa.Column("label", sa.String(80), nullable=True))
        op.execute("UPDATE things SET label = name, name = 'renamed'")
        """,
        'raise RuntimeError("this downgrade cannot run")',
    )
    project.add("r3", r3, "pass")


def standard_history(project: Project) -> Project:
    """Three revisions: a table with rows, a column with a data backfill, an index."""
    project.add(
        "r1",
        """
        t = op.create_table("things", sa.Column("id", sa.Integer, primary_key=True),
                            sa.Column("name", sa.String(50), nullable=False))
        op.bulk_insert(t, [{"id": i, "name": f"thing {i}"} for i in range(1, 6)])
        """,
        'op.drop_table("things")',
    )
    project.add(
        "r2",
        """
        op.add_column("things", sa.Column("label", sa.String(80), nullable=True))
        op.execute("UPDATE things SET label = name")
        op.execute("UPDATE things SET name = 'renamed'")
        """,
        """
        op.execute("UPDATE things SET name = label")
        op.drop_column("things", "label")
        """,
    )
    project.add(
        "r3",
        'op.create_index("ix_things_label", "things", ["label"])',
        'op.drop_index("ix_things_label", table_name="things")',
    )
    return project


# Running slipway as its users do --------------------------------------------------------


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    argv: list[str]

    @property
    def report(self) -> dict[str, Any]:
        return json.loads(self.stdout)


def slipway(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 180
) -> Result:
    argv = [sys.executable, "-m", "slipway", *args]
    merged = {**os.environ, **(env or {})}
    proc = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        env=merged,
        cwd=cwd or ROOT,
        timeout=timeout,
        check=False,
        # Never the terminal pytest may run in: a command that asks there would wait.
        stdin=subprocess.DEVNULL,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr, argv)


def write_config(
    folder: Path, defaults: dict[str, Any] | None = None, **envs: dict[str, Any]
) -> Path:
    """A slipway.yml of the test's own: its artifacts and backups stay in ``folder``."""
    import yaml

    data = {
        "defaults": {
            "artifacts_dir": str(folder / "artifacts"),
            "backup_dir": str(folder / "backups" / "{env}"),
            "lock_timeouts_s": [2, 5],
            "lock_retry_pause_s": 0.2,
            # The ladder alone: a test that wants the retry window sets it.
            "lock_retry_window_s": 0,
            # Most tests release revisions written to fail, not to pass the lint gate;
            # the gate's own tests turn it on.
            "lint_fail_on": "never",
            **(defaults or {}),
        },
        "environments": envs
        or {
            "test": {"database_url_env": "TEST_DB_URL", "restore_on_failed_rollback": True},
            "prod": {"database_url_env": "TEST_DB_URL", "restore_on_failed_rollback": False},
        },
    }
    path = folder / "slipway.yml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@dataclass
class Release:
    """slipway pointed at one test database and one test project."""

    db: ThrowawayDB
    project_ini: Path
    config: Path
    env: str = "test"

    def __call__(
        self,
        command: str = "release",
        *extra: str,
        env: str | None = None,
        child_env: dict[str, str] | None = None,
    ) -> Result:
        return slipway(
            "db",
            command,
            "--env",
            env or self.env,
            "--config",
            str(self.config),
            "--alembic-ini",
            str(self.project_ini),
            "--json",
            *extra,
            env={"TEST_DB_URL": self.db.url_str, **(child_env or {})},
        )

    def start(self, **child_env: str) -> subprocess.Popen[str]:
        """The release as a background process, for tests that race or kill it."""
        argv = [
            sys.executable,
            "-m",
            "slipway",
            "db",
            "release",
            "--env",
            self.env,
            "--config",
            str(self.config),
            "--alembic-ini",
            str(self.project_ini),
            "--json",
        ]
        env = {**os.environ, "TEST_DB_URL": self.db.url_str, **child_env}
        return subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            text=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )


def example_checkout(name: str, tmp_path: Path, backend: str) -> Path:
    """examples/NAME copied as a team's checkout would be (no database, no artifacts),
    with environment ``test`` reading its URL from DATABASE_URL, the variable the
    example's own settings read."""
    import shutil

    folder = tmp_path / name
    shutil.copytree(
        ROOT / "examples" / name,
        folder,
        ignore=shutil.ignore_patterns("*.sqlite3*", "artifacts", "var", "__pycache__"),
    )
    (folder / "slipway.yml").write_text(
        f"defaults:\n  backend: {backend}\n"
        "environments:\n  test:\n    database_url_env: DATABASE_URL\n"
    )
    return folder


def local_inventory(tmp_path: Path, **variables: str) -> Path:
    """This machine as the database host (local connection), the project run from a
    checkout with this repository's virtualenv, as `make release` does."""
    import yaml

    inv = tmp_path / "inventory"
    (inv / "group_vars").mkdir(parents=True)
    (inv / "hosts.yml").write_text(
        "all:\n  children:\n    db_migrator:\n      hosts:\n        localhost:\n"
        "          ansible_connection: local\n"
        "          ansible_python_interpreter: '{{ ansible_playbook_python }}'\n"
    )
    defaults = {
        "slipway_db_env": "test",
        "slipway_db_source_venv": str(ROOT / ".venv"),
        "slipway_db_root": str(tmp_path / "srv"),
        "slipway_db_backup_dir": str(tmp_path / "srv" / "backups"),
        "slipway_db_become": False,
    }
    (inv / "group_vars" / "all.yml").write_text(yaml.safe_dump(defaults | variables))
    return inv


def migrate_playbook(inv: Path, fetched: Path) -> subprocess.CompletedProcess[str]:
    """playbooks/migrate.yml against ``inv``; the application's DATABASE_URL is not set
    (slipway gets the vaulted URL on stdin)."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "playbooks/migrate.yml",
         "-i", str(inv), "-e", f"slipway_db_fetch_dir={fetched}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def wait_for_log(artifacts: Path, text: str, timeout: float = 120) -> Path:
    """The run log (artifacts/<run id>/run.log) that says ``text``, once it does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in artifacts.glob("*/run.log"):
            if text in path.read_text():
                return path
        time.sleep(0.05)
    raise AssertionError(f"no run log says {text!r}")


@contextlib.contextmanager
def held(db: ThrowawayDB, *statements: str, wait_s: float = 180) -> Iterator[threading.Event]:
    """Another session runs ``statements`` in an open transaction until the block ends,
    or until the event it yields is set (then it rolls back)."""
    ready, done = threading.Event(), threading.Event()

    def hold() -> None:
        with db.engine().connect() as conn:
            conn.exec_driver_sql("BEGIN" if db.kind == "postgresql" else "START TRANSACTION")
            for sql in statements:
                conn.exec_driver_sql(sql)
            ready.set()
            done.wait(wait_s)
            conn.exec_driver_sql("ROLLBACK")

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert ready.wait(20)
    try:
        yield done
    finally:
        done.set()
        thread.join()


def kill_during(release: Release, artifacts: Path, text: str, settle: float = 1.0) -> str:
    """Start a release with SLOW_S=60, SIGKILL it ``settle`` seconds after its log says
    ``text``; its run id."""
    import signal

    victim = release.start(SLOW_S="60")
    run_id = wait_for_log(artifacts, text).parent.name
    time.sleep(settle)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    return run_id


def ledger_rows(db: ThrowawayDB) -> list[dict[str, object]]:
    """slipway_history, oldest run first."""
    with db.engine().connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM slipway_history ORDER BY started_at"))
        return [dict(r) for r in rows.mappings()]


def outcomes(db: ThrowawayDB) -> dict[str, object]:
    """Each run's outcome in slipway_history, by run id."""
    return {str(r["run_id"]): r["outcome"] for r in ledger_rows(db)}


@pytest.fixture
def release(db: ThrowawayDB, project: Project, tmp_path: Path) -> Release:
    return Release(db, project.ini, write_config(tmp_path))


def alembic_upgrade(db: ThrowawayDB, ini: Path, revision: str) -> None:
    """Bring a database to a revision with plain Alembic, as an older release would have."""
    from alembic import command
    from alembic.config import Config

    cfg = Config(str(ini))
    # Outside a transaction: env.py's begin_transaction() owns them (autocommit_block).
    with db.engine().connect() as conn:
        cfg.attributes["connection"] = conn
        cfg.set_main_option("sqlalchemy.url", db.url_str.replace("%", "%%"))
        command.upgrade(cfg, revision)
        conn.commit()


@contextlib.contextmanager
def protected_database(kind: str, tmp_path: Path) -> Iterator[ThrowawayDB]:
    """A database owned by a user that has a password (with characters that need care)."""
    db = create_database(kind, tmp_path)
    user = f"sw_u{secrets.token_hex(4)}"
    password = f"Pw!{secrets.token_hex(8)}%@:/"
    admin = sa.create_engine(
        PG_ADMIN if db.kind == "postgresql" else MARIA_ADMIN, isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        if db.kind == "postgresql":
            conn.execute(sa.text(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'"))
            conn.execute(sa.text(f"ALTER DATABASE {db.url.database} OWNER TO {user}"))
        else:
            for host in ("%", "localhost"):
                conn.execute(
                    sa.text(f"CREATE USER '{user}'@'{host}' IDENTIFIED BY :pw"), {"pw": password}
                )
                conn.execute(sa.text(f"GRANT ALL ON {db.url.database}.* TO '{user}'@'{host}'"))
                # A restore loads into a database of its own beside the target first.
                scratch = db.url.database.replace("_", "\\_") + "\\_swr\\_%"
                conn.execute(sa.text(f"GRANT ALL ON `{scratch}`.* TO '{user}'@'{host}'"))
    base = make_url(PG_ADMIN if db.kind == "postgresql" else MARIA_ADMIN)
    owned = ThrowawayDB(
        db.kind, base.set(username=user, password=password, database=db.url.database), tmp_path
    )
    try:
        yield owned
    finally:
        _drop_owned(db, owned, admin, user)


def _drop_owned(db: ThrowawayDB, owned: ThrowawayDB, admin: sa.Engine, user: str) -> None:
    owned.dispose()
    drop_database(db)
    with admin.connect() as conn:
        if db.kind == "postgresql":
            conn.execute(sa.text(f"DROP ROLE IF EXISTS {user}"))
        else:
            for host in ("%", "localhost"):
                conn.execute(sa.text(f"DROP USER IF EXISTS '{user}'@'{host}'"))
    admin.dispose()


@pytest.fixture(params=["postgresql", "mariadb"])
def protected(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ThrowawayDB]:
    with protected_database(request.param, tmp_path) as db:
        yield db


@pytest.fixture(scope="session")
def ssh_hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Two SSH hosts on loopback addresses, for the whole test session of this worker."""
    from ansible_env import start_sshd

    yield from start_sshd(tmp_path_factory.mktemp("ssh"))


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The release bundle of this checkout, built as `make bundle` builds it."""
    from ansible_env import build_bundle

    return build_bundle(tmp_path_factory.mktemp("dist"))
