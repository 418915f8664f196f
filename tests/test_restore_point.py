"""backup: restore_point, on a private PostgreSQL whose WAL pgBackRest archives.

A release whose rollback fails ends needs_attention with pgBackRest's point-in-time
recovery as the next command; the test runs that command as printed (as the server's OS
user) and finds the database as it was at the point. Preflight refuses a release while
the archiver fails. Elsewhere than PostgreSQL the method is bad input."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from archived_pg import STANZA, Archived, archived_server, as_postgres, bindir
from conftest import Project, Release, ThrowawayDB, unrecoverable_history, write_config


@pytest.fixture(scope="module")
def archived() -> Iterator[Archived]:
    with archived_server() as server:
        yield server


def _config(tmp_path: Path, archived: Archived) -> Path:
    bin_dir = bindir()
    return write_config(
        tmp_path,
        {
            "backup": "restore_point",
            "pgbackrest_stanza": STANZA,
            "pgbackrest_config": str(archived.config),
            "pitr_stop_command": f"{bin_dir}/pg_ctl stop -D {{data_directory}} -m fast",
            "pitr_start_command": (
                f"{bin_dir}/pg_ctl start -w -D {{data_directory}} "
                f"-l {archived.base}/server-after.log"
            ),
            "archive_max_lag_s": 30,
        },
    )


def _database(archived: Archived, tmp_path: Path, name: str) -> ThrowawayDB:
    archived.execute(f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}")
    return ThrowawayDB("postgresql", archived.url(name), tmp_path)


@contextmanager
def archive_command(archived: Archived, command: str) -> Iterator[None]:
    """The server archives with ``command`` meanwhile, then with its own again."""
    archived.execute(f"ALTER SYSTEM SET archive_command = '{command}'", "SELECT pg_reload_conf()")
    try:
        yield
    finally:
        archived.execute(
            "ALTER SYSTEM RESET archive_command",
            "SELECT pg_reload_conf()",
            "DROP TABLE IF EXISTS wal_filler",
        )


def test_a_failed_rollback_names_the_recovery_and_it_recovers_the_point(
    archived: Archived, project: Project, tmp_path: Path
) -> None:
    db = _database(archived, tmp_path, "app")
    unrecoverable_history(project)
    release = Release(db, project.ini, _config(tmp_path, archived))
    first = release("release", "--to", "r1")
    assert first.code == 0, first.stderr
    before = (db.revision(), db.schema(), db.contents())

    failed = release()

    assert failed.code == 6, failed.stderr
    report = failed.report
    assert report["outcome"] == "needs_attention"
    assert report["error"]["revision"] == "r3"
    point = report["data"]["restore_point"]
    assert point["name"] == f"slipway-{report['run_id']}"
    assert db.revision() == "r2"  # r2 applied, its downgrade failed: not where it began
    command = report["next_command"]
    assert f"--type=name --target={point['name']}" in command
    assert "restore" in [s["name"] for s in report["steps"] if s["status"] == "skipped"]
    recorded = db.scalar(
        f"SELECT restore_point FROM slipway_history WHERE run_id = '{report['run_id']}'"
    )
    assert recorded == f"{point['name']}@{point['lsn']}"
    db.dispose()

    done = as_postgres("sh", "-c", command, check=False)
    assert done.returncode == 0, done.stdout + done.stderr

    assert (db.revision(), db.schema(), db.contents()) == before
    # The point was taken under the run's claim: the claim comes back with the cluster,
    # and unlock finds the database where the run began.
    unlocked = release("unlock", report["run_id"])
    assert unlocked.code == 0, unlocked.stderr
    assert db.revision() == "r1"
    db.dispose()


def test_preflight_refuses_while_the_archiver_fails(
    archived: Archived, project: Project, tmp_path: Path
) -> None:
    db = _database(archived, tmp_path, "app2")
    unrecoverable_history(project)
    release = Release(db, project.ini, _config(tmp_path, archived))
    with archive_command(archived, "/bin/false"):
        failures = archived.scalar("SELECT failed_count FROM pg_stat_archiver")
        archived.execute("CREATE TABLE wal_filler (id int)", "SELECT pg_switch_wal()")
        deadline = time.monotonic() + 30
        while archived.scalar("SELECT failed_count FROM pg_stat_archiver") == failures:
            assert time.monotonic() < deadline, "the archiver never failed"
            time.sleep(0.2)

        refused = release("release", "--to", "r1")

        assert refused.code == 3, refused.stderr
        assert refused.report["error"]["check"] == "archive"
        assert "archiver's last attempt failed" in refused.stderr
        assert db.tables() == []
    archived.execute("SELECT pg_switch_wal()")
    db.dispose()


def test_preflight_refuses_an_archive_further_behind_than_allowed(
    archived: Archived, project: Project, tmp_path: Path
) -> None:
    db = _database(archived, tmp_path, "app3")
    unrecoverable_history(project)
    config = _config(tmp_path, archived)
    config.write_text(config.read_text().replace("archive_max_lag_s: 30", "archive_max_lag_s: 1"))
    release = Release(db, project.ini, config)
    good = str(archived.scalar("SHOW archive_command")).replace("%", "%%")
    slow = f"sleep 15 && {good}"
    with archive_command(archived, slow):
        for _ in range(3):  # segments completed while the archiver sleeps on the first
            archived.execute("CREATE TABLE IF NOT EXISTS wal_filler (id int)")
            archived.execute("SELECT pg_switch_wal()")
        time.sleep(1.5)

        refused = release("release", "--to", "r1")

        assert refused.code == 3, refused.stderr
        assert refused.report["error"]["check"] == "archive"
        assert "over archive_max_lag_s 1" in refused.stderr
        assert "segment(s) waiting" in refused.stderr
        assert db.tables() == []
    db.dispose()


def test_a_deploy_user_that_is_not_a_superuser_needs_only_the_two_grants(
    archived: Archived, project: Project, tmp_path: Path
) -> None:
    archived.execute(
        "DROP DATABASE IF EXISTS app4",
        "DROP ROLE IF EXISTS deployer",
        "CREATE ROLE deployer LOGIN",
        "CREATE DATABASE app4 OWNER deployer",
    )
    db = ThrowawayDB("postgresql", archived.url("app4").set(username="deployer"), tmp_path)
    unrecoverable_history(project)
    release = Release(db, project.ini, _config(tmp_path, archived))
    try:
        refused = release("release", "--to", "r1")

        assert refused.code == 3, refused.stderr
        assert refused.report["error"]["check"] == "archive"
        assert "pg_create_restore_point" in refused.stderr  # the hint: what to grant
        assert db.revision() is None

        archived.execute(
            "GRANT EXECUTE ON FUNCTION pg_create_restore_point(text) TO deployer",
            "GRANT EXECUTE ON FUNCTION pg_switch_wal() TO deployer",
            database="app4",  # functions are granted per database
        )
        done = release("release", "--to", "r1")

        assert done.code == 0, done.stderr
        assert done.report["data"]["restore_point"]["name"].startswith("slipway-")
        assert db.revision() == "r1"
    finally:
        db.dispose()


def test_restore_point_on_sqlite_is_bad_input(
    lite: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    unrecoverable_history(project)
    config = write_config(tmp_path, {"backup": "restore_point", "pgbackrest_stanza": STANZA})

    result = Release(lite, project.ini, config)("release", "--to", "r1")

    assert result.code == 2, result.stderr
    assert "restore_point needs PostgreSQL" in result.stderr
    assert "Traceback" not in result.stderr
    assert lite.tables() == []
