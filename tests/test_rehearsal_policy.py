"""The rehearsal judges the upgrade: a revision is live-only only when its upgrade cannot
render; a downgrade that cannot render, or fails in the rehearsal, does not refuse a
release that may restore its backup (it rolls back by restore, and says so), and refuses
one that may not, naming the revision and the setting."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Project, Release, ThrowawayDB, write_config

READS_ROWS = 'n = op.get_bind().execute(sa.text("SELECT count(*) FROM things")).scalar()'


def history(project: Project, broken_down: str) -> None:
    project.add(
        "r1",
        'op.create_table("things", sa.Column("id", sa.Integer, primary_key=True))\n'
        'op.execute("INSERT INTO things (id) VALUES (1)")',
        'op.drop_table("things")',
    )
    project.add(
        "r2",
        'op.add_column("things", sa.Column("note", sa.String(20), nullable=True))',
        broken_down,
    )
    # An upgrade that reads rows: live-only, so the default policy rehearses
    project.add("r3", READS_ROWS + "\nop.execute(f\"UPDATE things SET note = '{n}'\")", "pass")


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_downgrade_that_reads_rows_leaves_its_upgrade_in_upgrade_sql(
    kind: str, project: Project, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    db: ThrowawayDB = request.getfixturevalue({"sqlite": "lite", "postgresql": "pg"}[kind])
    project.add(
        "r1",
        'op.create_table("things", sa.Column("id", sa.Integer, primary_key=True))',
        READS_ROWS + '\nop.drop_table("things")',
    )
    release = Release(db, project.ini, write_config(tmp_path, {"lint_fail_on": "error"}))

    result = release()

    assert result.code == 0, result.stderr
    report = result.report
    assert report["data"]["live_only"] == [] and report["data"]["downgrade_live_only"] == ["r1"]
    upgrade_sql = Path(report["sql"]["upgrade"]["path"]).read_text()
    assert "CREATE TABLE things" in upgrade_sql and "live-only" not in upgrade_sql
    assert "live-only" in Path(report["sql"]["downgrade"]["path"]).read_text()
    # nothing needs a live connection to go up: the rehearsal is not forced
    assert [s["status"] for s in report["steps"] if s["name"] == "rehearse"] == ["skipped"]
    # preflight said how a rollback would undo it
    preflight = next(s for s in report["steps"] if s["name"] == "preflight")
    assert "r1 cannot render offline" in preflight["detail"], preflight["detail"]
    assert "restoring its backup" in preflight["detail"]
    assert db.revision() == "r1"


def test_a_downgrade_failing_in_the_rehearsal_releases_and_rolls_back_by_restore(
    lite: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    history(project, 'op.execute("DROP TABLE no_such_table")')
    release = Release(lite, project.ini, write_config(tmp_path))

    result = release()

    assert result.code == 0, result.stderr
    report = result.report
    assert report["data"]["rehearsal"]["rolls_back_by_restore"]["revision"] == "r2"
    rehearse = next(s for s in report["steps"] if s["name"] == "rehearse")
    assert rehearse["status"] == "ok" and "restoring its backup" in rehearse["detail"]
    log = (Path(report["sql"]["upgrade"]["path"]).parent / "run.log").read_text()
    assert "rolls back by restoring its backup" in log
    assert lite.revision() == "r3"
    assert lite.scalar("SELECT note FROM things WHERE id = 1") == "1"


def test_where_no_restore_is_allowed_a_failing_downgrade_refuses_by_name(
    lite: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    history(project, 'op.execute("DROP TABLE no_such_table")')
    release = Release(lite, project.ini, write_config(tmp_path), env="prod")

    refused = release()

    assert refused.code == 3, refused.stderr
    assert refused.report["error"]["check"] == "rehearsal"
    line = refused.stderr.strip()
    assert "r2" in line and "restore_on_failed_rollback" in line and "prod" in line, line
    assert lite.revision() is None
    assert not {"things", "alembic_version"} & set(lite.tables())  # only slipway's ledger


def test_a_failing_upgrade_in_the_rehearsal_still_refuses(
    lite: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    history(project, 'op.drop_column("things", "note")')
    project.add("r4", 'op.execute("UPDATE no_such_table SET x = 1")', "pass")
    release = Release(lite, project.ini, write_config(tmp_path))

    refused = release()

    assert refused.code == 3, refused.stderr
    assert "r4" in refused.stderr and "upgrade" in refused.stderr
    assert lite.revision() is None
    assert not {"things", "alembic_version"} & set(lite.tables())  # only slipway's ledger
