"""SIGINT and SIGTERM end a run in a contract outcome. Ctrl-C typed in a real terminal
during apply, mid-revision, rolls the run back (exit 4) to where it began, with the
report written; a second Ctrl-C during the rollback is told to wait, not obeyed. A
signal during the backup refuses the run (exit 3) and leaves no partial dump."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from conftest import (
    ROOT,
    Project,
    Release,
    ThrowawayDB,
    alembic_upgrade,
    things_table,
    wait_for_log,
)

SLEEP = {
    "postgresql": 'op.execute("SELECT pg_sleep(30)")',
    "mariadb": 'op.execute("SELECT SLEEP(30)")',
    # Online only: offline rendering runs the revision's Python too.
    "sqlite": "import time\nif not op.get_context().as_sql:\n    time.sleep(30)",
}


def slow_history(project: Project, kind: str, *, slow_downgrade: bool = False) -> None:
    """r1 (already applied), r2 adds a column, r3 waits 30 s mid-revision."""
    things_table(project, 3)
    project.add(
        "r2",
        'op.add_column("things", sa.Column("extra", sa.Integer))',
        (
            "import time\nif not op.get_context().as_sql:\n    time.sleep(3)\n"
            if slow_downgrade
            else ""
        )
        + 'op.drop_column("things", "extra")',
    )
    project.add("r3", SLEEP[kind])


def in_terminal(argv: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    """Run ``argv`` with a new pseudo-terminal as its controlling terminal; return the
    process and the terminal's master side (what a person types into)."""
    master, slave = pty.openpty()

    def take_terminal() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        argv,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=ROOT,
        preexec_fn=take_terminal,
    )
    os.close(slave)
    return proc, master


def read_all(master: int, proc: subprocess.Popen[bytes], timeout: float = 120) -> str:
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the terminal closed: the process ended
            break
        if not chunk:
            break
        out += chunk
    proc.wait(timeout=max(1, deadline - time.monotonic()))
    return out.decode("utf-8", "replace")


def test_ctrl_c_in_a_terminal_during_apply_rolls_back(
    db: ThrowawayDB, project: Project, release: Release, tmp_path: Path
) -> None:
    slow_history(project, db.kind, slow_downgrade=True)
    alembic_upgrade(db, project.ini, "r1")
    rows, schema = db.contents(), db.schema()
    argv = [sys.executable, "-m", "slipway", "db", "release", "--env", "test"]
    argv += ["--config", str(release.config), "--alembic-ini", str(project.ini), "--json"]
    proc, master = in_terminal(argv, {**os.environ, "TEST_DB_URL": db.url_str})
    try:
        run_log = wait_for_log(tmp_path / "artifacts", "applying r3")
        time.sleep(1.0)  # inside r3's 30 s wait
        os.write(master, b"\x03")  # Ctrl-C, as typed: the terminal sends SIGINT
        wait_for_log(tmp_path / "artifacts", "rolling back to r1")
        os.write(master, b"\x03")  # a second one, during the rollback
        output = read_all(master, proc)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()

    assert proc.returncode == 4, output
    assert db.revision() == "r1"
    assert db.contents() == rows
    assert db.schema() == schema
    report = json.loads((run_log.parent / "report.json").read_text())
    assert report["outcome"] == "rolled_back"
    assert "SIGINT" in report["error"]["message"] and "r3" in report["error"]["message"]
    assert '"outcome": "rolled_back"' in output  # --json printed the whole report
    assert "finishes that first" in output  # the second Ctrl-C was told, not obeyed
    assert "Traceback" not in output


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_sigterm_during_apply_rolls_back(
    db: ThrowawayDB, project: Project, release: Release, tmp_path: Path
) -> None:
    slow_history(project, db.kind)
    alembic_upgrade(db, project.ini, "r1")
    rows, schema = db.contents(), db.schema()
    proc = release.start()
    wait_for_log(tmp_path / "artifacts", "applying r3")
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)

    assert proc.returncode == 4, err
    assert json.loads(out)["outcome"] == "rolled_back"
    assert db.revision() == "r1"
    assert db.contents() == rows and db.schema() == schema


FAKE_PG_DUMP = """#!/bin/sh
# pg_dump that writes part of a dump, then hangs (a slow server, a huge table).
for arg in "$@"; do case "$arg" in
  --version) echo "VERSION"; exit 0;;
  --file=*) target="${arg#--file=}";;
esac; done
printf 'PGDMP partial' > "$target"
exec sleep 60
"""


def hanging_pg_dump(tmp_path: Path) -> str:
    """A PATH whose pg_dump writes part of a dump and hangs."""
    tools = tmp_path / "bin"
    tools.mkdir()
    version = subprocess.run(["pg_dump", "--version"], capture_output=True, text=True).stdout
    (tools / "pg_dump").write_text(FAKE_PG_DUMP.replace("VERSION", version.strip()))
    (tools / "pg_dump").chmod(0o755)
    return f"{tools}:{os.environ['PATH']}"


def wait_for_partial_dump(backups: Path) -> None:
    """Until pg_dump has begun writing (the file itself is created, empty, just before)."""
    deadline = time.monotonic() + 60
    while not (backups.is_dir() and any(p.stat().st_size for p in backups.iterdir())):
        assert time.monotonic() < deadline, "no partial dump appeared"
        time.sleep(0.05)


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_signal_during_backup_refuses_and_leaves_no_partial_dump(
    db: ThrowawayDB, project: Project, release: Release, tmp_path: Path
) -> None:
    slow_history(project, db.kind)
    alembic_upgrade(db, project.ini, "r1")
    rows, schema = db.contents(), db.schema()
    backups = tmp_path / "backups" / "test"
    proc = release.start(PATH=hanging_pg_dump(tmp_path))
    wait_for_partial_dump(backups)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)

    assert proc.returncode == 3, err
    report = json.loads(out)
    assert report["outcome"] == "refused"
    assert report["error"]["check"] == "interrupted"
    assert list(backups.iterdir()) == []
    assert db.revision() == "r1"
    assert db.contents() == rows and db.schema() == schema
    assert "Traceback" not in err


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_a_dump_cut_short_by_sigkill_never_counts_as_a_backup(
    db: ThrowawayDB, project: Project, release: Release, tmp_path: Path
) -> None:
    slow_history(project, db.kind)
    (project.root / "versions" / "r3.py").unlink()  # r2 pending only: no slow revision
    alembic_upgrade(db, project.ini, "r1")
    backups = tmp_path / "backups" / "test"
    proc = release.start(PATH=hanging_pg_dump(tmp_path))
    wait_for_partial_dump(backups)
    run_id = next((tmp_path / "artifacts").iterdir()).name
    proc.kill()
    proc.wait(30)
    assert [p.name.startswith(".") for p in backups.iterdir()] == [True]  # hidden, partial

    assert release("unlock", run_id).code == 0  # nothing had changed: the named command
    again = release()

    assert again.code == 0, again.stderr
    assert db.revision() == "r2"
    assert [p.name for p in backups.iterdir()] == [Path(again.report["backup"]["path"]).name]
