"""A migration file edited after it was applied makes preflight refuse; `slipway db
ledger repair` with a reason re-baselines it on purpose and leaves a history row."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from conftest import Project, Release, Result, ThrowawayDB, slipway, standard_history


def test_edited_applied_file_is_refused_until_repaired_with_a_reason(
    db: ThrowawayDB, project: Project, release: Release
) -> None:
    standard_history(project)
    assert release().code == 0
    edited = project.root / "versions" / "r2.py"
    edited.write_text(edited.read_text().replace("'renamed'", "'renamed again'"))

    refused = release("preflight")
    assert refused.code == 3, refused.stderr
    assert refused.report["error"]["check"] == "checksums"
    assert "versions/r2.py" in refused.stderr

    repaired = _repair(release, "r2", "same data fix, reviewed in MR !42")

    assert repaired.code == 0, repaired.stderr
    assert repaired.report["outcome"] == "applied"
    assert release("preflight").code == 0
    with db.engine().connect() as conn:
        row = conn.execute(
            sa.text("SELECT command, outcome, detail FROM slipway_history WHERE run_id = :r"),
            {"r": repaired.report["run_id"]},
        ).one()
        how = conn.execute(
            sa.text("SELECT how FROM slipway_checksum WHERE revision = 'r2'")
        ).scalar_one()
    assert row.command == "ledger-repair" and row.outcome == "applied"
    assert "same data fix, reviewed in MR !42" in row.detail
    assert how == "repaired"
    # Nothing left to repair: a second repair changes nothing.
    assert _repair(release, "r2", "again").report["outcome"] == "noop"


def test_repair_needs_a_reason_and_an_applied_revision(
    db: ThrowawayDB, project: Project, release: Release
) -> None:
    standard_history(project)
    assert release().code == 0
    project.add("r4", 'op.execute("SELECT 1")', 'op.execute("SELECT 1")')

    empty = _repair(release, "r2", "  ")
    pending = _repair(release, "r4", "not applied yet")

    assert empty.code == 2 and "--reason" in empty.stderr
    assert pending.code == 2 and "r4" in pending.stderr and "not applied" in pending.stderr
    assert "Traceback" not in empty.stderr + pending.stderr
    assert db.revision() == "r3"


def _repair(release: Release, revision: str, reason: str) -> Result:
    return slipway(
        "db",
        "ledger",
        "repair",
        "--env",
        release.env,
        "--config",
        str(release.config),
        "--alembic-ini",
        str(release.project_ini),
        "--json",
        "--revision",
        revision,
        "--reason",
        reason,
        env={"TEST_DB_URL": release.db.url_str},
    )


def test_formatting_is_not_a_change(lite: ThrowawayDB, project: Project, tmp_path: Path) -> None:
    """ruff format, comments and blank lines leave an applied revision as it was; a change
    to its code does not."""
    from conftest import write_config

    standard_history(project)
    release = Release(lite, project.ini, write_config(tmp_path))
    assert release().code == 0
    versions = project.root / "versions"
    before = {p.name: p.read_text() for p in versions.glob("*.py")}
    r2 = versions / "r2.py"
    r2.write_text('"""Label things."""\n# reviewed again\n\n' + r2.read_text())
    ruff = Path(sys.executable).parent / "ruff"
    subprocess.run(
        [str(ruff), "format", "--quiet", "--line-length", "60", str(versions)], check=True
    )
    assert {p.name: p.read_text() for p in versions.glob("*.py")} != before
    project.add("r4", 'op.execute("SELECT 1")', 'op.execute("SELECT 1")')

    assert release("preflight").code == 0
    assert release().code == 0, "a reformatted history releases"

    r2.write_text(r2.read_text().replace("SET label = name", "SET label = upper(name)"))
    refused = release("preflight")
    assert refused.code == 3 and refused.report["error"]["check"] == "checksums"
