"""Key counters behind the data: after a bulk import with explicit ids, `slipway db
sequences` names the counters whose next value is taken, `--repair` sets them past the
maximum (with a history row), and the next insert without an id succeeds. A pending
release that inserts into such a table is warned about in preflight."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import Project, Release, ThrowawayDB, write_config

# The import a team runs beside its migrations: rows copied with their ids.
IMPORT = "INSERT INTO {table} (id, name) VALUES " + ", ".join(
    f"({i}, 'row {i}')" for i in range(1, 301)
)


def tables(project: Project, kind: str) -> list[str]:
    """r1: ``orders`` (serial / AUTO_INCREMENT / rowid); on PostgreSQL ``tickets`` with an
    identity, on MariaDB ``tickets`` whose default is the next value of a sequence."""
    up = [
        'op.create_table("orders", sa.Column("id", sa.Integer, primary_key=True),'
        ' sa.Column("name", sa.String(40)))'
    ]
    if kind == "postgresql":
        up.append(
            'op.create_table("tickets", sa.Column("id", sa.Integer, sa.Identity(),'
            ' primary_key=True), sa.Column("name", sa.String(40)))'
        )
    if kind == "mariadb":
        up.append('op.execute("CREATE SEQUENCE ticket_ids")')
        up.append(
            'op.execute("CREATE TABLE tickets (id INT PRIMARY KEY DEFAULT nextval(ticket_ids),'
            ' name VARCHAR(40))")'
        )
    names = ["orders", "tickets"] if kind != "sqlite" else ["orders"]
    down = [f'op.drop_table("{name}")' for name in names]
    if kind == "mariadb":
        down.append('op.execute("DROP SEQUENCE ticket_ids")')
    project.add("r1", "\n".join(up), "\n".join(down))
    return names


def insert_without_id(db: ThrowawayDB, table: str) -> int:
    with db.engine().begin() as conn:
        conn.execute(sa.text(f"INSERT INTO {table} (name) VALUES ('new')"))
        return int(conn.execute(sa.text(f"SELECT max(id) FROM {table}")).scalar_one())


def test_counters_behind_a_bulk_import_are_reported_and_repaired(
    db: ThrowawayDB, project: Project, release: Release
) -> None:
    names = tables(project, db.kind)
    assert release().code == 0
    for table in names:
        db.execute(IMPORT.format(table=table))

    found = release("sequences")

    assert found.code == 0, found.stderr
    behind = {
        (s["table"].split(".")[-1], s["column"]): s for s in found.report["data"]["sequences"]
    }
    if db.kind == "sqlite":
        # SQLite takes the next rowid from the table itself: nothing can lag.
        assert behind == {}
    elif db.kind == "postgresql":
        assert set(behind) == {("orders", "id"), ("tickets", "id")}
        assert behind["orders", "id"]["next_value"] == 1
        assert behind["orders", "id"]["max_value"] == 300
        # what the report promises: the next insert without an id fails
        with pytest.raises(sa.exc.IntegrityError, match="duplicate key"):
            insert_without_id(db, "orders")
    else:
        # InnoDB keeps AUTO_INCREMENT past every id inserted; a sequence it does not
        assert set(behind) == {("tickets", "id")}
        assert behind["tickets", "id"]["counter"] == "ticket_ids"
        with pytest.raises(sa.exc.IntegrityError, match="Duplicate entry"):
            insert_without_id(db, "tickets")
    before = db.contents()

    repaired = release("sequences", "--repair")

    assert repaired.code == 0, repaired.stderr
    assert db.contents() == before  # no row changed: only the counters
    if db.kind == "sqlite":
        assert repaired.report["outcome"] == "noop"
    else:
        assert repaired.report["outcome"] == "applied"
        assert {r["table"].split(".")[-1] for r in repaired.report["data"]["repaired"]} == {
            t for t, _ in behind
        }
        with db.engine().connect() as conn:
            row = conn.execute(
                sa.text("SELECT command, outcome FROM slipway_history WHERE run_id = :r"),
                {"r": repaired.report["run_id"]},
            ).one()
        assert tuple(row) == ("sequences-repair", "applied")
    for table in names:
        assert insert_without_id(db, table) == 301
    assert release("sequences").report["data"]["sequences"] == []
    assert release("sequences", "--repair").report["outcome"] == "noop"
    assert db.revision() == "r1"


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_preflight_warns_when_a_pending_revision_inserts_into_a_table_behind(
    db: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    """At the defaults (lint on): the lint's rendering of the pending revisions says
    which tables they insert into; a counter behind on another table is not named."""
    release = Release(db, project.ini, write_config(tmp_path, {"lint_fail_on": "error"}))
    tables(project, db.kind)
    first = release()
    assert first.code == 0, first.stderr
    db.execute(IMPORT.format(table="orders"), IMPORT.format(table="tickets"))
    project.add(
        "r2",
        "op.execute(\"INSERT INTO orders (name) VALUES ('seeded')\")",
        "op.execute(\"DELETE FROM orders WHERE name = 'seeded'\")",
    )

    checked = release("preflight")

    assert checked.code == 0, checked.stderr
    (warned,) = checked.report["data"]["sequences_behind"]
    assert warned["table"] == "public.orders" and warned["max_value"] == 300
    (step,) = [s for s in checked.report["steps"] if s["name"] == "preflight"]
    assert "public.orders.id" in step["detail"] and "pending revision inserts" in step["detail"]
    # the command that repairs it is in the run's log (stderr stays quiet: exit 0)
    log = (Path(checked.report["artifacts_dir"]) / "run.log").read_text()
    assert "public.orders.id" in log and "db sequences --repair" in log
    assert checked.stderr == ""
    assert db.revision() == "r1"
