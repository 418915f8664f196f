"""The server crashes in the middle of apply: a private PostgreSQL cluster stopped with
``pg_ctl stop -m immediate`` (no shutdown checkpoint, clients cut off), a private
MariaDB instance killed with SIGKILL (after the revision's ALTER was committed). The run ends in
a documented outcome and names one command; once the server is back, that command runs
verbatim, handles the dead run's claim itself, and the database is where the run began,
rows included."""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import (
    Project,
    Release,
    ThrowawayDB,
    alembic_upgrade,
    slipway,
    things_table,
    wait_for_log,
)
from sqlalchemy.engine import make_url

BIN = Path("/usr/lib/postgresql/15/bin")
pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not (BIN / "initdb").exists(),
    reason="a private cluster is run as the postgres user, from PostgreSQL 15's binaries",
)


def as_postgres(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", "postgres", "--", *argv], capture_output=True, text=True, check=True
    )


@dataclass
class Cluster:
    folder: Path
    port: int

    def start(self) -> None:
        as_postgres(
            str(BIN / "pg_ctl"),
            "-D", str(self.folder / "data"),
            "-l", str(self.folder / "server.log"),
            "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1",
            "-w", "start",
        )  # fmt: skip

    def crash(self) -> None:
        as_postgres(str(BIN / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "stop")


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    folder = Path(tempfile.mkdtemp(prefix="sw-pg-"))
    shutil.chown(folder, "postgres", "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    as_postgres(str(BIN / "initdb"), "-D", str(folder / "data"), "-A", "trust", "-U", "postgres")
    found = Cluster(folder, port)
    found.start()
    try:
        yield found
    finally:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(BIN / "pg_ctl"), "-D", str(folder / "data"),
             "-m", "immediate", "stop"],
            capture_output=True, check=False,
        )  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)


def test_server_crash_mid_apply_then_the_named_command_recovers(
    cluster: Cluster, project: Project, tmp_path: Path
) -> None:
    from conftest import write_config

    url = make_url(f"postgresql+psycopg://postgres@127.0.0.1:{cluster.port}/postgres")
    db = ThrowawayDB("postgresql", url, tmp_path)
    things_table(project, 5)
    project.add(
        "r2",
        'op.add_column("things", sa.Column("label", sa.String(80)))',
        'op.drop_column("things", "label")',
    )
    project.add("r3", 'if os.environ.get("SLOW"):\n    op.execute("SELECT pg_sleep(60)")')
    alembic_upgrade(db, project.ini, "r1")
    rows, schema = db.contents(), db.schema()
    db.dispose()
    release = Release(db, project.ini, write_config(tmp_path))

    victim = release.start(SLOW="1")
    wait_for_log(tmp_path / "artifacts", "applying r3")
    time.sleep(1.0)
    cluster.crash()
    _, err = victim.communicate(timeout=120)

    assert victim.returncode == 6, err  # the rollback could not reach the server either
    assert "Traceback" not in err
    fix = err.strip().rsplit("; next: ", 1)[1]
    assert fix.startswith("slipway db restore --backup ")

    cluster.start()
    repaired = slipway(*shlex.split(fix)[1:], "--json", env={"TEST_DB_URL": db.url_str})

    assert repaired.code == 0, repaired.stderr
    assert db.revision() == "r1"
    assert db.contents() == rows and db.schema() == schema
    runs = {r["run_id"]: r["outcome"] for r in release("history").report["data"]["runs"]}
    # The crashed run's claim could not be closed (no server): the restore closed it.
    assert sorted(runs.values()) == ["abandoned", "applied"]
    again = release()
    assert again.code == 0, again.stderr
    assert db.revision() == "r3"


@dataclass
class MariaDB:
    folder: Path
    port: int

    def start(self) -> None:
        subprocess.Popen(
            ["runuser", "-u", "mysql", "--", "mariadbd", "--no-defaults",
             f"--datadir={self.folder / 'data'}", f"--socket={self.folder / 'sock'}",
             f"--port={self.port}", "--bind-address=127.0.0.1",
             f"--pid-file={self.folder / 'pid'}", f"--log-error={self.folder / 'err.log'}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while subprocess.run(
            ["mariadb", "-h127.0.0.1", f"-P{self.port}", "-uroot", "-e", "SELECT 1"],
            capture_output=True, check=False,
        ).returncode:  # fmt: skip
            assert time.monotonic() < deadline, (self.folder / "err.log").read_text()
            time.sleep(0.2)

    def crash(self) -> None:
        pid = int((self.folder / "pid").read_text())
        os.kill(pid, 9)
        while Path(f"/proc/{pid}").exists():
            time.sleep(0.05)


@pytest.fixture
def mariadb_server() -> Iterator[MariaDB]:
    if not shutil.which("mariadb-install-db"):
        pytest.skip("no mariadb-install-db")
    folder = Path(tempfile.mkdtemp(prefix="sw-my-"))
    shutil.chown(folder, "mysql", "mysql")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subprocess.run(
        ["mariadb-install-db", "--no-defaults", f"--datadir={folder / 'data'}", "--user=mysql",
         "--auth-root-authentication-method=normal", "--skip-test-db"],
        capture_output=True, check=True,
    )  # fmt: skip
    server = MariaDB(folder, port)
    server.start()
    try:
        yield server
    finally:
        if (folder / "pid").exists():
            subprocess.run(["kill", "-9", (folder / "pid").read_text().strip()], check=False)
        shutil.rmtree(folder, ignore_errors=True)


def test_mariadb_crash_after_a_committed_alter_then_the_named_command_recovers(
    mariadb_server: MariaDB, project: Project, tmp_path: Path
) -> None:
    from conftest import write_config

    subprocess.run(
        ["mariadb", "-h127.0.0.1", f"-P{mariadb_server.port}", "-uroot", "-e",
         "CREATE DATABASE shop"],
        check=True,
    )  # fmt: skip
    url = make_url(f"mysql+pymysql://root@127.0.0.1:{mariadb_server.port}/shop")
    db = ThrowawayDB("mariadb", url, tmp_path)
    things_table(project, 5)
    project.add(
        "r2",
        """
        op.add_column("things", sa.Column("label", sa.String(80)))
        if os.environ.get("SLOW"):
            op.execute("SELECT SLEEP(60)")
        op.execute("UPDATE things SET label = name")
        """,
        'op.drop_column("things", "label")',
    )
    alembic_upgrade(db, project.ini, "r1")
    rows, schema = db.contents(), db.schema()
    db.dispose()
    release = Release(db, project.ini, write_config(tmp_path))

    victim = release.start(SLOW="1")
    wait_for_log(tmp_path / "artifacts", "applying r2")
    time.sleep(1.5)  # the ALTER is committed; SLEEP runs
    mariadb_server.crash()
    _, err = victim.communicate(timeout=120)

    assert victim.returncode == 6, err
    assert "Traceback" not in err
    fix = err.strip().rsplit("; next: ", 1)[1]
    assert fix.startswith("slipway db restore --backup ")

    mariadb_server.start()
    assert "label" in str(db.schema()), "the committed ALTER survived the crash"
    repaired = slipway(*shlex.split(fix)[1:], "--json", env={"TEST_DB_URL": db.url_str})

    assert repaired.code == 0, repaired.stderr
    assert db.revision() == "r1"
    assert db.contents() == rows and db.schema() == schema
    again = release()
    assert again.code == 0, again.stderr
    assert db.revision() == "r2"
