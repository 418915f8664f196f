"""SIGKILL of `db restore` while it loads the dump leaves the old database, whole, with
its history; the client tool dies with slipway; no file with a password is left; the
same command run again restores, and clears what the killed one left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, Project, Release, ThrowawayDB, protected_database, standard_history

ROWS = 300_000
FILL = {
    "postgresql": "INSERT INTO things (id, name) SELECT g, 'row ' || g "
    f"FROM generate_series(10, {ROWS}) g",
    "mariadb": "INSERT INTO things (id, name) SELECT seq, CONCAT('row ', seq) "
    f"FROM seq_10_to_{ROWS}",
}
LOADING = {
    # psql (named like slipway's own sessions) is loading the dump's rows into the
    # target, inside its one transaction
    "postgresql": "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'slipway' "
    "AND state = 'active' AND starts_with(query, 'COPY ') AND strpos(query, 'FROM stdin') > 0 "
    "AND pid <> pg_backend_pid() AND datname = current_database()",
    # the mariadb client has created tables in the scratch database beside the target
    "mariadb": "SELECT count(*) FROM information_schema.tables "
    "WHERE LOCATE(CONCAT(LEFT(DATABASE(), 40), '_swr_'), table_schema) = 1",
}


def start(release: Release, *args: str) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "slipway", "db", *args, "--env", "test"]
    argv += ["--config", str(release.config), "--alembic-ini", str(release.project_ini)]
    env = {**os.environ, "TEST_DB_URL": release.db.url_str}
    return subprocess.Popen(
        argv, cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def children_of(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def password_files() -> set[str]:
    """Files in the temp folder that hold the test user's options (a MySQL option file)."""
    tmp = Path(os.environ.get("TMPDIR", "/tmp"))
    return {str(p) for p in tmp.glob("*.cnf")} | {str(p) for p in tmp.glob("slipway-my-*")}


@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
def test_kill_while_restore_loads_leaves_the_old_database(
    kind: str, project: Project, tmp_path: Path
) -> None:
    from conftest import write_config

    standard_history(project)
    with protected_database(kind, tmp_path) as db:
        release = Release(db, project.ini, write_config(tmp_path))
        assert release().code == 0
        db.execute(FILL[kind])
        taken = release("backup")
        assert taken.code == 0, taken.stderr
        backup = str(taken.report["backup"]["path"])
        db.execute("DELETE FROM things WHERE id > 100", "UPDATE things SET name = 'after'")
        rows, schema = db.contents(), db.schema()
        runs_before = len(release("history", "--limit", "100").report["data"]["runs"])
        files_before = password_files()

        proc = start(release, "restore", "--backup", backup, "--yes")
        deadline = time.monotonic() + 60
        while not db_says(db, LOADING[kind]):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the restore never began loading"
            time.sleep(0.02)
        tools = children_of(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

        assert tools, "the client tool was running"
        for pid in tools:  # the client tool ended with slipway
            assert _gone(pid), pid
        assert db.contents() == rows
        assert db.schema() == schema
        assert password_files() == files_before

        again = release("restore", "--backup", backup, "--yes")
        assert again.code == 0, again.stderr
        assert db.scalar("SELECT COUNT(*) FROM things") == ROWS - 9 + 5
        runs = release("history", "--limit", "100").report["data"]["runs"]
        assert len(runs) >= runs_before + 1
        if kind == "mariadb":
            assert not db_says(db, LOADING[kind]), "the killed restore's copy is gone"


def db_says(db: ThrowawayDB, sql: str) -> bool:
    return bool(db.scalar(sql))


def _gone(pid: int, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        state = (
            Path(f"/proc/{pid}/stat").read_text().split()[2]
            if Path(f"/proc/{pid}").exists()
            else "X"
        )
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
def test_kill_during_the_automatic_restore_names_the_restore_that_finishes_it(
    kind: str, project: Project, tmp_path: Path
) -> None:
    """A release whose rollback failed restores its backup; SIGKILL while that loads
    leaves the database as the failed rollback did, and the next release names the
    one command that finishes the job: the restore of that run's backup."""
    import shlex

    from conftest import slipway, write_config

    project.add(
        "r1",
        'op.create_table("things", sa.Column("id", sa.Integer, primary_key=True), '
        'sa.Column("name", sa.String(50), nullable=False))',
        'op.drop_table("things")',
    )
    with protected_database(kind, tmp_path) as db:
        config = write_config(tmp_path, {"rehearse": "never"})
        release = Release(db, project.ini, config)
        assert release().code == 0
        db.execute(FILL[kind])
        rows, schema = db.contents(), db.schema()
        project.add(
            "r2",
            'op.add_column("things", sa.Column("x", sa.Integer))',
            'op.execute("SELECT * FROM no_such_table")',
        )
        project.add("r3", 'op.execute("INSERT INTO no_such_table (id) VALUES (1)")')
        files_before = password_files()

        proc = start(release, "release")
        deadline = time.monotonic() + 120
        while not (proc.poll() is None and db_says(db, LOADING[kind])):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the automatic restore never began loading"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert password_files() == files_before

        refused = release()
        assert refused.code == 3, refused.stderr
        fix = refused.stderr.strip().rsplit("run: ", 1)[1].rstrip(")")
        assert fix.startswith("slipway db restore --backup "), fix

        repaired = slipway(*shlex.split(fix)[1:], "--json", env={"TEST_DB_URL": db.url_str})
        assert repaired.code == 0, repaired.stderr
        assert db.revision() == "r1"
        assert db.schema() == schema and db.contents() == rows
        if kind == "mariadb":
            assert not db_says(db, LOADING[kind]), "the killed restore's copy is gone"
