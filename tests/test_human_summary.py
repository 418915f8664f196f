"""The summary a person reads says what happened, where the backup, SQL and log are, the
state of the database, and what to run next."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import (
    Project,
    Result,
    ThrowawayDB,
    alembic_upgrade,
    slipway,
    standard_history,
    write_config,
)


def human(db: ThrowawayDB, project: Project, config: Path, env: str = "test") -> Result:
    return slipway(
        "db",
        "release",
        "--env",
        env,
        "--config",
        str(config),
        "--alembic-ini",
        str(project.ini),
        env={"TEST_DB_URL": db.url_str, "COLUMNS": "200"},
    )


def test_applied_summary(lite: ThrowawayDB, project: Project, tmp_path: Path) -> None:
    standard_history(project)
    result = human(lite, project, write_config(tmp_path))
    assert result.code == 0
    out = result.stdout
    assert out.startswith("applied release on test")
    assert "database: at r3, verified" in out
    assert f"backup: {tmp_path / 'backups' / 'test'}" in out
    assert "upgrade SQL: " in out and "downgrade SQL: " in out
    assert "log: " in out and "run.log" in out
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("env", "state", "next_"),
    [
        ("test", "database: rolled back to r1, verified", "next: fix the failing revision"),
        ("prod", "database: UNCERTAIN (last seen at r2)", "next: slipway db restore --backup"),
    ],
)
def test_failure_summaries_say_state_and_next_step(
    lite: ThrowawayDB, project: Project, tmp_path: Path, env: str, state: str, next_: str
) -> None:
    standard_history(project)
    if env == "prod":  # a downgrade that fails too
        r2 = project.root / "versions" / "r2.py"
        r2.write_text(
            r2.read_text().replace(
                'op.execute("UPDATE things SET name = label")', 'op.execute("SELECT * FROM nope")'
            )
        )
    project.add("r4", 'op.execute("INSERT INTO no_such_table (id) VALUES (1)")')
    alembic_upgrade(lite, project.ini, "r1")
    result = human(lite, project, write_config(tmp_path), env=env)
    assert result.code == (4 if env == "test" else 6)
    assert state in result.stdout
    assert next_ in result.stdout
    assert "revision r4 failed: no such table: no_such_table" in result.stdout
