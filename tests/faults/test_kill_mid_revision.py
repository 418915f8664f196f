"""SIGKILL in the middle of a revision. Where DDL is transactional (PostgreSQL, SQLite)
the database is as the run found it, and the next release names `unlock`. On MariaDB
the revision's first DDL statement is committed: the next release sees that the schema
no longer matches the revision stamp (the fingerprint the run recorded when it began)
and names the one command that repairs it, the restore of that run's backup, which runs
verbatim and lets the release through afterwards."""

from __future__ import annotations

import shlex
import signal
import time
from pathlib import Path

import pytest
from conftest import Project, Release, ThrowawayDB, alembic_upgrade, slipway, wait_for_log


def half_way_history(project: Project) -> None:
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
        if not op.get_context().as_sql and os.environ.get("SLOW_S"):
            time.sleep(float(os.environ["SLOW_S"]))
        op.execute("UPDATE things SET label = name")
        """,
        'op.drop_column("things", "label")',
    )


@pytest.mark.parametrize("db", ["mariadb", "postgresql"], indirect=True)
def test_kill_mid_revision_names_the_one_command_that_repairs_it(
    db: ThrowawayDB, project: Project, release: Release, tmp_path: Path
) -> None:
    half_way_history(project)
    alembic_upgrade(db, project.ini, "r1")
    rows, schema = db.contents(), db.schema()
    victim = release.start(SLOW_S="60")
    run_id = wait_for_log(tmp_path / "artifacts", "applying r2").parent.name
    time.sleep(1.0)  # r2's ALTER has run; it waits before its UPDATE
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)

    refused = release()

    assert refused.code == 3, refused.stderr
    message = refused.report["error"]["message"]
    assert run_id in message and "ended without finishing" in message
    assert refused.stderr.strip().count("\n") == 0, "one line"
    fix = refused.stderr.strip().rsplit("run: ", 1)[1].rstrip(")")
    if db.kind == "postgresql":  # the ALTER rolled back with the killed transaction
        assert db.schema() == schema
        assert fix.startswith(f"slipway db unlock {run_id} ")
    else:
        assert "label" in str(db.schema()), "MariaDB committed the ALTER"
        assert "DDL committed part-way" in message
        assert fix.startswith("slipway db restore --backup ")

    repaired = slipway(*shlex.split(fix)[1:], "--json", env={"TEST_DB_URL": db.url_str})

    assert repaired.code == 0, repaired.stderr
    assert db.revision() == "r1"
    assert db.schema() == schema and db.contents() == rows
    after = release()
    assert after.code == 0, after.stderr
    assert db.revision() == "r2"
    assert db.scalar("SELECT label FROM things WHERE id = 2") == "two"
