"""Preflight refuses (exit 3) and changes nothing when the code and the database disagree."""

from __future__ import annotations

from conftest import Project, Release, ThrowawayDB, alembic_upgrade, standard_history


def snapshot(db: ThrowawayDB) -> tuple[object, ...]:
    return db.revision(), db.tables(), db.contents(skip_ledger=False), db.schema()


def test_database_ahead_of_or_unknown_to_the_code_is_refused(
    db: ThrowawayDB, project: Project, release: Release
) -> None:
    standard_history(project)
    alembic_upgrade(db, project.ini, "r2")
    db.execute("UPDATE alembic_version SET version_num = 'f00dfeed'")
    before = snapshot(db)

    result = release()

    assert result.code == 3, result.stderr
    assert result.report["outcome"] == "refused"
    assert result.report["error"]["check"] == "current_known"
    assert "f00dfeed" in result.stderr
    assert snapshot(db) == before
    assert not [t for t in db.tables() if t.startswith("slipway_")]


def test_two_heads_are_refused(db: ThrowawayDB, project: Project, release: Release) -> None:
    standard_history(project)
    alembic_upgrade(db, project.ini, "r3")
    project.add(
        "r4a", 'op.create_table("a", sa.Column("id", sa.Integer, primary_key=True))', down="r3"
    )
    project.add(
        "r4b", 'op.create_table("b", sa.Column("id", sa.Integer, primary_key=True))', down="r3"
    )
    before = snapshot(db)

    result = release()

    assert result.code == 3, result.stderr
    assert result.report["error"]["check"] == "single_head"
    assert "alembic merge heads" in result.stderr
    assert snapshot(db) == before


def test_applied_revision_file_edited_since_is_refused(
    db: ThrowawayDB, project: Project, release: Release
) -> None:
    standard_history(project)
    assert release().code == 0
    edited = project.root / "versions" / "r2.py"
    # A change to what the file does (a comment alone is not one: see test_ledger_repair).
    edited.write_text(edited.read_text() + "\nTWEAKED_AFTER_RELEASE = True\n")
    project.add(
        "r4",
        'op.create_table("more", sa.Column("id", sa.Integer, primary_key=True))',
        'op.drop_table("more")',
    )
    before = snapshot(db)

    result = release()

    assert result.code == 3, result.stderr
    assert result.report["error"]["check"] == "checksums"
    assert "r2" in result.report["error"]["message"]
    assert "versions/r2.py" in result.report["error"]["message"]
    assert snapshot(db) == before
    assert db.revision() == "r3"
