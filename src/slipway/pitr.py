"""Restore points: the backup method that costs about a second at any database size.

Before anything changes, the release creates a named restore point on a server whose WAL
a point-in-time recovery tool archives (pgBackRest), ends the WAL segment that holds it,
and waits until that segment is in the archive: from then on the cluster can be brought
back to that moment. Recovery rewinds the whole cluster (every database on it, every
write after the point), so slipway never runs it by itself: a release whose rollback
fails ends ``needs_attention`` with the recovery command, complete, as the next command.
"""

from __future__ import annotations

import logging
import shlex
import time
from typing import TYPE_CHECKING

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from slipway import ledger
from slipway.errors import BadInput, Refused

if TYPE_CHECKING:
    from slipway.run import Run

log = logging.getLogger(__name__)

# How long the printed recovery waits for the server to replay up to the point.
RECOVERY_WAIT_S = 3600


def point_name(run_id: str) -> str:
    return f"slipway-{run_id}"


def check_dialect(run: Run) -> None:
    """Bad input where the database's server keeps no WAL archive to recover from."""
    if "restore_point" in run.settings.options.backup_methods and not run.dialect.restore_points:
        raise BadInput(
            f"backup: restore_point needs PostgreSQL with WAL archiving; the database of "
            f"{run.settings.env} is {run.dialect.name}",
            hint="use backup: full for this environment",
        )


def check_archive(run: Run, conn: Connection) -> str:
    """Refuse unless the server archives its WAL, its archiver's last attempt worked,
    and the archive is at most ``archive_max_lag_s`` behind; say how it stands."""
    state = run.dialect.archive_state(conn)
    max_lag = run.settings.options.archive_max_lag_s
    if state.mode not in ("on", "always", None) or state.command == "":
        raise Refused(
            f"backup: restore_point needs WAL archiving, and archive_mode is {state.mode}"
            + ("" if state.command else " with no archive_command"),
            check="archive",
            hint="set archive_mode = on and archive_command to pgBackRest's archive-push, "
            "or use backup: full",
        )
    if state.failed_after_archived:
        raise Refused(
            f"the WAL archiver's last attempt failed (WAL {state.last_failed_wal}): a restore "
            "point would not reach the archive",
            check="archive",
            hint=f"run 'pgbackrest --stanza={run.settings.options.pgbackrest_stanza} check' "
            "and fix what it reports",
        )
    if state.last_archived_wal is None:
        raise Refused(
            "the WAL archiver has archived nothing yet: the archive cannot recover a restore point",
            check="archive",
            hint="create the stanza and take a first backup with pgBackRest",
        )
    age = state.last_archived_age_s or 0.0
    if state.segments_waiting and age > max_lag:
        raise Refused(
            f"the WAL archive is {age:.0f} s behind ({state.segments_waiting} segment(s) "
            f"waiting, last archived {state.last_archived_wal}), over archive_max_lag_s "
            f"{max_lag:g}",
            check="archive",
            hint="let the archiver catch up (see pg_stat_archiver), then release again",
        )
    waiting = state.segments_waiting
    return f"WAL archiving healthy: last archived {state.last_archived_wal}" + (
        f", {waiting} segment(s) waiting" if waiting else ", none waiting"
    )


def take(run: Run) -> str:
    """Create this run's restore point, end its WAL segment, wait until it is archived;
    recorded in the ledger and the report before anything changes."""
    name = point_name(run.run_id)
    max_wait = run.settings.options.archive_max_lag_s
    began = time.monotonic()
    try:
        with run.connect() as conn:
            lsn, wal = run.dialect.create_restore_point(conn, name)
            conn.commit()
            while True:
                archived = run.dialect.archive_state(conn).last_archived_wal or ""
                conn.rollback()  # each read its own snapshot of the archiver's counters
                if archived[:24] >= wal:
                    break
                if time.monotonic() - began > max_wait:
                    raise Refused(
                        f"the restore point's WAL {wal} was not archived within "
                        f"{max_wait:g} s (archive_max_lag_s; last archived {archived})",
                        check="archive",
                        hint="no change was made; check the archiver (pg_stat_archiver), "
                        "then release again",
                    )
                time.sleep(0.05)
    except DBAPIError as err:
        raise Refused(
            f"cannot create a restore point: {str(err.orig or err).strip().splitlines()[0]}",
            check="archive",
            hint="grant the release's user EXECUTE on pg_create_restore_point(text) and "
            "pg_switch_wal(), in this database (or use backup: full)",
        ) from err
    took = time.monotonic() - began
    run.record(restore_point=f"{name}@{lsn}")
    run.report.data["restore_point"] = {
        "name": name,
        "lsn": lsn,
        "wal": wal,
        "archived_after_s": round(took, 3),
    }
    log.info("restore point %s at %s, its WAL %s archived after %.2f s", name, lsn, wal, took)
    return f"restore point {name} at {lsn}, WAL {wal} archived after {took:.2f} s"


def point_of(run: Run) -> str | None:
    """The restore point this run created: in its report, else (its backup step was
    another process) in its ledger row."""
    point = run.report.data.get("restore_point")
    if isinstance(point, dict) and point.get("name"):
        return str(point["name"])
    try:
        with run.connect() as conn:
            row = ledger.run(conn, run.run_id) or {}
    except DBAPIError:
        return None
    recorded = row.get("restore_point")
    return str(recorded).split("@", 1)[0] if recorded else None


def recovery_command(run: Run, name: str) -> str:
    """The point-in-time recovery to restore point ``name``, as one shell command: stop
    the server, let pgBackRest restore it to the point (changed files only), start it;
    the server replays the archive up to the point and opens for writes. Where the
    server does not say its data directory, the command reads it from ``$PGDATA``."""
    options = run.settings.options
    data = None
    try:
        with run.connect() as conn:
            data = run.dialect.data_directory(conn)
    except DBAPIError as err:  # the server may be what failed
        log.warning("the server's data directory is unknown: %s", err.orig or err)
    where = shlex.quote(data) if data else '"$PGDATA"'
    config = ""
    if options.pgbackrest_config:
        config = f" --config={shlex.quote(options.pgbackrest_config)}"
    restore = (
        f"pgbackrest{config} --stanza={options.pgbackrest_stanza} --delta --type=name "
        f"--target={shlex.quote(name)} --target-action=promote "
        "--recovery-option=hot_standby=off restore"
    )
    stop = options.pitr_stop_command.replace("{data_directory}", where)
    start = options.pitr_start_command.replace("{data_directory}", where)
    # A server that replays reports itself started before it reaches the point; with
    # hot_standby off it reports "ready" only once it has, promoted, and takes writes
    # (pgBackRest writes the setting beside its other recovery settings in
    # postgresql.auto.conf).
    ready = f'until grep -qs "^ready" {where}/postmaster.pid; do sleep 1; done'
    wait = f"timeout {RECOVERY_WAIT_S} sh -c {shlex.quote(ready)}"
    return f"{stop} && {restore} && {start} && {wait}"
