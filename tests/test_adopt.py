"""Adoption in one command: `slipway db adopt` marks the history as it stands as released
(slipway-baseline.yml beside the Alembic ini): its findings are still reported, never
gating, a new environment's first release included; revisions added later are gated as
before. Against a database with an Alembic version and no slipway history it records
the checksums once the live schema is proven to be what the code builds; a database
with tables and no version table is refused by preflight, naming adopt."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import Project, Release, ThrowawayDB, alembic_upgrade, write_config

DROP = 'op.drop_column("things", "note")'


def old_history(project: Project) -> None:
    """Years-old revisions with true findings: a dropped column, an index built
    without CONCURRENTLY."""
    project.add(
        "r1",
        'op.create_table("things", sa.Column("id", sa.Integer, primary_key=True),\n'
        '                sa.Column("note", sa.String(20)), sa.Column("name", sa.String(20)))\n'
        "op.execute(\"INSERT INTO things (id, note, name) VALUES (1, 'n', 'a')\")",
        'op.drop_table("things")',
    )
    project.add(
        "r2", DROP, 'op.add_column("things", sa.Column("note", sa.String(20), nullable=True))'
    )
    project.add(
        "r3",
        'op.create_index("ix_things_name", "things", ["name"])',
        'op.drop_index("ix_things_name", table_name="things")',
    )


def gated(tmp_path: Path, db: ThrowawayDB, project: Project) -> Release:
    return Release(db, project.ini, write_config(tmp_path, {"lint_fail_on": "error"}))


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_adopted_history_is_reported_not_gated_and_later_revisions_are_gated(
    kind: str, project: Project, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    db: ThrowawayDB = request.getfixturevalue({"sqlite": "lite", "postgresql": "pg"}[kind])
    old_history(project)
    release = gated(tmp_path, db, project)
    assert release().code == 3, "the gate refuses the old findings before adoption"

    adopted = release("adopt")

    assert adopted.code == 0, adopted.stderr
    baseline = yaml.safe_load((project.root / "slipway-baseline.yml").read_text())
    assert set(baseline["revisions"]) == {"r1", "r2", "r3"}
    lint = release("lint")
    assert lint.code == 0, lint.stderr
    findings = lint.report["data"]["lint"]["findings"]
    assert any(f["rule"] == "ban-drop-column" and f["baseline"] for f in findings)
    assert not any(f["blocking"] for f in findings)

    first = release()  # a new environment's first release applies the whole history
    assert first.code == 0, first.stderr
    assert db.revision() == "r3"

    project.add("r4", 'op.drop_column("things", "name")', "pass")
    refused = release()
    assert refused.code == 3 and "r4" in refused.stderr, refused.stderr
    assert refused.report["error"]["check"] == "lint"
    assert db.revision() == "r3"


def test_a_baselined_revision_edited_after_adoption_is_gated_again(
    lite: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    old_history(project)
    release = gated(tmp_path, lite, project)
    assert release("adopt").code == 0
    r3 = project.root / "versions" / "r3.py"
    edited = 'op.create_index("ix_things_name", "things", ["name"])\n    ' + DROP.replace(
        "note", "name"
    )
    r3.write_text(
        r3.read_text().replace('op.create_index("ix_things_name", "things", ["name"])', edited)
    )

    refused = release()

    assert refused.code == 3 and "r3" in refused.stderr, refused.stderr
    assert refused.report["error"]["check"] == "lint"
    assert lite.revision() is None


@pytest.mark.parametrize("kind", ["sqlite", "mariadb"])
def test_adopting_a_database_proves_its_schema_and_records_checksums(
    kind: str, project: Project, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    db: ThrowawayDB = request.getfixturevalue({"sqlite": "lite", "mariadb": "maria"}[kind])
    old_history(project)
    alembic_upgrade(db, project.ini, "r2")  # released with plain Alembic for years
    rows = db.contents()
    release = gated(tmp_path, db, project)

    adopted = release("adopt")

    assert adopted.code == 0, adopted.stderr
    assert adopted.report["outcome"] == "applied"
    prove = next(s for s in adopted.report["steps"] if s["name"] == "prove")
    assert prove["status"] == "ok" and "r2" in prove["detail"]
    status = release("status")
    assert {r["revision"]: r["state"] for r in status.report["data"]["revisions"]} == {
        "r1": "applied",
        "r2": "applied",
        "r3": "pending",
    }
    assert (db.revision(), db.contents()) == ("r2", rows)
    assert release().code == 0
    assert db.revision() == "r3"


def test_a_database_that_differs_from_its_revision_is_not_adopted(
    lite: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    old_history(project)
    alembic_upgrade(lite, project.ini, "r2")
    lite.execute("ALTER TABLE things ADD COLUMN added_by_hand INTEGER")
    release = gated(tmp_path, lite, project)

    refused = release("adopt")

    assert refused.code == 3, refused.stderr
    assert "added_by_hand" in refused.stderr and "in the database only" in refused.stderr
    assert release("history").report["data"]["runs"] == []  # nothing recorded


def test_tables_without_a_version_table_are_refused_naming_adopt(
    lite: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    old_history(project)
    alembic_upgrade(lite, project.ini, "r2")
    lite.execute("DROP TABLE alembic_version")
    rows = lite.contents()
    release = gated(tmp_path, lite, project)

    refused = release()

    assert refused.code == 3, refused.stderr
    assert "no Alembic version table" in refused.stderr and "adopt --revision" in refused.stderr
    assert lite.contents() == rows

    wrong = release("adopt", "--revision", "r3")
    assert wrong.code == 3 and "missing from the database" in wrong.stderr, wrong.stderr
    assert lite.revision() is None

    adopted = release("adopt", "--revision", "r2")
    assert adopted.code == 0, adopted.stderr
    assert lite.revision() == "r2"
    assert release().code == 0
    assert lite.revision() == "r3"


@pytest.mark.parametrize("where", ["sqlite", "postgresql"])
def test_without_a_database_adopt_records_the_code_baseline(
    where: str, project: Project, tmp_path: Path
) -> None:
    old_history(project)
    config = write_config(tmp_path)
    from conftest import slipway

    result = slipway(
        "db",
        "adopt",
        "--env",
        "test",
        "--config",
        str(config),
        "--alembic-ini",
        str(project.ini),
        "--json",
        env={
            "TEST_DB_URL": {
                "sqlite": f"sqlite:///{tmp_path}/not_made_yet.db",
                "postgresql": "postgresql://nobody@127.0.0.1:9/nowhere",  # nothing listens
            }[where]
        },
    )

    assert result.code == 0, result.stderr
    assert (project.root / "slipway-baseline.yml").is_file()
    assert not (tmp_path / "not_made_yet.db").exists()
