"""``db status``: every revision's state, read from the ledger and the graph alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Project, Release, ThrowawayDB, slipway, standard_history, write_config


@pytest.fixture
def release(db: ThrowawayDB, project: Project, tmp_path: Path) -> Release:
    # No rehearsal: the broken revision is to fail on the database itself.
    return Release(db, project.ini, write_config(tmp_path, {"rehearse": "never"}))


def states(release: Release) -> dict[str, str]:
    result = release("status")
    assert result.code == 0, result.stderr
    return {r["revision"]: r["state"] for r in result.report["data"]["revisions"]}


def test_status_shows_each_revision_state_and_runs_no_revision(
    db: ThrowawayDB, project: Project, release: Release, tmp_path: Path
) -> None:
    standard_history(project)
    marker = tmp_path / "r4-was-imported"
    r4 = project.add("r4", 'raise RuntimeError("r4 is broken")')
    # Code at module level: it runs whenever the file is imported, as Alembic does.
    broken = r4.read_text()
    r4.write_text(f"open({str(marker)!r}, 'w').close()\n{broken}")

    assert states(release) == dict.fromkeys(["r1", "r2", "r3", "r4"], "pending")
    assert not marker.exists(), "status imported a revision file"
    assert not (tmp_path / "artifacts").exists(), "status kept artifacts"

    r4.unlink()
    assert release().code == 0
    r4.write_text(broken)
    failed = release()
    assert failed.code == 4, failed.stderr
    assert db.revision() == "r3"

    before = db.contents(skip_ledger=False)
    result = release("status")
    assert result.code == 0, result.stderr
    assert db.contents(skip_ledger=False) == before, "status wrote to the database"
    rows = {r["revision"]: r for r in result.report["data"]["revisions"]}
    assert [r["state"] for r in rows.values()] == ["applied", "applied", "applied", "failed"]
    assert result.report["current_revision"] == "r3" and result.report["pending"] == ["r4"]
    assert rows["r1"]["run_id"] and rows["r1"]["who"] and rows["r1"]["applied_at"]
    assert rows["r1"]["duration_s"] is not None

    human = slipway(
        "db",
        "status",
        "--env",
        "test",
        "--config",
        str(release.config),
        "--alembic-ini",
        str(release.project_ini),
        env={"TEST_DB_URL": db.url_str},
    )
    assert human.code == 0, human.stderr
    lines = {line.split()[0]: line for line in human.stdout.splitlines() if line.strip()}
    assert "failed" in lines["r4"] and "applied" in lines["r2"]
    assert rows["r1"]["run_id"] in lines["r1"], "the run id is shown whole"
    assert "\x1b[" not in human.stdout, "no control codes when not on a terminal"

    r2 = project.root / "versions" / "r2.py"
    original = r2.read_text()
    r2.write_text(original.replace("SET name = 'renamed'", "SET name = 'changed'"))
    assert states(release)["r2"] == "edited"
    r2.write_text(original)

    r4.write_text(broken.replace('raise RuntimeError("r4 is broken")', "pass"))
    assert release().code == 0
    assert states(release)["r4"] == "applied"

    r4.unlink()  # an older checkout of the code: the database is ahead of it
    result = release("status")
    assert result.code == 0, result.stderr
    assert {r["revision"]: r["state"] for r in result.report["data"]["revisions"]} == {
        "r1": "applied",
        "r2": "applied",
        "r3": "applied",
        "r4": "missing",
    }
    assert result.report["current_revision"] == "r4"


def test_release_artifacts_are_pruned_to_artifacts_keep(
    lite: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    standard_history(project)
    release = Release(lite, project.ini, write_config(tmp_path, {"artifacts_keep": 2}))
    runs = [release("preflight").report["run_id"] for _ in range(4)]
    for _ in range(3):
        assert release("status").code == 0
    kept = sorted(p.name for p in (tmp_path / "artifacts").iterdir())
    assert kept == runs[-2:], "the newest two runs; status kept none"


def test_status_all_says_what_is_deployed_where(project: Project, tmp_path: Path) -> None:
    standard_history(project)
    config = write_config(
        tmp_path,
        {"alembic_ini": str(project.ini)},
        stage={"database_url": f"sqlite:///{tmp_path / 'stage.db'}"},
        prod={"database_url": f"sqlite:///{tmp_path / 'prod.db'}"},
        qa={"database_url_env": "QA_DB_URL"},
    )
    shipped = slipway(
        "db", "release", "--env", "stage", "--config", str(config), "--release", "v1.4.2", "--json"
    )
    assert shipped.code == 0, shipped.stderr

    result = slipway("db", "status", "--all", "--config", str(config), "--json")

    assert result.code == 0, result.stderr
    rows = {r["env"]: r for r in json.loads(result.stdout)["environments"]}
    assert rows["stage"]["revision"] == "r3" and rows["stage"]["release"] == "v1.4.2"
    assert rows["stage"]["outcome"] == "applied" and rows["stage"]["command"] == "release"
    assert rows["stage"]["last_run"] == shipped.report["run_id"]
    assert rows["prod"]["revision"] == "(no database)"
    assert "QA_DB_URL" in rows["qa"]["error"]
    assert not (tmp_path / "prod.db").exists(), "status --all creates nothing"
    human = slipway("db", "status", "--all", "--config", str(config))
    assert human.code == 0 and "v1.4.2" in human.stdout and "QA_DB_URL" in human.stdout
