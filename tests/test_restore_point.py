"""backup: restore_point, on a private PostgreSQL whose WAL pgBackRest archives.

A release whose rollback fails ends needs_attention with pgBackRest's point-in-time
recovery as the next command; the test runs that command as printed (as the server's OS
user) and finds the database as it was at the point. Preflight refuses a release while
the archiver fails. Elsewhere than PostgreSQL the method is bad input."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import Project, Release, ThrowawayDB, write_config

STANZA = "slipway"


def _bindir() -> Path:
    out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def as_postgres(*cmd: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["runuser", "-u", "postgres", "--", *map(str, cmd)],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if check and done.returncode:
        raise AssertionError(f"{cmd}: {done.stdout}{done.stderr}")
    return done


@dataclass
class Archived:
    """A private PostgreSQL server, archiving its WAL to a pgBackRest repository."""

    base: Path
    port: int
    config: Path
    data: Path

    def url(self, database: str) -> sa.URL:
        return sa.URL.create(
            "postgresql+psycopg",
            username="postgres",
            host="127.0.0.1",
            port=self.port,
            database=database,
        )

    def execute(self, *statements: str, database: str = "postgres") -> None:
        engine = sa.create_engine(self.url(database), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                for stmt in statements:
                    conn.exec_driver_sql(stmt)
        finally:
            engine.dispose()

    def scalar(self, sql: str, database: str = "postgres") -> object:
        engine = sa.create_engine(self.url(database), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                return conn.exec_driver_sql(sql).scalar()
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def archived() -> Iterator[Archived]:
    if shutil.which("pgbackrest") is None:
        pytest.fail("pgbackrest is not installed: run make services")
    user = pwd.getpwnam("postgres")
    base = Path(tempfile.mkdtemp(prefix="slipway-pitr-"))
    os.chown(base, user.pw_uid, user.pw_gid)
    data, repo, sock = base / "data", base / "repo", base / "sock"
    for folder in (repo, sock, base / "log", base / "lock"):
        folder.mkdir()
        os.chown(folder, user.pw_uid, user.pw_gid)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = base / "pgbackrest.conf"
    config.write_text(
        f"[global]\nrepo1-path={repo}\nlog-path={base / 'log'}\nlock-path={base / 'lock'}\n"
        "start-fast=y\narchive-timeout=30\n\n"
        f"[{STANZA}]\npg1-path={data}\npg1-port={port}\npg1-socket-path={sock}\n"
    )
    os.chown(config, user.pw_uid, user.pw_gid)
    bindir = _bindir()
    as_postgres(bindir / "initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync")
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(
            f"\nport = {port}\nlisten_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{sock}'\nwal_level = replica\narchive_mode = on\n"
            f"archive_command = 'pgbackrest --config={config} --stanza={STANZA} "
            "archive-push %p'\nfsync = off\n"
        )
    as_postgres(bindir / "pg_ctl", "start", "-D", data, "-l", base / "server.log", "-w")
    try:
        as_postgres("pgbackrest", f"--config={config}", f"--stanza={STANZA}", "stanza-create")
        as_postgres("pgbackrest", f"--config={config}", f"--stanza={STANZA}", "backup")
        yield Archived(base, port, config, data)
    finally:
        as_postgres(bindir / "pg_ctl", "stop", "-D", data, "-m", "immediate", check=False)
        shutil.rmtree(base, ignore_errors=True)


def _config(tmp_path: Path, archived: Archived) -> Path:
    bindir = _bindir()
    return write_config(
        tmp_path,
        {
            "backup": "restore_point",
            "pgbackrest_stanza": STANZA,
            "pgbackrest_config": str(archived.config),
            "pitr_stop_command": f"{bindir}/pg_ctl stop -D {{data_directory}} -m fast",
            "pitr_start_command": (
                f"{bindir}/pg_ctl start -w -D {{data_directory}} "
                f"-l {archived.base}/server-after.log"
            ),
            "archive_max_lag_s": 30,
        },
    )


def _database(archived: Archived, tmp_path: Path, name: str) -> ThrowawayDB:
    archived.execute(f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}")
    return ThrowawayDB("postgresql", archived.url(name), tmp_path)


def _history(project: Project) -> None:
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
        op.execute("UPDATE things SET label = name, name = 'renamed'")
        """,
        'raise RuntimeError("this downgrade cannot run")',
    )
    project.add("r3", 'raise RuntimeError("this upgrade fails")', "pass")


def test_a_failed_rollback_names_the_recovery_and_it_recovers_the_point(
    archived: Archived, project: Project, tmp_path: Path
) -> None:
    db = _database(archived, tmp_path, "app")
    _history(project)
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
    _history(project)
    release = Release(db, project.ini, _config(tmp_path, archived))
    archived.execute("ALTER SYSTEM SET archive_command = '/bin/false'", "SELECT pg_reload_conf()")
    try:
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
    finally:
        archived.execute(
            "ALTER SYSTEM RESET archive_command",
            "SELECT pg_reload_conf()",
            "DROP TABLE IF EXISTS wal_filler",
            "SELECT pg_switch_wal()",
        )
        db.dispose()


def test_restore_point_on_sqlite_is_bad_input(
    lite: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    _history(project)
    config = write_config(tmp_path, {"backup": "restore_point", "pgbackrest_stanza": STANZA})

    result = Release(lite, project.ini, config)("release", "--to", "r1")

    assert result.code == 2, result.stderr
    assert "restore_point needs PostgreSQL" in result.stderr
    assert "Traceback" not in result.stderr
    assert lite.tables() == []
