"""SIGTERM at each step of a release ends it in the documented outcome, the database as
the report says. The test's own revisions mark the moment (a file) and then wait, at
the step named by SLEEP_AT: preflight (env.py), render (offline), rehearse (on the
scratch copy), apply (mid-revision), rollback (a slow downgrade, where the signal is
told to wait). For lock and verify, the test's env.py has a connection of its own lock
the version table (after preflight's first read; once the head is committed), so the
release's next read of it waits there."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import (
    DIALECTS,
    Project,
    Release,
    ThrowawayDB,
    alembic_upgrade,
    things_table,
    write_config,
)

PAUSE = """
def pause_if(step):
    if os.environ.get("SLEEP_AT") == step:
        Path(os.environ["MARKER"]).write_text(step)
        time.sleep(float(os.environ.get("SLEEP_S", "30")))
"""

# step -> (exit code, outcome, revision afterwards)
EXPECTED = {
    "preflight": (3, "refused", "r1"),
    "lock": (3, "refused", "r1"),
    "verify": (4, "rolled_back", "r1"),
    "render": (3, "refused", "r1"),
    "rehearse": (3, "refused", "r1"),
    "apply": (4, "rolled_back", "r1"),
    "rollback": (4, "rolled_back", "r1"),
}


def signal_history(project: Project) -> None:
    things_table(project, 3)
    ctx = "op.get_context()"
    project.add(
        "r2",
        f"""
        from pathlib import Path
        {PAUSE.strip().replace(chr(10), chr(10) + "        ")}
        if {ctx}.as_sql:
            pause_if("render")
        elif "rehearsal" in str(op.get_bind().engine.url):
            pause_if("rehearse")
        else:
            pause_if("apply")
        op.add_column("things", sa.Column("label", sa.String(80)))
        op.execute("UPDATE things SET label = name")
        """,
        f"""
        from pathlib import Path
        {PAUSE.strip().replace(chr(10), chr(10) + "        ")}
        if not {ctx}.as_sql and "rehearsal" not in str(op.get_bind().engine.url):
            pause_if("rollback")
        op.drop_column("things", "label")
        """,
    )
    project.add(
        "r3",
        """
        online = not op.get_context().as_sql
        if os.environ.get("SLEEP_AT") == "rollback" and online:
            if "rehearsal" not in str(op.get_bind().engine.url):  # fails on the target only
                op.execute("UPDATE no_such_table SET x = 1")
        """,
    )


HOLD_VERSION_TABLE = """
import os, threading, time
from pathlib import Path
import sqlalchemy as sa


def hold_version_table(url, only_at):
    # From a connection of this env.py's own: lock alembic_version for HOLD_S seconds
    # (under the release's lock timeout), if the database is at only_at (any: None).
    ready = threading.Event()

    def hold():
        try:
            engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
            conn = engine.connect()
            at = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
            conn.rollback()
            if only_at is not None and at != only_at:
                return
            if only_at is None:
                # Inside the preflight probe, whose read of the table lasts until env.py
                # returns: the lock is taken right after it, long before the lock step.
                ready.set()
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")
            else:
                conn.exec_driver_sql("LOCK TABLES alembic_version WRITE")
        finally:
            ready.set()
        time.sleep(1.0)
        Path(os.environ["MARKER"]).write_text(os.environ["SLEEP_AT"])
        time.sleep(float(os.environ.get("HOLD_S", "3")))
        if engine.dialect.name != "postgresql":
            conn.exec_driver_sql("UNLOCK TABLES")
        conn.rollback()
        conn.close()

    threading.Thread(target=hold, daemon=True).start()
    ready.wait(10)


def after_run(url):
    at = os.environ.get("SLEEP_AT")
    if "rehearsal" in url or Path(os.environ.get("MARKER", "/nonexistent")).exists():
        return
    if at == "lock":
        hold_version_table(url, None)
    elif at == "verify":
        hold_version_table(url, os.environ["HEAD"])
