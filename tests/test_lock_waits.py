"""slipway's own statements never wait for ever: a table locked by another session while
preflight reads the schema, or while a restore wants to swap the database, ends in a
documented outcome within the bound, with the database as it was."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest
from conftest import (
    Project,
    Release,
    ThrowawayDB,
    alembic_upgrade,
    held,
    standard_history,
    write_config,
)

LOCKS = {
    "postgresql": ("LOCK TABLE things IN ACCESS EXCLUSIVE MODE",),
    "mariadb": ("LOCK TABLES things WRITE",),
}


@pytest.mark.parametrize("db", ["postgresql", "mariadb"], indirect=True)
def test_a_table_locked_during_preflight_ends_refused_naming_the_wait(
    db: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    standard_history(project)
    alembic_upgrade(db, project.ini, "r1")
    before = (db.revision(), db.contents(), db.schema())
    release = Release(db, project.ini, write_config(tmp_path))

    with held(db, *LOCKS[db.kind]):
        result = release("release")

    assert result.code == 3, result.stderr
    assert result.report["outcome"] == "refused"
    error = result.report["error"]
    assert error["check"] in ("lock_wait", "backup"), error
    # The dump ("waited more than 15 s") or the schema read under the release lock ("held
    # by another session for more than 15 s"): whichever gives up first names the wait.
    assert "lock" in error["message"] and re.search(r"more than \d+ s", error["message"]), error
    assert "Traceback" not in result.stderr
    assert (db.revision(), db.contents(), db.schema()) == before


READS = {
    "postgresql": ("SELECT count(*) FROM things",),
    "mariadb": ("SELECT count(*) FROM things",),
}


def app_query_latency(db: ThrowawayDB, stop: threading.Event, worst: list[float]) -> None:
    """The application: a new query on ``things`` every 0.1 s; the longest wait kept."""
    engine = db.engine()
    while not stop.wait(0.1):
        started = time.monotonic()
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT count(*) FROM things").scalar()
        worst[0] = max(worst[0], time.monotonic() - started)


@pytest.mark.parametrize("db", ["postgresql", "mariadb"], indirect=True)
def test_a_restore_behind_the_applications_locks_gives_up_in_time_and_changes_nothing(
    db: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    standard_history(project)
    alembic_upgrade(db, project.ini, "r1")
    release = Release(db, project.ini, write_config(tmp_path, {"lock_timeouts_s": [1]}))
    released = release("release")
    assert released.code == 0, released.stderr
    backup = released.report["backup"]["path"]
    before = (db.revision(), db.contents(), db.schema())

    stop, worst = threading.Event(), [0.0]
    app = threading.Thread(target=app_query_latency, args=(db, stop, worst), daemon=True)
    with held(db, *READS[db.kind]):
        app.start()
        try:
            result = release("restore", "--backup", backup, "--yes")
        finally:
            stop.set()
            app.join()

    assert result.code == 3, result.stderr
    assert result.report["outcome"] == "refused"
    error = result.report["error"]
    assert error["check"] == "lock_wait", error
    assert "the database is as it was" in error["message"], error
    assert "Traceback" not in result.stderr
    assert (db.revision(), db.contents(), db.schema()) == before
    # Behind the restore's waiting DROP or RENAME, the application waited about one
    # lock timeout (1 s), not as long as the holder kept its transaction open.
    assert worst[0] < 8, worst

    again = release("restore", "--backup", backup, "--yes")
    assert again.code == 0, again.stderr
    assert db.revision() == "r1"
