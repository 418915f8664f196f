"""No two releases interleave on one database, and a release killed mid-apply never
leaves a state that the next release passes over silently."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

from conftest import (
    Project,
    Release,
    ThrowawayDB,
    alembic_upgrade,
    kill_during,
    ledger_rows,
    outcomes,
    wait_for_log,
)


def slow_history(project: Project) -> None:
    project.add(
        "r1",
        """
        t = op.create_table("things", sa.Column("id", sa.Integer, primary_key=True),
                            sa.Column("name", sa.String(50), nullable=False))
        op.bulk_insert(t, [{"id": 1, "name": "one"}])
        """,
        'op.drop_table("things")',
    )
    # The pause comes first, so a kill during it leaves no committed DDL on MariaDB.
    project.add(
        "r2",
        """
        if not op.get_context().as_sql:
            time.sleep(float(os.environ.get("SLOW_S", "0")))
        op.add_column("things", sa.Column("label", sa.String(80)))
        """,
        'op.drop_column("things", "label")',
    )


def test_two_simultaneous_releases_one_applies_other_refused_or_noop(
    db: ThrowawayDB, project: Project, release: Release
) -> None:
    slow_history(project)
    alembic_upgrade(db, project.ini, "r1")

    procs = [release.start(SLOW_S="1.5"), release.start(SLOW_S="1.5")]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        results.append((p.returncode, json.loads(out), err))

    ended = sorted(r[1]["outcome"] for r in results)
    assert ended.count("applied") == 1, results
    assert ended in (["applied", "noop"], ["applied", "refused"]), results
    for code, report, _ in results:
        assert code == {"applied": 0, "noop": 0, "refused": 3}[report["outcome"]]
        if report["outcome"] == "refused":
            assert report["error"]["check"] in ("lock", "claim")
    assert db.revision() == "r2"
    rows = ledger_rows(db)
    assert [r["outcome"] for r in rows].count("applied") == 1
    for earlier, later in itertools.pairwise(rows):
        assert earlier["finished_at"] <= later["started_at"], "history interleaves"


def test_release_killed_mid_apply_makes_next_release_refuse_with_one_command(
    db: ThrowawayDB, project: Project, release: Release, tmp_path: Path
) -> None:
    slow_history(project)
    alembic_upgrade(db, project.ini, "r1")
    rows_before = db.contents()

    run_id = kill_during(release, tmp_path / "artifacts", "applying r2", settle=0.5)

    refused = release()
    assert refused.code == 3, refused.stderr
    unlock = f"slipway db unlock {run_id} --env test"
    assert unlock in refused.report["error"]["message"] + refused.stderr
    assert refused.stderr.strip().count("\n") == 0, "one line"
    assert db.revision() == "r1"
    assert db.contents() == rows_before

    unlocked = release("unlock", run_id)
    assert unlocked.code == 0, unlocked.stderr
    assert outcomes(db)[run_id] == "abandoned"

    after = release()
    assert after.code == 0, after.stderr
    assert after.report["outcome"] == "applied"
    assert db.revision() == "r2"


def test_unlock_refuses_a_run_that_is_still_alive(
    lite: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    from conftest import write_config

    slow_history(project)
    alembic_upgrade(lite, project.ini, "r1")
    release = Release(lite, project.ini, write_config(tmp_path))
    running = release.start(SLOW_S="120")
    try:
        log = wait_for_log(tmp_path / "artifacts", "applying r2")
        result = release("unlock", log.parent.name)
        assert result.code == 3
        assert result.report["outcome"] == "refused"
    finally:
        running.kill()
        running.wait()


def test_a_dead_run_whose_pid_another_process_took_is_known_dead(
    lite: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    from conftest import write_config

    slow_history(project)
    alembic_upgrade(lite, project.ini, "r1")
    release = Release(lite, project.ini, write_config(tmp_path))
    run_id = kill_during(release, tmp_path / "artifacts", "applying r2", settle=0)
    # The dead run's pid now belongs to a live process (here: this test's own).
    lite.execute(f"UPDATE slipway_history SET pid = {os.getpid()} WHERE run_id = '{run_id}'")

    refused = release()
    assert refused.code == 3
    assert "ended without finishing" in refused.stderr, refused.stderr
    unlocked = release("unlock", run_id)
    assert unlocked.code == 0, unlocked.stderr
    assert outcomes(lite)[run_id] == "abandoned"
