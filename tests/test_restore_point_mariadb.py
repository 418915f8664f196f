"""backup: restore_point on MariaDB, on a private server writing binary logs, with a
mariadb-backup base backup.

A release whose rollback fails ends needs_attention with the point-in-time recovery as
the next command (restore the base backup, replay the binary logs up to the position
the release recorded); the test runs it as printed and finds the database as it was at
the point. Preflight refuses a server without binary logging, and a user who may not
read the position, naming what to grant."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from binlogged_maria import Binlogged, binlogged_server
from conftest import Project, Release, ThrowawayDB, unrecoverable_history, write_config


@pytest.fixture(scope="module")
def binlogged() -> Iterator[Binlogged]:
    with binlogged_server() as server:
        yield server


def _config(tmp_path: Path, server: Binlogged) -> Path:
    return write_config(
        tmp_path,
        {
            "backup": "restore_point",
            "pitr_base_backup": str(server.backup),
            "pitr_stop_command": "mariadb-admin --socket={socket} shutdown",
            "pitr_start_command": server.start_command,
        },
    )


def _database(server: Binlogged, tmp_path: Path, name: str) -> ThrowawayDB:
    server.admin(f"DROP DATABASE IF EXISTS {name}; CREATE DATABASE {name}")
    return ThrowawayDB("mariadb", server.url(name), tmp_path)


def test_a_failed_rollback_names_the_recovery_and_it_recovers_the_point(
    binlogged: Binlogged, project: Project, tmp_path: Path
) -> None:
    db = _database(binlogged, tmp_path, "app")
    unrecoverable_history(project)
    release = Release(db, project.ini, _config(tmp_path, binlogged))
    first = release("release", "--to", "r1")
    assert first.code == 0, first.stderr
    # The logs the recovery replays span files: the base backup's, and a later one.
    binlogged.admin("FLUSH BINARY LOGS")
    db.execute("INSERT INTO things (id, name) VALUES (6, 'written after the base backup')")
    before = (db.revision(), db.schema(), db.contents())

    failed = release()

    assert failed.code == 6, failed.stderr
    report = failed.report
    assert report["outcome"] == "needs_attention"
    assert report["error"]["revision"] == "r3"
    point = report["data"]["restore_point"]
    assert point["name"] == f"slipway-{report['run_id']}"
    assert point["at"] == f"{point['file']}:{point['position']}"
    assert db.revision() == "r2"  # r2 applied, its downgrade failed: not where it began
    recorded = db.scalar(
        f"SELECT restore_point FROM slipway_history WHERE run_id = '{report['run_id']}'"
    )
    assert recorded == f"{point['name']}@{point['at']}"
    command = report["next_command"]
    assert f"--stop-position={point['position']}" in command
    assert "restore" in [s["name"] for s in report["steps"] if s["status"] == "skipped"]
    db.dispose()

    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr

    assert (db.revision(), db.schema(), db.contents()) == before
    replaced = binlogged.base / f"data.{point['name']}.replaced"
    assert (replaced / "app").is_dir()  # the data directory it replaced is kept
    # The point was taken under the run's claim: the claim comes back with the server,
    # and unlock finds the database where the run began.
    unlocked = release("unlock", report["run_id"])
    assert unlocked.code == 0, unlocked.stderr
    assert db.revision() == "r1"
    db.dispose()


def test_a_user_who_may_not_read_the_binary_log_is_told_what_to_grant(
    binlogged: Binlogged, project: Project, tmp_path: Path
) -> None:
    binlogged.admin(
        "DROP DATABASE IF EXISTS app2; CREATE DATABASE app2; "
        "DROP USER IF EXISTS deployer@'127.0.0.1'; CREATE USER deployer@'127.0.0.1'; "
        "GRANT ALL PRIVILEGES ON app2.* TO deployer@'127.0.0.1'"
    )
    db = ThrowawayDB("mariadb", binlogged.url("app2").set(username="deployer"), tmp_path)
    unrecoverable_history(project)
    release = Release(db, project.ini, _config(tmp_path, binlogged))
    try:
        refused = release("release", "--to", "r1")

        assert refused.code == 3, refused.stderr
        assert refused.report["error"]["check"] == "archive"
        assert "BINLOG MONITOR" in refused.stderr
        assert db.tables() == []

        binlogged.admin("GRANT BINLOG MONITOR ON *.* TO deployer@'127.0.0.1'")
        done = release("release", "--to", "r1")

        assert done.code == 0, done.stderr
        assert done.report["data"]["restore_point"]["file"].startswith("binlog.")
        preflight = next(s for s in done.report["steps"] if s["name"] == "preflight")
        assert "base backup at binlog.000001:" in preflight["detail"], preflight
        assert db.revision() == "r1"
    finally:
        db.dispose()


def test_preflight_refuses_a_base_backup_whose_binary_logs_are_gone(
    binlogged: Binlogged, project: Project, tmp_path: Path
) -> None:
    db = _database(binlogged, tmp_path, "app3")
    unrecoverable_history(project)
    # A base backup taken before the oldest binary log the server still keeps.
    old = tmp_path / "old-base"
    old.mkdir()
    (old / "xtrabackup_binlog_info").write_text("binlog.000000\t4\t0-1-1\n")
    config = _config(tmp_path, binlogged)
    config.write_text(config.read_text().replace(str(binlogged.backup), str(old)))

    release = Release(db, project.ini, config)
    refused = release("release", "--to", "r1")

    assert refused.code == 3, refused.stderr
    assert refused.report["error"]["check"] == "archive"
    assert "binary log binlog.000000 is no longer on the server" in refused.stderr
    assert db.tables() == []

    # A folder that is no base backup at all.
    (old / "xtrabackup_binlog_info").unlink()
    refused = release("release", "--to", "r1")

    assert refused.code == 3, refused.stderr
    assert "it is not a base backup" in refused.stderr
    assert db.tables() == []
    db.dispose()


def test_preflight_refuses_a_server_without_binary_logging(
    maria: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    if maria.scalar("SELECT @@log_bin"):
        pytest.skip("the shared MariaDB writes binary logs")
    unrecoverable_history(project)
    config = write_config(tmp_path, {"backup": "restore_point", "pitr_base_backup": "/srv/base"})

    refused = Release(maria, project.ini, config)("release", "--to", "r1")

    assert refused.code == 3, refused.stderr
    assert refused.report["error"]["check"] == "archive"
    assert "log_bin is off" in refused.stderr
    assert maria.tables() == []


def test_restore_point_on_mariadb_without_a_base_backup_is_bad_input(
    maria: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    unrecoverable_history(project)
    config = write_config(tmp_path, {"backup": "restore_point", "pgbackrest_stanza": "main"})

    result = Release(maria, project.ini, config)("release", "--to", "r1")

    assert result.code == 2, result.stderr
    assert "needs pitr_base_backup" in result.stderr
    assert "Traceback" not in result.stderr
    assert maria.tables() == []


def test_with_a_targeted_backup_beside_the_point_slipway_undoes_the_release_itself(
    binlogged: Binlogged, project: Project, tmp_path: Path
) -> None:
    db = _database(binlogged, tmp_path, "app4")
    # r3's SQL can be read (it puts no table at risk), and fails on the server.
    unrecoverable_history(project, r3='op.add_column("no_such_table", sa.Column("x", sa.Integer))')
    config = _config(tmp_path, binlogged)
    config.write_text(
        config.read_text().replace("backup: restore_point", "backup: [restore_point, targeted]")
    )
    release = Release(db, project.ini, config)
    assert release("release", "--to", "r1").code == 0
    before = (db.revision(), db.schema(), db.contents())

    failed = release()

    report = failed.report
    assert failed.code == 5, failed.stderr
    assert report["outcome"] == "restored"
    assert report["data"]["restore_point"]["name"] == f"slipway-{report['run_id']}"
    assert report["data"]["targeted"]["tables"] == ["things"]
    assert (db.revision(), db.schema(), db.contents()) == before
    db.dispose()
