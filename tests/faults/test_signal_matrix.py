"""SIGTERM at each step of a release ends it in the documented outcome, the database as
the report says. The test's own revisions mark the moment (a file) and then wait, at
the step named by SLEEP_AT: preflight (env.py), render (offline), rehearse (on the
scratch copy), apply (mid-revision), rollback (a slow downgrade, where the signal is
told to wait)."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
from conftest import Project, Release, ThrowawayDB, alembic_upgrade, things_table, write_config

PAUSE = """
def pause_if(step):
    if os.environ.get("SLEEP_AT") == step:
        Path(os.environ["MARKER"]).write_text(step)
        time.sleep(float(os.environ.get("SLEEP_S", "30")))
"""

# step -> (exit code, outcome, revision afterwards)
EXPECTED = {
    "preflight": (3, "refused", "r1"),
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


def slow_env_py(project: Project) -> None:
    """env.py that pauses online, before it connects: inside preflight's first read."""
    env = project.root / "env.py"
    env.write_text(
        "import os, time\nfrom pathlib import Path\n"
        "if os.environ.get('SLEEP_AT') == 'preflight' and not __import__('alembic')"
        ".context.is_offline_mode():\n"
        "    Path(os.environ['MARKER']).write_text('preflight')\n"
        "    time.sleep(30)\n" + env.read_text()
    )


@pytest.mark.parametrize("step", sorted(EXPECTED))
def test_sigterm_at_each_step_ends_in_the_documented_outcome(
    step: str, db: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    signal_history(project)
    slow_env_py(project)
    alembic_upgrade(db, project.ini, "r1")
    rows, schema = db.contents(), db.schema()
    release = Release(db, project.ini, write_config(tmp_path, {"rehearse": "always"}))
    marker = tmp_path / "marker"
    sleep_s = "3" if step == "rollback" else "30"
    proc = release.start(SLEEP_AT=step, MARKER=str(marker), SLEEP_S=sleep_s)
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"the release never reached {step}"
        time.sleep(0.02)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)

    code, outcome, revision = EXPECTED[step]
    assert proc.returncode == code, err
    report = json.loads(out)
    assert report["outcome"] == outcome
    assert "Traceback" not in err
    assert db.revision() == revision
    assert db.contents() == rows and db.schema() == schema
    if step == "rollback":
        assert "finishes that first" in err
    written = Path(report["artifacts_dir"]) / "report.json"
    assert json.loads(written.read_text())["outcome"] == outcome
