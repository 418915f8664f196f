"""Preflight in prod refuses a pending revision with an unaccepted error finding: exit 3,
the database untouched, the rule and the file named. Accepted, the same revision ships."""

from __future__ import annotations

from pathlib import Path

from conftest import Project, Release, ThrowawayDB, alembic_upgrade, write_config


def history_with_a_dropped_column(project: Project) -> Path:
    project.add(
        "r1",
        """
        t = op.create_table("things", sa.Column("id", sa.Integer, primary_key=True),
                            sa.Column("note", sa.String(50), nullable=True))
        op.bulk_insert(t, [{"id": i, "note": f"n{i}"} for i in range(1, 4)])
        """,
        'op.drop_table("things")',
    )
    return project.add(
        "r2",
        'op.drop_column("things", "note")',
        'op.add_column("things", sa.Column("note", sa.String(50), nullable=True))',
    )


def gated(db: ThrowawayDB, project: Project, tmp_path: Path) -> Release:
    config = write_config(
        tmp_path,
        {"lint_fail_on": "error"},
        prod={"database_url_env": "TEST_DB_URL"},
    )
    return Release(db, project.ini, config, env="prod")


def test_prod_preflight_refuses_an_unaccepted_error_finding(
    db: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    history_with_a_dropped_column(project)
    alembic_upgrade(db, project.ini, "r1")
    before = (db.revision(), db.tables(), db.contents(skip_ledger=False), db.schema())
    release = gated(db, project, tmp_path)

    for command in ("preflight", "release"):
        result = release(command)

        assert result.code == 3, result.stderr
        assert result.report["outcome"] == "refused"
        assert result.report["error"]["check"] == "lint"
        message = result.report["error"]["message"]
        assert "ban-drop-column" in message and "versions/r2.py" in message
        assert "ban-drop-column" in result.stderr and "versions/r2.py" in result.stderr
        assert (db.revision(), db.tables(), db.contents(skip_ledger=False), db.schema()) == before
    assert not [t for t in db.tables() if t.startswith("slipway_")]


def test_a_backup_begun_before_the_gate_refused_is_stopped_and_removed(
    db: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    """Where the ledger exists, a release begins its dump while the lint gate runs: the
    refusal stops it and leaves nothing of it."""
    history_with_a_dropped_column(project)
    alembic_upgrade(db, project.ini, "r1")
    release = gated(db, project, tmp_path)
    assert release("release", "--to", "r1").report["outcome"] == "noop"  # the ledger
    before = (db.revision(), db.tables(), db.contents(), db.schema())

    result = release("release")

    assert result.code == 3, result.stderr
    assert result.report["error"]["check"] == "lint"
    assert (db.revision(), db.tables(), db.contents(), db.schema()) == before
    backups = tmp_path / "backups"
    assert not [p for p in backups.rglob("*") if p.is_file()] if backups.exists() else True
    if db.kind != "sqlite":
        log = (tmp_path / "artifacts" / result.report["run_id"] / "run.log").read_text()
        assert "backup begun under the lock" in log and "stopped and removed" in log


def test_the_same_revision_accepted_with_a_reason_is_released(
    db: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    path = history_with_a_dropped_column(project)
    path.write_text(
        path.read_text()
        + '\nslipway_accept = {"ban-drop-column": "note is unused since release 1.4"}\n'
    )
    alembic_upgrade(db, project.ini, "r1")
    release = gated(db, project, tmp_path)
    assert release("release", "--to", "r1").report["outcome"] == "noop"  # the ledger

    result = release()

    assert result.code == 0, result.stderr
    assert db.revision() == "r2"
    (finding,) = [
        f for f in result.report["data"]["lint"]["findings"] if f["rule"] == "ban-drop-column"
    ]
    assert finding["accepted"] == "note is unused since release 1.4"
    preflight = next(s for s in result.report["steps"] if s["name"] == "preflight")
    assert "1 accepted, 0 blocking" in preflight["detail"]
    (backup,) = [s for s in result.report["steps"] if s["name"] == "backup"]
    if db.kind != "sqlite":  # the dump, a client tool, began while preflight ended
        assert "begun under the lock while preflight ended" in backup["detail"]
    assert Path(result.report["backup"]["path"]).is_file()
