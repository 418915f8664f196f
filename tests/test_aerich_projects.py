"""A Tortoise ORM project whose migrations aerich manages gets the guarded release as it
is: examples/tasklist, its migrations written by aerich itself (init-db, migrate, migrate
--empty for the data step), released with ``backend: aerich`` at defaults."""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import (
    ROOT,
    ThrowawayDB,
    create_database,
    drop_database,
    example_checkout,
    local_inventory,
    migrate_playbook,
    slipway,
    throwaway,
)


def tasklist(tmp_path: Path) -> Path:
    return example_checkout("tasklist", tmp_path, "aerich")


def release(folder: Path, db: ThrowawayDB, *args: str):
    return slipway(
        "db", "release", "--env", "test", "--json", *args,
        env={"DATABASE_URL": f"sqlite://{db.url.database}"}, cwd=folder, timeout=300,
    )  # fmt: skip


def recorded(db: ThrowawayDB) -> list[str]:
    with db.engine().connect() as conn:
        rows = conn.exec_driver_sql("SELECT version FROM aerich ORDER BY id").all()
    return [v for (v,) in rows]


def test_an_aerich_project_releases_and_aerich_agrees(lite: ThrowawayDB, tmp_path: Path) -> None:
    folder = tasklist(tmp_path)
    first = release(folder, lite, "--to", "models:1_20261207221952_task_priority")
    assert first.code == 0, first.stderr
    lite.execute(
        "INSERT INTO project (id, name) VALUES (1, 'launch')",
        "INSERT INTO task (id, title, project_id, done) VALUES (1, 'write docs', 1, 0)",
    )
    second = release(folder, lite)
    assert second.code == 0, second.stderr
    assert second.report["outcome"] == "applied"
    assert second.report["to_revision"] == "models:2_20261207222001_fill_priority"
    assert lite.scalar("SELECT priority FROM task WHERE id = 1") == 0
    assert recorded(lite) == [
        "0_20261207221944_init.py",
        "1_20261207221952_task_priority.py",
        "2_20261207222001_fill_priority.py",
    ]
    # aerich reads the rows slipway wrote as its own: nothing pending, no model change
    aerich = ROOT / ".venv" / "bin" / "aerich"
    env = {"DATABASE_URL": f"sqlite://{lite.url.database}"}
    heads = subprocess.run(
        [str(aerich), "heads"], cwd=folder, env={**os.environ, **env},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert "No available heads" in heads.stdout, heads.stdout + heads.stderr
    applied = Path(second.report["sql"]["applied"]["path"]).read_text()
    assert 'UPDATE "task" SET "priority" = 0' in applied


def test_a_failing_aerich_migration_rolls_back_with_rows_identical(
    lite: ThrowawayDB, tmp_path: Path
) -> None:
    folder = tasklist(tmp_path)
    assert release(folder, lite).code == 0
    lite.execute("INSERT INTO project (id, name) VALUES (1, 'launch')")
    before, at = lite.contents(), recorded(lite)
    migrations = folder / "migrations" / "models"
    state = (migrations / "2_20261207222001_fill_priority.py").read_text().split("MODELS_STATE")[1]
    for name, up, down in (
        ("3_20261208000000_project_code", 'ALTER TABLE "project" ADD "code" VARCHAR(20);',
         'ALTER TABLE "project" DROP COLUMN "code";'),
        ("4_20261208000001_broken", 'UPDATE "no_such_table" SET "x" = 1;', "SELECT 1;"),
    ):  # fmt: skip
        (migrations / f"{name}.py").write_text(
            textwrap.dedent(
                f'''\
                from tortoise import BaseDBAsyncClient

                RUN_IN_TRANSACTION = True


                async def upgrade(db: BaseDBAsyncClient) -> str:
                    return """{up}"""


                async def downgrade(db: BaseDBAsyncClient) -> str:
                    return """{down}"""


                '''
            )
            + "MODELS_STATE"
            + state
        )
    failed = release(folder, lite)
    assert failed.code == 4, failed.stderr
    assert failed.report["outcome"] == "rolled_back"
    assert recorded(lite) == at
    assert lite.contents() == before
    with lite.engine().connect() as conn:
        assert "code" not in {c["name"] for c in sa.inspect(conn).get_columns("project")}


def test_a_tortoise_configuration_naming_another_database_is_refused(
    lite: ThrowawayDB, tmp_path: Path
) -> None:
    folder = tasklist(tmp_path)
    result = slipway(
        "db", "release", "--env", "test",
        env={"DATABASE_URL": f"sqlite://{lite.url.database}"},
        cwd=folder,
    )  # fmt: skip
    assert result.code == 0, result.stderr
    (folder / "slipway.yml").write_text(
        "defaults:\n  backend: aerich\nenvironments:\n  test:\n"
        f"    database_url: sqlite:///{tmp_path / 'other.sqlite3'}\n"
    )
    refused = slipway(
        "db", "status", "--env", "test",
        env={"DATABASE_URL": f"sqlite://{lite.url.database}"},
        cwd=folder,
    )  # fmt: skip
    assert refused.code == 2, refused.stderr
    assert "the Tortoise connection of app 'models'" in refused.stderr
    assert not (tmp_path / "other.sqlite3").exists()


@pytest.fixture(params=["postgresql", "mariadb"])
def server(request: pytest.FixtureRequest, tmp_path: Path):
    yield from throwaway(request.param, tmp_path)


def tortoise_url(db: ThrowawayDB) -> str:
    scheme = {"postgresql": "postgres", "mariadb": "mysql"}[db.kind]
    return db.url.set(drivername=scheme).render_as_string(hide_password=False)


def test_aerich_migrations_written_for_a_server_release_there_and_roll_back(
    server: ThrowawayDB, tmp_path: Path
) -> None:
    """aerich writes SQL for one kind of server: the project's migrations are made by
    'aerich init-db' on a database of that server, then released to another."""
    folder = tasklist(tmp_path)
    shutil.rmtree(folder / "migrations")
    made = create_database(server.kind, tmp_path)
    try:
        done = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "aerich"), "init-db"], cwd=folder,
            env={**os.environ, "DATABASE_URL": tortoise_url(made)},
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    finally:
        drop_database(made)
    assert done.returncode == 0, done.stdout + done.stderr
    env = {"DATABASE_URL": tortoise_url(server)}
    first = slipway("db", "release", "--env", "test", "--json", env=env, cwd=folder)
    assert first.code == 0, first.stderr
    server.execute("INSERT INTO project (id, name) VALUES (1, 'launch')")
    before, at = server.contents(), recorded(server)
    migrations = folder / "migrations" / "models"
    (init,) = migrations.glob("0_*.py")
    state = init.read_text().split("MODELS_STATE")[1]
    for name, up, down in (
        ("1_20261208000000_project_code", "ALTER TABLE project ADD code VARCHAR(20);",
         "ALTER TABLE project DROP COLUMN code;"),
        ("2_20261208000001_broken", "UPDATE no_such_table SET x = 1;", "SELECT 1;"),
    ):  # fmt: skip
        (migrations / f"{name}.py").write_text(
            f'async def upgrade(db):\n    return """{up}"""\n\n\n'
            f'async def downgrade(db):\n    return """{down}"""\n\n\nMODELS_STATE{state}'
        )
    failed = slipway("db", "release", "--env", "test", "--json", env=env, cwd=folder)
    assert failed.code == 4, failed.stderr
    assert failed.report["outcome"] == "rolled_back"
    assert recorded(server) == at
    assert server.contents() == before


def test_the_migrate_playbook_releases_an_aerich_project(lite: ThrowawayDB, tmp_path: Path) -> None:
    folder = tasklist(tmp_path)
    inv = local_inventory(
        tmp_path,
        slipway_db_database_url=f"sqlite:///{lite.url.database}",
        slipway_db_source_dir=str(folder),
        slipway_db_backend="aerich",
    )
    done = migrate_playbook(inv, tmp_path / "fetched")
    assert done.returncode == 0, done.stdout[-3000:]
    assert recorded(lite)[-1] == "2_20261207222001_fill_priority.py"
