"""The collection in a team's own repository, for a project that is not the storefront:
a plain WSGI service with its package under service/, its Alembic ini and migrations
under db/ (another ini name, another folder), its own names for the service and its
database URL variable. The collection is installed with ansible-galaxy; the bundle is
built as the collection's README describes one; the README's variables are all the
inventory sets. `slipway deploy --playbook deploy` (the team has no playbooks/) installs
it on a host behind nginx, migrates and switches; `slipway.release.migrate` then
finds nothing to do; the reports land in artifacts/ of the folder the play ran from."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import stat
import subprocess
import tarfile
from pathlib import Path

import yaml
from ansible_env import BIN, SshHosts, install_collection, release_answering, write_inventory
from conftest import protected_database
from test_app_release import http_port, owner

RELEASE = "ledger-20261207T101500Z-a1b2c3d"

PYPROJECT = """[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "ledger"
version = "0.3.0"
dependencies = ["gunicorn", "SQLAlchemy>=2"]

[tool.setuptools.packages.find]
where = ["src"]
"""

WSGI = '''"""The ledger: a WSGI app (gunicorn's sync workers)."""
import json
import os

import sqlalchemy as sa

_engine = None


def application(environ, start_response):
    global _engine
    if _engine is None:
        _engine = sa.create_engine(os.environ["LEDGER_DB"])
    path = environ.get("PATH_INFO")
    with _engine.connect() as conn:
        if path == "/health":
            conn.exec_driver_sql("SELECT 1")
            body = {"release": os.environ["SLIPWAY_RELEASE"]}
        elif path == "/entries":
            rows = conn.exec_driver_sql("SELECT memo FROM entries ORDER BY id").all()
            body = {"entries": [r[0] for r in rows]}
        else:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]
'''

INI = """[alembic]
script_location = %(here)s/schema
path_separator = os
"""

ENV_PY = """from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config


def run_migrations_offline():
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    engine = engine_from_config(
        config.get_section(config.config_ini_section), prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as connection:
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
"""

ENTRIES = '''"""entries

Revision ID: l001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "l001"
down_revision = None


def upgrade():
    op.create_table(
        "entries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("memo", sa.Text, nullable=False),
    )


def downgrade():
    op.drop_table("entries")
'''

OPENING = '''"""the opening entry

Revision ID: l002
Revises: l001
"""
from alembic import op

revision = "l002"
down_revision = "l001"


def upgrade():
    op.execute("INSERT INTO entries (memo) VALUES ('opening balance')")


def downgrade():
    op.execute("DELETE FROM entries WHERE memo = 'opening balance'")
'''


def team_repository(root: Path) -> Path:
    """The team's repository: service/ (its distribution), db/ (ini and migrations)."""
    package = root / "service" / "src" / "ledger"
    package.mkdir(parents=True)
    (root / "service" / "pyproject.toml").write_text(PYPROJECT)
    (package / "__init__.py").write_text("")
    (package / "wsgi.py").write_text(WSGI)
    versions = root / "db" / "schema" / "versions"
    versions.mkdir(parents=True)
    (root / "db" / "alembic.prod.ini").write_text(INI)
    (root / "db" / "schema" / "env.py").write_text(ENV_PY)
    (versions / "l001_entries.py").write_text(ENTRIES)
    (versions / "l002_opening.py").write_text(OPENING)
    return root


def build_team_bundle(team: Path, wheels_from: Path, dist: Path) -> Path:
    """The bundle, made as the collection's README describes it: wheels/ (slipway-release
    and its dependencies from another bundle, the ledger's own wheel built here),
    requirements.txt, the ini and its migrations, MANIFEST with every file's sha256."""
    staging = dist / "staging"
    with tarfile.open(wheels_from) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith("wheels/")]
        members += [tar.getmember(n) for n in ("requirements.txt", "MANIFEST")]
        tar.extractall(staging, members=members, filter="data")
    for wheel in (staging / "wheels").glob("storefront-*.whl"):
        wheel.unlink()
    subprocess.run(
        [
            str(BIN / "pip"),
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(staging / "wheels"),
            str(team / "service"),
        ],
        check=True,
        capture_output=True,
    )
    slipway_pin = (staging / "requirements.txt").read_text().splitlines()[0]
    assert slipway_pin.startswith("slipway-release["), slipway_pin
    (staging / "requirements.txt").write_text(f"{slipway_pin}\nledger==0.3.0\n")
    pythons = next(
        line.split(":", 1)[1].strip()
        for line in (staging / "MANIFEST").read_text().splitlines()
        if line.startswith("pythons:")
    )
    shutil.copytree(team / "db", staging / "db")
    files = sorted(
        str(p.relative_to(staging))
        for p in staging.rglob("*")
        if p.is_file() and p.name != "MANIFEST"
    )
    sums = subprocess.run(
        ["sha256sum", *(f"./{f}" for f in files)],
        cwd=staging,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (staging / "MANIFEST").write_text(
        f"release_id: {RELEASE}\ncommit: a1b2c3d\npythons: {pythons}\nfiles:\n"
        + "".join(f"  {line}\n" for line in sums.splitlines())
    )
    bundle = dist / f"{RELEASE}.tar.gz"
    with tarfile.open(bundle, "w:gz") as tar:
        for item in sorted(staging.iterdir()):
            tar.add(item, arcname=item.name)
    return bundle


def test_a_team_project_laid_out_its_own_way_deploys_with_the_installed_collection(
    tmp_path: Path, ssh_hosts: SshHosts, bundle: Path
) -> None:
    _installed, env = install_collection(tmp_path)
    team = team_repository(tmp_path / "team-repo")
    dist = tmp_path / "dist"
    dist.mkdir()
    ledger = build_team_bundle(team, bundle, dist)
    with protected_database("postgresql", tmp_path) as db:
        inv = write_inventory(
            team / "deploy" / "stage",
            ssh_hosts,
            env="stage",
            database_url=db.url_str,
            bundle=ledger,
            web=("web1",),
            migrator="web1",
            http_port=http_port(),
            extra_vars={
                "slipway_db_alembic_ini": "db/alembic.prod.ini",
                "slipway_app_name": "ledger",
                "slipway_app_module": "ledger.wsgi:application",
                "slipway_app_worker_class": "sync",
                "slipway_app_database_url_env": "LEDGER_DB",
                "slipway_app_health_retries": 15,
            },
        )
        # The reports' folder by default: artifacts/ where the play runs (the team's root).
        settings_file = inv.path / "group_vars" / "all" / "main.yml"
        settings = yaml.safe_load(settings_file.read_text())
        del settings["slipway_db_fetch_dir"]
        settings_file.write_text(yaml.safe_dump(settings))
        try:
            deployed = subprocess.run(
                [
                    str(BIN / "slipway"),
                    "deploy",
                    "--env",
                    "stage",
                    "--playbook",
                    "deploy",
                    "--project",
                    str(team),
                    "--inventory",
                    str(inv.path),
                    "--json",
                    "--vault-password-file",
                    str(inv.vault_password_file),
                ],
                cwd=team,
                env=env,
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
            assert deployed.returncode == 0, deployed.stdout + deployed.stderr
            assert json.loads(deployed.stdout)["outcome"] == "applied", deployed.stdout
            assert db.revision() == "l002"
            for name, (address, port) in inv.nginx.items():
                assert release_answering(address, port) == RELEASE, name
                conn = http.client.HTTPConnection(address, port, timeout=5)
                conn.request("GET", "/entries")
                answer = conn.getresponse()
                assert answer.status == 200, name
                assert json.loads(answer.read()) == {"entries": ["opening balance"]}, name
                conn.close()
            for name, root in inv.roots.items():
                shared = root / "shared"
                assert owner(shared / "ledger.env") == "ledger", name
                assert stat.S_IMODE((shared / "ledger.env").stat().st_mode) == 0o400, name
                assert (shared / "bin" / "ledger-run").is_file(), name
                assert (shared / "bin" / "ledger-slots").is_file(), name
                names = {p.name for p in shared.rglob("*")}
                assert not [n for n in names if "storefront" in n], (name, names)
                assert Path(os.readlink(root / "current")).name == RELEASE, name

            # The collection's migrate playbook, run by hand from the team's root.
            migrated = subprocess.run(
                [
                    str(BIN / "ansible-playbook"),
                    "slipway.release.migrate",
                    "-i",
                    str(inv.path),
                    "--vault-password-file",
                    str(inv.vault_password_file),
                ],
                cwd=team,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            assert migrated.returncode == 0, migrated.stdout + migrated.stderr
            reports = [
                json.loads(p.read_text())
                for p in sorted((team / "artifacts").glob("*/report.json"))
            ]
            assert sorted(r["outcome"] for r in reports) == ["applied", "noop"], reports
            output = deployed.stdout + deployed.stderr + migrated.stdout + migrated.stderr
            assert str(db.url.password) not in output
            assert not (team / "playbooks").exists()
        finally:
            for root in inv.roots.values():
                for log in (root / "shared" / "log").glob("*"):
                    print("=====", log, log.read_text()[-3000:])
            inv.stop_services()
