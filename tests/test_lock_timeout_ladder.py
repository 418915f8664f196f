"""On PostgreSQL a revision waits for its locks at most lock_timeout, retries with longer
timeouts, and gives up into rollback, so it never blocks traffic for longer."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from pathlib import Path

from conftest import (
    Project,
    Release,
    ThrowawayDB,
    alembic_upgrade,
    held,
    wait_for_log,
    write_config,
)


def history(project: Project) -> None:
    project.add(
        "r1",
        """
        t = op.create_table("things", sa.Column("id", sa.Integer, primary_key=True))
        op.bulk_insert(t, [{"id": 1}, {"id": 2}])
    """,
        'op.drop_table("things")',
    )
    project.add(
        "r2",
        'op.create_table("other", sa.Column("id", sa.Integer, primary_key=True))',
        'op.drop_table("other")',
    )
    project.add(
        "r3", 'op.add_column("things", sa.Column("x", sa.Integer))', 'op.drop_column("things", "x")'
    )


def table_locked(db: ThrowawayDB) -> contextlib.AbstractContextManager[threading.Event]:
    """Another session writes to ``things`` in a long transaction (ROW EXCLUSIVE): reads
    and pg_dump go on, ALTER TABLE must wait. Set the event to end that transaction."""
    return held(db, "LOCK TABLE things IN ROW EXCLUSIVE MODE", wait_s=120)


def test_revision_retries_until_the_lock_is_free(
    pg: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    history(project)
    alembic_upgrade(pg, project.ini, "r1")
    config = write_config(tmp_path, {"lock_timeouts_s": [0.3, 0.3, 60], "lock_retry_pause_s": 0.1})
    release = Release(pg, project.ini, config)

    with table_locked(pg) as unlock:
        proc = release.start()
        wait_for_log(tmp_path / "artifacts", "r3 waited longer than 0.3s for a lock; retrying")
        unlock.set()
        out, err = proc.communicate(timeout=120)

    assert proc.returncode == 0, err
    report = json.loads(out)
    apply = next(s for s in report["steps"] if s["name"] == "apply")
    assert "lock retries" in apply["detail"]
    assert pg.revision() == "r3"


def test_revision_that_never_gets_its_lock_gives_up_into_rollback(
    pg: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    history(project)
    alembic_upgrade(pg, project.ini, "r1")
    config = write_config(tmp_path, {"lock_timeouts_s": [0.2, 0.4], "lock_retry_pause_s": 0.1})
    release = Release(pg, project.ini, config)
    rows_before = pg.contents()

    with table_locked(pg):
        holder = pg.scalar(
            "SELECT pid FROM pg_stat_activity WHERE query LIKE 'LOCK TABLE things%%' "
            "AND state = 'idle in transaction' AND datname = current_database()"
        )
        result = release()

    assert result.code == 4, result.stderr
    assert result.report["outcome"] == "rolled_back"
    message = result.report["error"]["message"]
    assert "no lock within 0.4s after 2 tries" in message
    # The session that held the lock is named: its pid, state and query.
    assert f"held by pid {holder} (idle in transaction" in message, message
    assert "LOCK TABLE things IN ROW EXCLUSIVE MODE" in message
    waits = result.report["data"]["lock_waits"]
    assert [w["revision"] for w in waits] == ["r3", "r3"]
    assert any(b["pid"] == holder for w in waits for b in w["blockers"])
    assert pg.revision() == "r1"
    assert "other" not in pg.tables()
    assert pg.contents() == rows_before


def test_old_blockers_are_ended_only_when_asked_and_it_is_recorded(
    pg: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    """terminate_blockers_after_s (off by default): the session whose transaction has
    held the lock longer than that is ended, the revision goes through, and the run's
    history says whom it ended."""
    import sqlalchemy as sa

    history(project)
    alembic_upgrade(pg, project.ini, "r1")
    settings = {
        "lock_timeouts_s": [0.5, 0.5, 0.5],
        "lock_retry_pause_s": 0.1,
        "terminate_blockers_after_s": 0.2,
    }
    release = Release(pg, project.ini, write_config(tmp_path, settings))
    ended = threading.Event()

    def hold() -> None:
        try:
            with pg.engine().connect() as conn:
                conn.exec_driver_sql("BEGIN")
                conn.exec_driver_sql("LOCK TABLE things IN ROW EXCLUSIVE MODE")
                ready.set()
                conn.exec_driver_sql("SELECT pg_sleep(60)")  # ends when terminated
        except sa.exc.DBAPIError:
            ended.set()

    ready = threading.Event()
    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert ready.wait(10)
    result = release()
    thread.join(30)

    assert result.code == 0, result.stderr
    assert pg.revision() == "r3"
    assert ended.is_set(), "the blocking session was ended"
    (gone,) = result.report["data"]["terminated_blockers"]
    assert gone["revision"] == "r3" and "pg_sleep" in gone["query"]
    detail = pg.scalar(
        f"SELECT detail FROM slipway_history WHERE run_id = '{result.report['run_id']}'"
    )
    assert f"ended blocking session pid {gone['pid']}" in detail


def test_short_tries_go_on_within_the_retry_window_until_the_lock_is_free(
    pg: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    """Each try blocks traffic at most its short lock_timeout; tries go on (growing,
    jittered pauses) within lock_retry_window_s, and the release applies once the long
    transaction ends, instead of rolling back as a ladder alone would."""
    history(project)
    alembic_upgrade(pg, project.ini, "r1")
    settings = {"lock_timeouts_s": [0.3], "lock_retry_pause_s": 0.1, "lock_retry_window_s": 60}
    release = Release(pg, project.ini, write_config(tmp_path, settings))

    with table_locked(pg) as unlock:
        proc = release.start()
        wait_for_log(tmp_path / "artifacts", "r3 waited longer than 0.3s for a lock; retrying")
        time.sleep(2.0)  # several more short tries while the transaction stays open
        unlock.set()
        out, err = proc.communicate(timeout=120)

    assert proc.returncode == 0, err
    report = json.loads(out)
    waits = report["data"]["lock_waits"]
    assert len(waits) >= 3, waits
    assert {w["lock_timeout_s"] for w in waits} == {0.3}
    assert pg.revision() == "r3"
