"""When the rollback's own downgrade fails: restore from the backup where the
environment allows it (exit 5), otherwise stop with the exact restore command (exit 6)."""

from __future__ import annotations

import shlex
from pathlib import Path

from conftest import Project, Release, ThrowawayDB, alembic_upgrade, slipway, write_config


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
    argv = shlex.split(command)
    assert argv[:6] == ["slipway", "db", "restore", "--backup", report["backup"]["path"], "--yes"]
    assert argv[6:] == [
        "--env", "prod", "--config", str(release.config), "--alembic-ini", str(project.ini)
    ]  # fmt: skip
    assert command in result.stderr

    # Until someone acts, no release goes over an uncertain database.
    gated = release(env="prod")
    assert gated.code == 3
    assert gated.report["error"]["check"] == "attention"
    assert report["run_id"] in gated.stderr
    assert db.revision() == "r2"

    # The command the report names does what it says, run verbatim.
    restored = slipway(*argv[1:], "--json", env={"TEST_DB_URL": db.url_str})
    assert restored.code == 0, restored.stderr
    assert db.revision() == "r1"
    assert db.contents() == rows_before

    # The history survived the restore, and tells what happened.
    runs = {r["run_id"]: r for r in release("history").report["data"]["runs"]}
    assert runs[report["run_id"]]["outcome"] == "restored"
    assert runs[restored.report["run_id"]]["command"] == "restore"
    assert gated.report["run_id"] not in runs, "a refused run never claimed the database"

    # With the database sound again, a fixed release goes through.
    (project.root / "versions" / "r3.py").write_text(
        (project.root / "versions" / "r3.py")
        .read_text()
        .replace('op.execute("INSERT INTO no_such_table (id) VALUES (1)")', "pass")
    )
    fixed = release(env="prod")
    assert fixed.code == 0, fixed.stderr
    assert db.revision() == "r3"


def test_needs_attention_can_be_acknowledged_with_unlock(
    lite: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    broken_downgrade_history(project)
    alembic_upgrade(lite, project.ini, "r1")
    release = Release(lite, project.ini, write_config(tmp_path))
    first = release(env="prod")
    assert first.code == 6

    assert release(env="prod").report["error"]["check"] == "attention"
    unlocked = release("unlock", first.report["run_id"], env="prod")
    assert unlocked.code == 0, unlocked.stderr
    # Acknowledged: the next release runs again (and r3 still fails, from r2 this time).
    again = release(env="prod")
    assert again.code == 4, again.stderr
    assert again.report["from_revision"] == "r2"
    assert lite.revision() == "r2"


def test_parallel_directory_backup_is_private_and_restores(
    pg: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    """With backup_jobs > 1, PostgreSQL backs up as a directory with parallel pg_dump
    jobs: 0700/0600, checksummed as a whole, and the restore takes it as it is."""
    import stat

    from slipway.artifacts import checksum

    broken_downgrade_history(project)
    alembic_upgrade(pg, project.ini, "r1")
    rows_before = pg.contents()
    release = Release(pg, project.ini, write_config(tmp_path, {"backup_jobs": 2}))

    result = release(env="test")

    assert result.code == 5, result.stderr
    backup = Path(result.report["backup"]["path"])
    assert backup.is_dir() and backup.name.endswith(".dir")
    assert stat.S_IMODE(backup.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in backup.iterdir())
    assert checksum(backup) == (result.report["backup"]["sha256"], result.report["backup"]["bytes"])
    assert pg.revision() == "r1"
    assert pg.contents() == rows_before
