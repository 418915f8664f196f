"""The migration's database connection is killed mid-revision (pg_terminate_backend or
KILL, as an operator or a failover would): the run rolls back on a new connection and ends
rolled_back (exit 4), the database where it began, rows included."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from conftest import (
    MARIA_ADMIN,
    PG_ADMIN,
    Project,
    Release,
    ThrowawayDB,
    alembic_upgrade,
    things_table,
    wait_for_log,
)
from sqlalchemy import create_engine, text

SLEEP = {"postgresql": "SELECT pg_sleep(30)", "mariadb": "SELECT SLEEP(30)"}
KILL = {
    "postgresql": "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
    "WHERE datname = :db AND query LIKE 'SELECT pg_sleep%'",
    "mariadb": "SELECT id FROM information_schema.processlist "
    "WHERE db = :db AND info LIKE 'SELECT SLEEP%'",
}


@pytest.mark.parametrize("db", ["postgresql", "mariadb"], indirect=True)
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
        "r3", f'op.execute("UPDATE things SET name = \'x\'")\nop.execute("{SLEEP[db.kind]}")'
    )
    alembic_upgrade(db, project.ini, "r1")
    rows, schema = db.contents(), db.schema()

    proc = release.start()
    wait_for_log(tmp_path / "artifacts", "applying r3")
    admin_url = PG_ADMIN if db.kind == "postgresql" else MARIA_ADMIN
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    killed = 0
    deadline = time.monotonic() + 30
    with admin.connect() as conn:
        while not killed:
            assert time.monotonic() < deadline, "the migration's query never showed"
            found = conn.execute(text(KILL[db.kind]), {"db": db.url.database}).all()
            if db.kind == "mariadb":
                for (thread,) in found:
                    conn.exec_driver_sql(f"KILL {int(thread)}")
            killed = len(found)
            time.sleep(0.05)
    admin.dispose()
    out, err = proc.communicate(timeout=120)

    assert proc.returncode == 4, err
    assert json.loads(out)["outcome"] == "rolled_back"
    assert db.revision() == "r1"
    assert db.contents() == rows and db.schema() == schema
