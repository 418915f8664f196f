"""Bad configuration and bad arguments end as bad input (exit 2) in one line naming the
setting or argument, in bounded time and memory, with no database changed: braces in a
path setting, a file that is not UTF-8, an infinite ratio, an alias bomb, an environment
name that would leave the project's folders, names longer than the ledger keeps, a
read-only SQLite folder, and `db history` on a database it cannot reach."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import yaml
from conftest import Project, Release, ThrowawayDB, alembic_upgrade, slipway, standard_history
from sqlalchemy.engine import make_url


def config_with(tmp_path: Path, **setting: object) -> Path:
    data = {
        "defaults": {
            "artifacts_dir": str(tmp_path / "artifacts"),
            "backup_dir": str(tmp_path / "backups" / "{env}"),
            "lint_fail_on": "never",
        },
        "environments": {"test": {"database_url_env": "TEST_DB_URL", **setting}},
    }
    path = tmp_path / "slipway.yml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def one_line_bad_input(result: object, *named: str) -> None:
    code, stderr = result.code, result.stderr  # type: ignore[attr-defined]
    assert code == 2, stderr
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    for name in named:
        assert name in lines[0], lines[0]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("backup_dir", "var/{"),
        ("backup_dir", "var/{0}"),
        ("artifacts_dir", "var/{envv}"),
        ("backup_dir", "{env.x}/backups"),
    ],
)
def test_braces_in_a_path_setting_name_the_setting(
    lite: ThrowawayDB, project: Project, tmp_path: Path, key: str, value: str
) -> None:
    standard_history(project)
    release = Release(lite, project.ini, config_with(tmp_path, **{key: value}))

    result = release("release")

    one_line_bad_input(result, key, value)
    assert not Path(str(lite.url.database)).exists(), "nothing was created"


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan"])
def test_an_infinite_ratio_is_bad_input(
    lite: ThrowawayDB, project: Project, tmp_path: Path, value: str
) -> None:
    standard_history(project)
    path = config_with(tmp_path)
    text = path.read_text().replace(
        "lint_fail_on: never", f"lint_fail_on: never\n  backup_min_free_ratio: {value}"
    )
    path.write_text(text)

    one_line_bad_input(Release(lite, project.ini, path)("release"), "backup_min_free_ratio")
    assert not Path(str(lite.url.database)).exists()


def test_a_config_that_is_not_utf8_is_bad_input(
    lite: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    standard_history(project)
    path = config_with(tmp_path)
    path.write_bytes(path.read_bytes() + b"# caf\xe9\n")

    one_line_bad_input(Release(lite, project.ini, path)("release"), str(path), "UTF-8")


def test_an_alias_bomb_is_refused_at_once(
    lite: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    standard_history(project)
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 30)]
    path = tmp_path / "slipway.yml"
    path.write_text(
        "\n".join(lines) + "\nenvironments:\n  test:\n    database_url_env: TEST_DB_URL\n"
        "    backup_dir: *a29\n"
    )
    started = time.monotonic()
    result = Release(lite, project.ini, path)("release")

    one_line_bad_input(result, "aliases")
    assert time.monotonic() - started < 60, "reading a configuration is bounded"


def test_a_nested_bomb_in_a_setting_is_named_in_a_short_line(
    lite: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    """Under the alias bound, the error still shows a short piece of what was given."""
    standard_history(project)
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 11)]
    path = tmp_path / "slipway.yml"
    path.write_text(
        "\n".join(lines) + "\nenvironments:\n  test:\n    database_url_env: TEST_DB_URL\n"
        "    backup_dir: *a10\n"
    )
    result = Release(lite, project.ini, path)("release")

    one_line_bad_input(result, "backup_dir")
    assert len(result.stderr) < 600


@pytest.mark.parametrize("env", ["../../escape", "a/b", "x" * 41, ".hidden"])
def test_an_environment_name_is_checked_before_it_becomes_a_path(
    lite: ThrowawayDB, project: Project, tmp_path: Path, env: str
) -> None:
    standard_history(project)
    path = config_with(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["environments"][env] = {"database_url_env": "TEST_DB_URL"}
    path.write_text(yaml.safe_dump(data))

    result = Release(lite, project.ini, path)("release", env=env)

    one_line_bad_input(result, "environment name")
    assert not Path(str(lite.url.database)).exists()
    assert not [p for p in tmp_path.rglob("*.sqlite3")], "no backup anywhere"


def test_a_release_name_longer_than_the_history_keeps_is_bad_input(
    db: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    standard_history(project)
    alembic_upgrade(db, project.ini, "r1")
    before = (db.revision(), db.tables(), db.contents(skip_ledger=False))

    result = Release(db, project.ini, config_with(tmp_path))("release", "--release", "v" * 121)

    one_line_bad_input(result, "--release")
    assert (db.revision(), db.tables(), db.contents(skip_ledger=False)) == before


def test_history_of_an_unreachable_database_is_bad_input(project: Project, tmp_path: Path) -> None:
    standard_history(project)
    config = config_with(tmp_path)
    for url in (
        "postgresql+psycopg://nobody@127.0.0.1:1/nothing",
        "mysql+pymysql://nobody@127.0.0.1:1/nothing",
        f"sqlite:///{tmp_path}/no/such/folder/x.db",
    ):
        result = slipway(
            "db", "history", "--env", "test", "--config", str(config),
            "--alembic-ini", str(project.ini), env={"TEST_DB_URL": url},
        )  # fmt: skip
        one_line_bad_input(result)


def test_a_read_only_sqlite_folder_is_refused_in_one_line(project: Project, tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    lite = ThrowawayDB("sqlite", make_url(f"sqlite:///{folder / 'app.db'}"), folder)
    standard_history(project)
    alembic_upgrade(lite, project.ini, "r1")
    before = (lite.revision(), lite.contents())
    done = subprocess.run(
        ["mount", "--bind", str(folder), str(folder)], capture_output=True, check=False
    )
    if done.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {done.stderr.decode().strip()}")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], check=True)
        result = Release(lite, project.ini, config_with(tmp_path))("release")
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)

    assert result.code == 3, result.stderr
    assert result.report["error"]["check"] == "lock"
    assert "lock file" in result.report["error"]["message"]
    assert "Traceback" not in result.stderr
    assert (lite.revision(), lite.contents()) == before


def test_a_version_table_env_py_does_not_use_is_bad_input_before_any_change(
    db: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    """slipway would read one table while env.py writes revisions into another."""
    standard_history(project)
    alembic_upgrade(db, project.ini, "r1")
    before = (db.revision(), db.tables(), db.contents(skip_ledger=False), db.schema())

    release = Release(db, project.ini, config_with(tmp_path, version_table="custom_versions"))
    for command in ("release", "status", "rollback"):
        result = release(command)
        one_line_bad_input(result, "version_table", "custom_versions", "alembic_version")
    assert (db.revision(), db.tables(), db.contents(skip_ledger=False), db.schema()) == before
