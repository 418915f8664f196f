"""Drift: each run records the schema it ended at; a change made outside slipway (a
column or an index added by hand) is named, difference by difference, by the next
run's check: a refusal where the environment does not restore by itself, a warning
where it does; `db status` shows it; `db adopt --accept-drift` keeps the schema as it is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Project, Release, ThrowawayDB, write_config


def history(project: Project) -> None:
    project.add(
        "r1",
        """
        t = op.create_table("things", sa.Column("id", sa.Integer, primary_key=True),
                            sa.Column("name", sa.String(50), nullable=False))
        op.bulk_insert(t, [{"id": 1, "name": "one"}])
        """,
        'op.drop_table("things")',
    )
    project.add(
        "r2",
        'op.add_column("things", sa.Column("label", sa.String(80)))',
        'op.drop_column("things", "label")',
    )


@pytest.mark.parametrize("db", ["postgresql", "mariadb", "sqlite"], indirect=True)
def test_a_change_made_by_hand_is_named_and_refused_where_nothing_restores(
    db: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    history(project)
    release = Release(db, project.ini, write_config(tmp_path))
    assert release("release", env="prod").code == 0
    db.execute("ALTER TABLE things ADD COLUMN by_hand INTEGER")
    db.execute("CREATE INDEX ix_things_name ON things (name)")
    project.add(
        "r3",
        'op.create_table("later", sa.Column("id", sa.Integer, primary_key=True))',
        'op.drop_table("later")',
    )
    before = (db.revision(), db.tables(), db.contents())

    refused = release("release", env="prod")

    assert refused.code == 3, refused.stderr
    error = refused.report["error"]
    assert error["check"] == "drift"
    assert "things: column" in error["message"] and "by_hand" in error["message"]
    assert "ix_things_name" in error["message"]
    assert "adopt --accept-drift" in error["hint"]
    assert len(refused.report["data"]["drift"]["differences"]) == 2
    assert (db.revision(), db.tables(), db.contents()) == before
    assert release("preflight", env="prod").code == 3

    shown = release("status", env="prod")
    assert shown.code == 0
    assert len(shown.report["data"]["drift"]["differences"]) == 2

    # Where a failed rollback restores by itself (test): a warning, and the run goes on.
    warned = release("release", env="test")
    assert warned.code == 0, warned.stderr
    assert db.revision() == "r3"
    assert len(warned.report["data"]["drift"]["differences"]) == 2
    (lock,) = [s for s in warned.report["steps"] if s["name"] == "lock"]
    assert "warning: the schema drifted" in lock["detail"]

    # r3's release recorded the schema it ended at: no drift from there on.
    assert "drift" not in release("status", env="prod").report["data"]


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_accepting_the_schema_as_it_is_ends_the_refusal(
    db: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    history(project)
    release = Release(db, project.ini, write_config(tmp_path, {"drift": "refuse"}))
    assert release("release").code == 0
    db.execute("CREATE TABLE by_hand (id INTEGER PRIMARY KEY)")
    project.add("r3", 'op.add_column("things", sa.Column("note", sa.Text))', "pass")
    assert release("release").report["error"]["check"] == "drift"

    accepted = release("adopt", "--accept-drift")

    assert accepted.code == 0, accepted.stderr
    assert accepted.report["data"]["accepted_drift"] == ["table by_hand added outside slipway"]
    assert db.revision() == "r2" and "by_hand" in db.tables()
    assert release("release").code == 0
    assert db.revision() == "r3"


@pytest.mark.parametrize("db", ["postgresql", "mariadb", "sqlite"], indirect=True)
def test_the_schema_a_release_records_is_the_schema_read_whole(
    db: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    """A release reads again only what the catalog shows changed since its lock step:
    what it records (what the next run's drift check names differences against) is
    still the whole schema, as a full read finds it."""
    from slipway import ledger, schema

    history(project)
    project.add(
        "r3",
        """
        op.create_table("gone", sa.Column("id", sa.Integer, primary_key=True))
        op.create_table("kept", sa.Column("id", sa.Integer, primary_key=True),
                        sa.Column("code", sa.String(10)))
        """,
        'op.drop_table("kept"); op.drop_table("gone")',
    )
    release = Release(db, project.ini, write_config(tmp_path))
    first = release("release", env="prod")
    assert first.code == 0, first.stderr
    project.add(
        "r4",
        """
        op.add_column("things", sa.Column("size", sa.Integer, nullable=True))
        op.create_index("ix_things_size", "things", ["size"])
        op.drop_table("gone")
        op.create_table("parts", sa.Column("id", sa.Integer, primary_key=True),
                        sa.Column("thing_id", sa.Integer, sa.ForeignKey("things.id")))
        with op.batch_alter_table("kept") as kept:
            kept.create_unique_constraint("uq_kept_code", ["code"])
        """,
        """
        with op.batch_alter_table("kept") as kept:
            kept.drop_constraint("uq_kept_code", type_="unique")
        op.drop_table("parts")
        op.create_table("gone", sa.Column("id", sa.Integer, primary_key=True))
        op.drop_index("ix_things_size", "things")
        with op.batch_alter_table("things") as things:
            things.drop_column("size")
        """,
    )

    second = release("release", env="prod")

    assert second.code == 0, second.stderr
    with db.engine().connect() as conn:
        recorded = schema.unpack(str(ledger.last_end(conn)["end_schema"]))
        whole = schema.describe(conn)
    assert db.revision() == "r4"
    assert "parts" in recorded["tables"] and "gone" not in recorded["tables"]
    assert recorded == json.loads(json.dumps(whole, default=str))
