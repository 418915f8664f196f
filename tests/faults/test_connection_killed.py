"""The migration's database connection is killed mid-revision (pg_terminate_backend, as
an operator or a failover would): the run rolls back on a new connection and ends
rolled_back (exit 4), the database where it began, rows included."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from conftest import (
    PG_ADMIN,
    Project,
    Release,
    ThrowawayDB,
    alembic_upgrade,
    things_table,
    wait_for_log,
)
from sqlalchemy import create_engine, text


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_connection_killed_mid_revision_rolls_back(
    db: ThrowawayDB, project: Project, release: Release, tmp_path: Path
) -> None:
    things_table(project, 5)
    project.add(
        "r2",
        'op.add_column("things", sa.Column("label", sa.String(80)))',
        'op.drop_column("things", "label")',
    )
    project.add(
        "r3", 'op.execute("UPDATE things SET name = \'x\'")\nop.execute("SELECT pg_sleep(30)")'
    )
    alembic_upgrade(db, project.ini, "r1")
    rows, schema = db.contents(), db.schema()

    proc = release.start()
    wait_for_log(tmp_path / "artifacts", "applying r3")
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    killed = 0
    deadline = time.monotonic() + 30
    with admin.connect() as conn:
        while not killed:
            assert time.monotonic() < deadline, "the migration's query never showed"
            killed = len(
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :db AND query LIKE 'SELECT pg_sleep%'"
                    ),
                    {"db": db.url.database},
                ).all()
            )
            time.sleep(0.05)
    admin.dispose()
    out, err = proc.communicate(timeout=120)

    assert proc.returncode == 4, err
    assert json.loads(out)["outcome"] == "rolled_back"
    assert db.revision() == "r1"
    assert db.contents() == rows and db.schema() == schema
