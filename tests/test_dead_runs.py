"""A killed run's state is proven, never assumed: after a SIGKILL inside a revision whose
DDL committed (MariaDB), `rollback --to` the start, `unlock` and `release` each refuse and
name the one command that ends in a known state (the restore of the run's backup); the
server session a killed run left running is found by its claim and ended before the next
run applies."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import (
    Project,
    Release,
    ThrowawayDB,
    alembic_upgrade,
    kill_during,
    outcomes,
    write_config,
)


def history_with_ddl_then_pause(project: Project) -> None:
    project.add(
        "r1",
        """
        t = op.create_table("things", sa.Column("id", sa.Integer, primary_key=True),
                            sa.Column("name", sa.String(50), nullable=False))
        op.bulk_insert(t, [{"id": 1, "name": "one"}])
        """,
        'op.drop_table("things")',
    )
    # MariaDB commits DDL at once: a kill during the pause leaves "leftover" behind while
    # the version table still says r1.
    project.add(
        "r2",
        """
        op.create_table("leftover", sa.Column("id", sa.Integer, primary_key=True))
        if not op.get_context().as_sql:
            time.sleep(float(os.environ.get("SLOW_S", "0")))
        op.add_column("things", sa.Column("label", sa.String(80)))
        """,
        """
        op.drop_column("things", "label")
        op.drop_table("leftover")
        """,
    )


@pytest.mark.parametrize("db", ["mariadb"], indirect=True)
def test_a_schema_a_killed_run_left_changed_is_never_declared_clean(
    db: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    history_with_ddl_then_pause(project)
    alembic_upgrade(db, project.ini, "r1")
    release = Release(db, project.ini, write_config(tmp_path))
    run_id = kill_during(release, tmp_path / "artifacts", "applying r2")
    assert db.revision() == "r1" and "leftover" in db.tables()
    dirty = (db.revision(), db.tables(), db.contents())

    for command in (("rollback", "--to", "r1"), ("unlock", run_id), ("release",)):
        result = release(*command)
        assert result.code == 3, (command, result.stderr)
        assert result.report["outcome"] == "refused", command
        message = result.report["error"]["message"] + " " + result.stderr
        assert "restore --backup" in message, (command, message)
        assert (db.revision(), db.tables(), db.contents()) == dirty, command

    fix = release("release").report["error"]["hint"].removeprefix("run: ")
    args = fix.split()[2:]  # slipway db <restore ...>
    restored = release(*args[: args.index("--env")], *args[args.index("--env") + 2 :])
    assert restored.code == 0, restored.stderr
    assert db.revision() == "r1" and "leftover" not in db.tables()

    after = release("release")
    assert after.code == 0, after.stderr
    assert db.revision() == "r2"


SLEEP = {"postgresql": "pg_sleep", "mariadb": "SLEEP"}


def long_hold(kind: str) -> str:
    """A revision that takes row locks, then runs a long statement (SLOW_S seconds):
    killed during it, the server session goes on holding them."""
    return (
        "op.execute(\"UPDATE things SET name = 'held'\")\n"
        f"op.execute(f\"SELECT {SLEEP[kind]}({{float(os.environ.get('SLOW_S', '0'))}})\")"
    )


def sessions_of(db: ThrowawayDB, run_id: str) -> list[str]:
    with db.engine().connect() as conn:
        value = conn.execute(
            sa.text("SELECT sessions FROM slipway_history WHERE run_id = :r"), {"r": run_id}
        ).scalar()
    return [s for s in (value or "").split(",") if s]


def running(db: ThrowawayDB, sessions: list[str]) -> list[str]:
    with db.engine().connect() as conn:
        if db.kind == "postgresql":
            rows = conn.execute(sa.text("SELECT pid::text FROM pg_stat_activity")).scalars()
        else:
            rows = conn.execute(
                sa.text("SELECT CAST(ID AS CHAR) FROM information_schema.PROCESSLIST")
            ).scalars()
        return [s for s in rows if s in sessions]


@pytest.mark.parametrize("db", ["postgresql", "mariadb"], indirect=True)
def test_the_server_session_of_a_killed_run_is_ended_before_the_next_run_applies(
    db: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    project.add(
        "r1",
        """
        t = op.create_table("things", sa.Column("id", sa.Integer, primary_key=True),
                            sa.Column("name", sa.String(50), nullable=False))
        op.bulk_insert(t, [{"id": 1, "name": "one"}])
        """,
        'op.drop_table("things")',
    )
    project.add("r2", long_hold(db.kind), "pass")
    project.add("r3", "op.execute(\"UPDATE things SET name = 'three'\")", "pass")
    alembic_upgrade(db, project.ini, "r1")
    release = Release(db, project.ini, write_config(tmp_path, {"lock_timeouts_s": [2]}))
    run_id = kill_during(release, tmp_path / "artifacts", "applying r2")
    sessions = sessions_of(db, run_id)
    assert sessions, "the claim names the sessions its revisions ran in"

    refused = release("release")

    assert not running(db, sessions), "the dead run's session was ended"
    assert refused.code == 3, refused.stderr
    ended = {e["session"] for e in refused.report["data"].get("ended_sessions", [])}
    assert ended <= set(sessions)
    if db.kind == "mariadb":  # SLEEP() runs on after its client died: slipway ended it
        assert ended, refused.report["data"]
    # What the session held is free: the run's row lock went with it, so after the
    # unlock its command names, the next release applies everything.
    assert release("unlock", run_id).code == 0
    result = release("release")
    assert result.code == 0, result.stderr
    assert db.revision() == "r3"
    with db.engine().connect() as conn:
        assert conn.execute(sa.text("SELECT name FROM things")).scalars().all() == ["three"]


def three_revisions_the_last_one_slow(project: Project) -> None:
    project.add(
        "r1",
        'op.create_table("things", sa.Column("id", sa.Integer, primary_key=True))',
        'op.drop_table("things")',
    )
    project.add(
        "r2",
        'op.add_column("things", sa.Column("label", sa.String(80)))',
        'op.drop_column("things", "label")',
    )
    project.add(
        "r3",
        """
        op.create_table("later", sa.Column("id", sa.Integer, primary_key=True))
        if not op.get_context().as_sql:
            time.sleep(float(os.environ.get("SLOW_S", "0")))
        """,
        'op.drop_table("later")',
    )


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_unlock_never_declares_a_revision_no_record_proves(
    db: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    """Killed after r2 committed, inside r3: the database is at r2, which is neither the
    run's start nor its verified end. unlock refuses and names the restore of the run's
    backup; that restore ends where the run began."""
    three_revisions_the_last_one_slow(project)
    alembic_upgrade(db, project.ini, "r1")
    release = Release(db, project.ini, write_config(tmp_path))
    run_id = kill_during(release, tmp_path / "artifacts", "applying r3")
    assert db.revision() == "r2"
    left = (db.tables(), db.contents())

    refused = release("unlock", run_id)
    assert refused.code == 3, refused.stderr
    assert "at r2, not r1" in refused.report["error"]["message"]
    fix = refused.report["error"]["hint"].removeprefix("run: ")
    assert " restore --backup " in fix, fix
    assert (db.revision(), db.tables(), db.contents()) == ("r2", *left)
    assert outcomes(db)[run_id] == "running"

    args = fix.split()[2:]
    restored = release(*args[: args.index("--env")], *args[args.index("--env") + 2 :])
    assert restored.code == 0, restored.stderr
    assert db.revision() == "r1" and "later" not in db.tables()


def as_if_killed_after_verify(db: ThrowawayDB, run_id: str) -> None:
    """The ledger row of a run whose process died after its verify step recorded the end
    fingerprint, before it closed its claim: still running, its pid gone."""
    gone = subprocess.Popen(["true"])
    gone.wait()
    db.execute(
        "UPDATE slipway_history SET outcome = 'running', finished_at = NULL, "
        f"pid = {gone.pid} WHERE run_id = '{run_id}'"
    )


@pytest.mark.parametrize("db", ["sqlite", "postgresql"], indirect=True)
def test_a_dead_runs_end_is_proven_by_the_fingerprint_its_verify_recorded(
    db: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    three_revisions_the_last_one_slow(project)
    release = Release(db, project.ini, write_config(tmp_path))
    done = release("release")
    assert done.code == 0, done.stderr
    run_id = done.report["run_id"]
    with db.engine().connect() as conn:
        end_fp = conn.execute(
            sa.text("SELECT end_fingerprint FROM slipway_history WHERE run_id = :r"),
            {"r": run_id},
        ).scalar()
    assert end_fp and len(end_fp) == 64

    # At its end, schema as verified: a known state; the next release names unlock.
    as_if_killed_after_verify(db, run_id)
    refused = release("release")
    assert refused.code == 3, refused.stderr
    assert "as its verify step found it" in refused.report["error"]["message"]
    assert refused.report["error"]["hint"].startswith(f"run: slipway db unlock {run_id} ")

    # Changed by hand since: neither start nor end; unlock refuses, names the restore.
    db.execute("CREATE TABLE by_hand (id INTEGER PRIMARY KEY)")
    refused = release("unlock", run_id)
    assert refused.code == 3, refused.stderr
    assert "not the one the run's verify step read" in refused.report["error"]["message"]
    assert " restore --backup " in refused.report["error"]["hint"]
    assert "by_hand" in db.tables()

    db.execute("DROP TABLE by_hand")
    assert release("unlock", run_id).code == 0
    assert release("release").report["outcome"] == "noop"
    assert db.revision() == "r3"