"""


def reached(proc: subprocess.Popen[str], marker: Path, step: str) -> None:
    """Until the release has written ``marker``: it is inside ``step``."""
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"the release never reached {step}"
        time.sleep(0.02)


def slow_env_py(project: Project) -> None:
    """env.py that pauses online, before it connects: inside preflight's first read; and
    after each online run, for lock and verify, lets the version table be held."""
    env = project.root / "env.py"
    body = env.read_text().replace(
        "else:\n    run_online()",
        "else:\n    run_online()\n    after_run(config.get_main_option('sqlalchemy.url'))",
    )
    assert "after_run(" in body
    env.write_text(
        "import os, time\nfrom pathlib import Path\n"
        "if os.environ.get('SLEEP_AT') == 'preflight' and not __import__('alembic')"
        ".context.is_offline_mode():\n"
        "    Path(os.environ['MARKER']).write_text('preflight')\n"
        "    time.sleep(30)\n" + HOLD_VERSION_TABLE + body
    )


# A SQLite read cannot be held waiting (lock, verify) without holding the writer too.
CASES = [
    (step, "SIGTERM", kind)
    for step in EXPECTED
    for kind in DIALECTS
    if kind != "sqlite" or step not in ("lock", "verify")
    # Offline, or before any connection: what the dialect is does not matter there.
    if kind == "sqlite" or step not in ("preflight", "render")
] + [
    # SIGINT takes the same path as SIGTERM (signals.handled): once before any change and
    # once after (Ctrl-C in a terminal during apply is tests/faults/test_signals.py).
    (step, "SIGINT", "postgresql")
    for step in ("preflight", "verify")
]


@pytest.mark.parametrize(("step", "sig", "db"), CASES, indirect=["db"])
def test_a_signal_at_each_step_ends_in_the_documented_outcome(
    step: str, sig: str, db: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    signal_history(project)
    slow_env_py(project)
    alembic_upgrade(db, project.ini, "r1")
    rows, schema = db.contents(), db.schema()
    release = Release(db, project.ini, write_config(tmp_path, {"rehearse": "always"}))
    marker = tmp_path / "marker"
    sleep_s = "3" if step == "rollback" else "30"
    proc = release.start(SLEEP_AT=step, MARKER=str(marker), SLEEP_S=sleep_s, HEAD="r3")
    reached(proc, marker, step)
    time.sleep(0.3)
    proc.send_signal(getattr(signal, sig))
    out, err = proc.communicate(timeout=60)

    code, outcome, revision = EXPECTED[step]
    assert proc.returncode == code, err
    report = json.loads(out)
    assert report["outcome"] == outcome
    failed = [s["name"] for s in report["steps"] if s["status"] == "failed"]
    assert failed[:1] == [step if step != "rollback" else "apply"], report["steps"]
    assert "Traceback" not in err
    assert db.revision() == revision
    assert db.contents() == rows and db.schema() == schema
    if step == "rollback":
        assert "finishes that first" in err
    written = Path(report["artifacts_dir"]) / "report.json"
    assert json.loads(written.read_text())["outcome"] == outcome


def leftover_copies(db: ThrowawayDB) -> list[str]:
    """Rehearsal copies of this database that outlived their run."""
    if db.kind == "sqlite":
        import hashlib
        import tempfile

        key = hashlib.sha256(str(Path(str(db.url.database)).resolve()).encode()).hexdigest()
        folder = Path(tempfile.gettempdir())
        return [p.name for p in folder.glob(f"slipway-{key[:12]}-rehearsal_*")]
    stem = f"{db.url.database[:30]}_rehearsal_"
    admin = db.engine()
    with admin.connect() as conn:
        sql = "SELECT datname FROM pg_database" if db.kind == "postgresql" else "SHOW DATABASES"
        return [n for (n,) in conn.exec_driver_sql(sql).all() if str(n).startswith(stem)]


# step -> what the next release names: nothing (it goes through), unlock, or restore
AFTER_SIGKILL = {
    "lock": None,  # the claim was not written yet; the lock died with the process
    "render": "unlock",
    "rehearse": "unlock",
    "verify": "restore",  # at head, unverified: back to where the run began
    "rollback": "restore",
}
# Lean: where the dialect makes a difference (a rehearsal copy, DDL that commits, the
# lock), every dialect it applies to; elsewhere one.
SIGKILL_CASES = [
    ("lock", "postgresql"),
    ("render", "sqlite"),
    *(("rehearse", kind) for kind in ("postgresql", "mariadb", "sqlite")),
    *(("verify", kind) for kind in ("postgresql", "mariadb")),
    *(("rollback", kind) for kind in ("postgresql", "mariadb", "sqlite")),
]


@pytest.mark.parametrize(("step", "db"), SIGKILL_CASES, indirect=["db"])
def test_sigkill_at_a_step_is_put_right_by_the_one_command_named(
    step: str, db: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    """SIGKILL at a step: the next release either goes through or names the one command
    that puts the database back (unlock when untouched, the restore of the run's backup
    when not), which runs verbatim; the release after it drops the killed run's
    rehearsal copy (a copy of the data) and goes through."""
    import shlex

    from conftest import slipway

    signal_history(project)
    slow_env_py(project)
    alembic_upgrade(db, project.ini, "r1")
    rows, schema = db.contents(), db.schema()
    release = Release(db, project.ini, write_config(tmp_path, {"rehearse": "always"}))
    marker = tmp_path / "marker"
    proc = release.start(SLEEP_AT=step, MARKER=str(marker), HEAD="r3")
    reached(proc, marker, step)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    if step == "rehearse":
        assert leftover_copies(db), "the killed rehearsal left its copy"

    fix = AFTER_SIGKILL[step]
    if fix is not None:
        if fix == "unlock":
            assert db.revision() == "r1" and db.contents() == rows and db.schema() == schema
        refused = release()
        assert refused.code == 3, refused.stderr
        command = refused.stderr.strip().rsplit("run: ", 1)[1].rstrip(")")
        assert command.startswith(f"slipway db {fix} "), command
        repaired = slipway(*shlex.split(command)[1:], env={"TEST_DB_URL": db.url_str})
        assert repaired.code == 0, repaired.stderr
        assert db.revision() == "r1" and db.contents() == rows and db.schema() == schema

    if step in ("lock", "rehearse"):  # the next release goes through, copies dropped
        after = release()
        assert after.code == 0, after.stderr
        assert db.revision() == "r3"
        assert leftover_copies(db) == []
