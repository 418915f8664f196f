"""A revision that fails mid-release: the database goes back to where the run started,
every row as it was, on all three databases (MariaDB included, whose DDL commits)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from conftest import (
    Project,
    Release,
    ThrowawayDB,
    alembic_upgrade,
    standard_history,
    write_config,
)


def failing_history(project: Project) -> Project:
    standard_history(project)  # r1 table + rows, r2 column + data rewrite, r3 index
    project.add("r4", 'op.execute("INSERT INTO no_such_table (id) VALUES (1)")')
    project.add(
        "r5",
        'op.create_table("never", sa.Column("id", sa.Integer, primary_key=True))',
        'op.drop_table("never")',
    )
    return project


def test_failed_revision_returns_database_to_start_with_rows_unchanged(
    db: ThrowawayDB, project: Project, release: Release
) -> None:
    failing_history(project)
    alembic_upgrade(db, project.ini, "r1")
    db.execute("INSERT INTO things (id, name) VALUES (100, 'added by the service')")
    rows_before, schema_before = db.contents(), db.schema()

    result = release()

    assert result.code == 4, result.stderr
    report = result.report
    assert report["outcome"] == "rolled_back"
    assert report["from_revision"] == "r1"
    steps = {s["name"]: s["status"] for s in report["steps"]}
    assert steps["apply"] == "failed" and steps["rollback"] == "ok"
    assert "r4" in report["error"]["message"]
    assert db.revision() == "r1"
    assert db.contents() == rows_before
    assert db.schema() == schema_before
    assert "never" not in db.tables()
    with db.engine().connect() as conn:
        outcome = conn.execute(
            sa.text("SELECT outcome FROM slipway_history WHERE run_id = :r"),
            {"r": report["run_id"]},
        ).scalar()
        recorded = {r for (r,) in conn.execute(sa.text("SELECT revision FROM slipway_checksum"))}
    assert outcome == "rolled_back"
    assert recorded == {"r1"}


def test_partial_ddl_on_mariadb_is_detected_and_restored(
    maria: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    """MariaDB commits each DDL statement: a revision that fails after creating a table
    leaves it behind, which a downgrade cannot know. The schema check catches it, and
    the backup puts the database back."""
    from conftest import write_config

    standard_history(project)
    project.add(
        "r4",
        """
        op.create_table("debris", sa.Column("id", sa.Integer, primary_key=True))
        op.execute("INSERT INTO no_such_table (id) VALUES (1)")
    """,
        'op.drop_table("debris")',
    )
    alembic_upgrade(maria, project.ini, "r1")
    rows_before, schema_before = maria.contents(), maria.schema()
    release = Release(maria, project.ini, write_config(tmp_path))

    restored = release()

    assert restored.code == 5, restored.stderr
    assert restored.report["outcome"] == "restored"
    assert maria.revision() == "r1"
    assert "debris" not in maria.tables()
    assert maria.contents() == rows_before
    assert maria.schema() == schema_before

    # Where restoring is not allowed, the run stops and says exactly what to run.
    blocked = release(env="prod")
    assert blocked.code == 6, blocked.stderr
    report = blocked.report
    assert report["outcome"] == "needs_attention"
    assert report["next_command"].startswith("slipway db restore --backup ")
    assert "--env prod" in report["next_command"]
    assert report["backup"]["path"] in report["next_command"]


def test_a_first_release_that_fails_says_it_went_back_to_base(
    db: ThrowawayDB, project: Project, release: Release
) -> None:
    failing_history(project)

    result = release()

    assert result.code == 4, result.stderr
    assert result.report["outcome"] == "rolled_back"
    assert result.report["current_revision"] == "base"
    assert result.report["next_command"] is None
    assert db.revision() is None


def test_an_environment_without_backups_still_rolls_a_failed_release_back(
    db: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    """backup: false opts an environment out of backups (and so of rehearsals): the
    release takes none, and a failed revision is still undone by downgrade."""
    failing_history(project)
    alembic_upgrade(db, project.ini, "r1")
    before = db.contents()
    config = write_config(tmp_path, {"backup": False, "rehearse": "always"})

    result = Release(db, project.ini, config)()

    assert result.code == 4, result.stderr
    steps = {s["name"]: (s["status"], s["detail"]) for s in result.report["steps"]}
    assert steps["backup"] == ("skipped", "backup: false for test")
    assert steps["rehearse"][0] == "skipped" and "backup: false" in steps["rehearse"][1]
    assert steps["rollback"][0] == "ok"
    assert result.report["backup"] is None
    assert not (tmp_path / "backups").exists() or not any((tmp_path / "backups").rglob("*.*"))
    assert db.revision() == "r1" and db.contents() == before
