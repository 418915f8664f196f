"""The steps of the release as single commands, as an operator (or an Ansible task)
runs them one by one."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from conftest import (
    Project,
    Release,
    ThrowawayDB,
    alembic_upgrade,
    standard_history,
    things_table,
)


def test_steps_one_by_one_reach_head_and_back(
    db: ThrowawayDB, project: Project, release: Release
) -> None:
    standard_history(project)
    alembic_upgrade(db, project.ini, "r1")
    rows_at_r1 = db.contents()

    status = release("status")
    assert status.code == 0
    assert status.report["pending"] == ["r2", "r3"]
    assert status.report["data"]["up_to_date"] is False

    preflight = release("preflight")
    assert preflight.code == 0 and db.revision() == "r1"

    backup = release("backup")
    assert backup.code == 0, backup.stderr
    path = Path(backup.report["backup"]["path"])
    assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600

    render = release("render")
    assert render.code == 0
    assert "things" in Path(render.report["sql"]["upgrade"]["path"]).read_text()
    assert db.revision() == "r1", "render changes nothing"

    wrong = release("verify")
    assert wrong.code == 6
    assert "database is at r1, expected r3" in wrong.report["error"]["message"]

    apply = release("apply")
    assert apply.code == 0, apply.stderr
    assert db.revision() == "r3"
    assert release("verify").code == 0

    rows_at_r3 = db.contents()
    back = release("rollback", "--to", "r1")
    assert back.code == 0, back.stderr
    assert db.revision() == "r1"
    assert db.contents() == rows_at_r1
    assert release("verify", "--revision", "r1").code == 0
    # The downgrade dropped a column with its values: backed up first, as a release is.
    taken = back.report["backup"]["path"]
    assert Path(taken).is_file()
    assert release("restore", "--backup", taken, "--yes").code == 0
    assert db.revision() == "r3" and db.contents() == rows_at_r3
    assert release("rollback", "--to", "r1").code == 0

    history = release("history")
    runs = history.report["data"]["runs"]
    # Runs that took the claim, newest first: rollback, restore, rollback, apply, backup.
    assert [r["command"] for r in runs] == ["rollback", "restore", "rollback", "apply", "backup"]
    assert [r["outcome"] for r in runs] == ["applied"] * 5
    assert [(r["from_revision"], r["to_revision"]) for r in runs] == [
        ("r3", "r1"),
        ("r1", "r3"),
        ("r3", "r1"),
        ("r1", "r3"),
        ("r1", "r1"),
    ]


def test_rollback_without_target_goes_to_where_the_last_release_started(
    db: ThrowawayDB, project: Project, release: Release
) -> None:
    standard_history(project)
    alembic_upgrade(db, project.ini, "r2")
    rows_at_r2 = db.contents()
    assert release().code == 0
    assert db.revision() == "r3"

    back = release("rollback")

    assert back.code == 0, back.stderr
    assert (back.report["from_revision"], back.report["to_revision"]) == ("r3", "r2")
    assert db.revision() == "r2"
    assert db.contents() == rows_at_r2


def test_report_has_the_contract_fields_in_every_outcome(
    db: ThrowawayDB, project: Project, release: Release
) -> None:
    standard_history(project)
    project.add("r4", 'op.execute("INSERT INTO no_such_table (id) VALUES (1)")')
    result = release()
    assert result.code == 4
    report = result.report
    for key in (
        "run_id",
        "env",
        "database",
        "from_revision",
        "to_revision",
        "outcome",
        "steps",
        "backup",
        "sql",
        "error",
    ):
        assert key in report, key
    assert set(report["database"]) >= {"dialect", "name"}
    assert all(set(s) == {"name", "status", "duration_s", "detail"} for s in report["steps"])
    assert set(report["backup"]) == {"path", "sha256", "bytes"}
    # applied.sql and rollback.sql: what really ran, and what undid it
    assert set(report["sql"]) == {"upgrade", "downgrade", "applied", "rollback"}


def test_old_backups_are_pruned_to_backup_keep(
    lite: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    from conftest import write_config

    standard_history(project)
    alembic_upgrade(lite, project.ini, "r1")
    release = Release(lite, project.ini, write_config(tmp_path, {"backup_keep": 2}))

    paths = [Path(release("backup").report["backup"]["path"]) for _ in range(3)]

    assert [p.exists() for p in paths] == [False, True, True]
    assert set((tmp_path / "backups" / "test").iterdir()) == set(paths[1:])


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_history_reads_the_ledger_only(db: ThrowawayDB, project: Project, release: Release) -> None:
    """No env.py and no revision runs for `history`: it works when both would fail."""
    standard_history(project)
    assert release().code == 0
    (project.root / "env.py").write_text('raise RuntimeError("env.py must not run")\n')
    (project.root / "versions" / "r3.py").write_text('raise RuntimeError("nor a revision")\n')

    shown = release("history")

    assert shown.code == 0, shown.stderr
    assert [r["outcome"] for r in shown.report["data"]["runs"]] == ["applied"]


def test_applied_sql_shows_every_row_of_a_bulk_insert_with_its_values(
    db: ThrowawayDB, project: Project, release: Release
) -> None:
    """One executemany call: each parameter set is a statement of its own in applied.sql,
    its values rendered as literals (or shown beside it when they cannot be)."""
    things_table(project, rows=2)
    project.add(
        "r2",
        """
        things = sa.table("things", sa.column("id", sa.Integer), sa.column("name", sa.String))
        op.bulk_insert(things, [{"id": 10, "name": "it's ten"}, {"id": 11, "name": "eleven"}])
        op.get_bind().execute(
            sa.text("UPDATE things SET name = :n WHERE id = :i"), [{"n": "one", "i": 1}]
        )
        """,
    )

    result = release()

    assert result.code == 0, result.stderr
    applied = Path(result.report["sql"]["applied"]["path"]).read_text()
    assert "INSERT INTO things (id, name) VALUES (10, 'it''s ten')" in applied
    assert "INSERT INTO things (id, name) VALUES (11, 'eleven')" in applied
    assert "-- parameters: {'n': 'one', 'i': 1}" in applied
    assert db.scalar("SELECT name FROM things WHERE id = 1") == "one"
