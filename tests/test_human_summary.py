"""The summary a person reads says what happened, where the backup, SQL and log are, the
state of the database, and what to run next."""

from __future__ import annotations

import shlex
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
    ("env", "state", "last"),
    [
        ("test", "database: rolled back to r1, verified", "slipway db release --env test"),
        ("prod", "database: UNCERTAIN (last seen at r2)", "slipway db restore --backup"),
    ],
)
def test_a_failure_is_told_in_ten_lines_ending_in_the_command(
    lite: ThrowawayDB, project: Project, tmp_path: Path, env: str, state: str, last: str
) -> None:
    """What failed (revision, file and line, the database's words), where the database
    is, the backup, the evidence; the last line a command that runs verbatim."""
    standard_history(project)
    if env == "prod":  # a downgrade that fails too
        r2 = project.root / "versions" / "r2.py"
        r2.write_text(
            r2.read_text().replace(
                'op.execute("UPDATE things SET name = label")', 'op.execute("SELECT * FROM nope")'
            )
        )
    r4 = project.add("r4", 'op.execute("INSERT INTO no_such_table (id) VALUES (1)")')
    alembic_upgrade(lite, project.ini, "r1")
    rows = lite.contents()
    result = human(lite, project, write_config(tmp_path), env=env)

    assert result.code == (4 if env == "test" else 6)
    out = result.stdout.splitlines()
    assert len(out) + len(result.stderr.splitlines()) <= 10, result.stdout + result.stderr
    line = next(n for n, text in enumerate(r4.read_text().splitlines(), 1) if "INSERT" in text)
    told = f"failed: revision r4 (versions/r4.py:{line}): no such table: no_such_table"
    assert any(text.startswith(told) for text in out), out
    assert state in out
    assert any(text.startswith("backup: ") for text in out)
    assert out[-1].startswith(last), out[-1]
    assert "\x1b[" not in result.stdout

    command = shlex.split(out[-1])
    assert command[0] == "slipway"
    then = slipway(*command[1:], env={"TEST_DB_URL": lite.url_str})
    if env == "prod":  # the restore runs verbatim and puts the database back
        assert then.code == 0, then.stderr
        assert lite.revision() == "r1" and lite.contents() == rows
    else:  # the release command runs; the revision still fails until fixed
        assert then.code == 4, then.stderr
