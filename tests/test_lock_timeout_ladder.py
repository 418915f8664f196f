"""On PostgreSQL a revision waits for its locks at most lock_timeout, retries with longer
timeouts, and gives up into rollback, so it never blocks traffic for longer."""

from __future__ import annotations

import threading
from pathlib import Path

from conftest import Project, Release, ThrowawayDB, alembic_upgrade, write_config


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


def hold_table_lock(db: ThrowawayDB, seconds: float) -> tuple[threading.Thread, threading.Event]:
    """Another session writes to ``things`` in a long transaction (ROW EXCLUSIVE): reads and
    pg_dump go on, ALTER TABLE must wait."""
    locked = threading.Event()

    def hold() -> None:
        with db.engine().connect() as conn:
            conn.exec_driver_sql("BEGIN")
            conn.exec_driver_sql("LOCK TABLE things IN ROW EXCLUSIVE MODE")
            locked.set()
            conn.exec_driver_sql(f"SELECT pg_sleep({seconds})")
            conn.exec_driver_sql("ROLLBACK")

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert locked.wait(10)
    return thread, locked


def test_revision_retries_until_the_lock_is_free(
    pg: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    history(project)
    alembic_upgrade(pg, project.ini, "r1")
    config = write_config(tmp_path, {"lock_timeouts_s": [0.3, 0.6, 30], "lock_retry_pause_s": 0.1})
    release = Release(pg, project.ini, config)
    holder, _ = hold_table_lock(pg, 2.0)

    result = release()
    holder.join()

    assert result.code == 0, result.stderr
    apply = next(s for s in result.report["steps"] if s["name"] == "apply")
    assert "2 lock retries" in apply["detail"]
    assert pg.revision() == "r3"
    run_log = (Path(result.report["artifacts_dir"]) / "run.log").read_text()
    assert "r3 waited longer than 0.3s for a lock; retrying" in run_log


def test_revision_that_never_gets_its_lock_gives_up_into_rollback(
    pg: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    history(project)
    alembic_upgrade(pg, project.ini, "r1")
    config = write_config(tmp_path, {"lock_timeouts_s": [0.2, 0.4], "lock_retry_pause_s": 0.1})
    release = Release(pg, project.ini, config)
    rows_before = pg.contents()
    holder, _ = hold_table_lock(pg, 6.0)

    result = release()
    holder.join()

    assert result.code == 4, result.stderr
    assert result.report["outcome"] == "rolled_back"
    assert "no lock within 0.4s after 2 tries" in result.report["error"]["message"]
    assert pg.revision() == "r1"
    assert "other" not in pg.tables()
    assert pg.contents() == rows_before
