"""Verify reads `current` through a fresh connection: when the database is not where the
apply left it (another session moved it), the run rolls back and proves the rollback."""

from __future__ import annotations

import pytest
from conftest import Project, Release, ThrowawayDB, alembic_upgrade, standard_history

# Another session "moves" the database: whenever alembic_version becomes r3, it is set
# back to r2. The apply of r3 succeeds; only a fresh read can tell.
MOVE_BACK = {
    "sqlite": [
        "CREATE TRIGGER move_back AFTER UPDATE ON alembic_version WHEN NEW.version_num = 'r3' "
        "BEGIN UPDATE alembic_version SET version_num = 'r2'; END"
    ],
    "postgresql": [
        "CREATE FUNCTION move_back() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.version_num = 'r3' THEN NEW.version_num := 'r2'; END IF; RETURN NEW; END $$",
        "CREATE TRIGGER move_back BEFORE UPDATE ON alembic_version "
        "FOR EACH ROW EXECUTE FUNCTION move_back()",
    ],
}


@pytest.mark.parametrize("db", ["sqlite", "postgresql"], indirect=True)
def test_verify_failure_after_apply_rolls_back_and_is_verified(
    db: ThrowawayDB, project: Project, release: Release
) -> None:
    project.add(
        "r1",
        """
        t = op.create_table("things", sa.Column("id", sa.Integer, primary_key=True),
                            sa.Column("name", sa.String(50), nullable=False))
        op.bulk_insert(t, [{"id": 1, "name": "one"}, {"id": 2, "name": "two"}])
        """,
        'op.drop_table("things")',
    )
    project.add(
        "r2",
        """
        op.add_column("things", sa.Column("label", sa.String(80)))
        op.execute("UPDATE things SET label = 'x' || name")
        """,
        'op.drop_column("things", "label")',
    )
    project.add("r3", "pass", "pass")
    alembic_upgrade(db, project.ini, "r1")
    db.execute(*MOVE_BACK[db.kind])
    rows_before, schema_before = db.contents(), db.schema()

    result = release()

    assert result.code == 4, result.stderr
    report = result.report
    assert report["outcome"] == "rolled_back"
    steps = {s["name"]: s for s in report["steps"]}
    assert steps["apply"]["status"] == "ok"
    assert steps["verify"]["status"] == "failed"
    assert "database is at r2, expected r3" in steps["verify"]["detail"]
    assert steps["rollback"]["status"] == "ok"
    assert db.revision() == "r1"
    assert db.contents() == rows_before
    assert db.schema() == schema_before


def test_standard_history_helper_is_reversible(lite: ThrowawayDB, project: Project) -> None:
    """The fixture history other tests rely on really goes up and down."""
    standard_history(project)
    alembic_upgrade(lite, project.ini, "r3")
    assert lite.revision() == "r3"
    assert lite.scalar("SELECT count(*) FROM things") == 5


CHECKS = {
    # The backfill left no row without a label: true after r2's upgrade as written.
    "function": (
        "\n\ndef verify(connection):\n"
        "    missing = connection.execute(\n"
        "        sa.text('SELECT count(*) FROM things WHERE label IS NULL')\n"
        "    ).scalar()\n"
        "    assert missing == 0, f'{missing} row(s) without a label'\n"
    ),
    "sql": '\n\nverify_sql = "SELECT count(*) = 0 FROM things WHERE label IS NULL"\n',
}


@pytest.mark.parametrize("db", ["sqlite", "postgresql", "mariadb"], indirect=True)
@pytest.mark.parametrize("kind", ["function", "sql"])
def test_a_revisions_own_check_runs_in_verify_and_a_failing_one_rolls_back(
    db: ThrowawayDB, project: Project, release: Release, kind: str
) -> None:
    project.add(
        "r1",
        """
        t = op.create_table("things", sa.Column("id", sa.Integer, primary_key=True),
                            sa.Column("name", sa.String(50), nullable=False))
        op.bulk_insert(t, [{"id": 1, "name": "one"}, {"id": 2, "name": "two"}])
        """,
        'op.drop_table("things")',
    )
    # The backfill forgets the row named "two": the check must catch it.
    path = project.add(
        "r2",
        """
        op.add_column("things", sa.Column("label", sa.String(80)))
        op.execute("UPDATE things SET label = name WHERE name <> 'two'")
        """,
        'op.drop_column("things", "label")',
    )
    path.write_text(path.read_text() + CHECKS[kind])
    alembic_upgrade(db, project.ini, "r1")
    rows_before, schema_before = db.contents(), db.schema()

    failed = release()

    assert failed.code == 4, failed.stderr
    steps = {s["name"]: s for s in failed.report["steps"]}
    assert steps["apply"]["status"] == "ok" and steps["verify"]["status"] == "failed"
    assert "revision r2's own check failed" in steps["verify"]["detail"]
    assert failed.report["error"]["revision"] == "r2"
    assert (db.revision(), db.contents(), db.schema()) == ("r1", rows_before, schema_before)

    # Fixed: the check passes, and the verify step says it ran.
    path.write_text(path.read_text().replace(" WHERE name <> 'two'", ""))
    passed = release()
    assert passed.code == 0, passed.stderr
    (verify,) = [s for s in passed.report["steps"] if s["name"] == "verify"]
    assert "1 revision check(s) passed" in verify["detail"]
    assert db.revision() == "r2"
