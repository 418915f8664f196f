"""When the rollback's own downgrade fails: restore from the backup where the
environment allows it (exit 5), otherwise stop with the exact restore command (exit 6)."""

from __future__ import annotations

from conftest import Project, Release, ThrowawayDB, alembic_upgrade, slipway


def broken_downgrade_history(project: Project) -> None:
    project.add(
        "r1",
        """
        t = op.create_table("things", sa.Column("id", sa.Integer, primary_key=True),
                            sa.Column("name", sa.String(50), nullable=False))
        op.bulk_insert(t, [{"id": i, "name": f"thing {i}"} for i in range(1, 4)])
        """,
        'op.drop_table("things")',
    )
    project.add(
        "r2",
        """
        op.add_column("things", sa.Column("label", sa.String(80)))
        op.execute("UPDATE things SET name = 'overwritten'")
        """,
        'op.execute("SELECT * FROM no_such_table")',
    )
    project.add("r3", 'op.execute("INSERT INTO no_such_table (id) VALUES (1)")')


def test_failed_downgrade_restores_from_backup_where_allowed(
    db: ThrowawayDB, project: Project, release: Release
) -> None:
    broken_downgrade_history(project)
    alembic_upgrade(db, project.ini, "r1")
    rows_before, schema_before = db.contents(), db.schema()

    result = release(env="test")

    assert result.code == 5, result.stderr
    report = result.report
    assert report["outcome"] == "restored"
    statuses = {s["name"]: s["status"] for s in report["steps"]}
    assert statuses["apply"] == "failed"
    assert statuses["rollback"] == "failed"
    assert statuses["restore"] == "ok"
    assert db.revision() == "r1"
    assert db.contents() == rows_before
    assert db.schema() == schema_before


def test_failed_downgrade_without_restore_names_the_restore_command(
    db: ThrowawayDB, project: Project, release: Release
) -> None:
    broken_downgrade_history(project)
    alembic_upgrade(db, project.ini, "r1")
    rows_before = db.contents()

    result = release(env="prod")

    assert result.code == 6, result.stderr
    report = result.report
    assert report["outcome"] == "needs_attention"
    assert db.revision() == "r2"  # where the failed downgrade left it
    command = report["next_command"]
    assert command == f"slipway db restore --env prod --backup {report['backup']['path']} --yes"
    assert command in result.stderr

    # The command the report names does what it says.
    restored = slipway(
        *command.split()[1:],
        "--config",
        str(release.config),
        "--alembic-ini",
        str(release.project_ini),
        env={"TEST_DB_URL": db.url_str},
    )
    assert restored.code == 0, restored.stderr
    assert db.revision() == "r1"
    assert db.contents() == rows_before
