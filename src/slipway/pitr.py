"""Restore points: the backup method that costs about a second at any database size.

Before anything changes, the release marks the point the server can be brought back to:
on PostgreSQL a named restore point whose WAL segment a point-in-time recovery tool
(pgBackRest) has archived; on MariaDB/MySQL the binary log position, from which a
physical base backup plus the binary logs replay up to it. Recovery rewinds the whole
server (every database on it, every write after the point), so slipway never runs it by
itself: a release whose rollback fails ends ``needs_attention`` with the recovery
command, complete, as the next command.

Each server family is one :class:`Recovery`, which its dialect names.
"""

from __future__ import annotations

import logging
import re
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from slipway import ledger
from slipway.errors import BadInput, Refused, first_line

if TYPE_CHECKING:
    from slipway.config import Options
    from slipway.run import Run

log = logging.getLogger(__name__)

# How long the printed recovery waits for the server to reach the point and take writes.
RECOVERY_WAIT_S = 3600


def point_name(run_id: str) -> str:
    return f"slipway-{run_id}"


class Recovery:
    """How one family of servers is brought back to a point in time."""

    # What the method needs, for the bad-input line of another family's database.
    needs = ""
    # The hint when the release's user may not create the point.
    grant_hint = ""
    # The setting the family's recovery cannot do without, and what it names.
    family = ""
    required = ""
    required_is = ""

    def settings_problem(self, options: Options) -> str | None:
        """What the environment's settings lack for this family's recovery."""
        if getattr(options, self.required) is None:
            return (
                f"backup: restore_point on {self.family} needs {self.required} ({self.required_is})"
            )
        return None

    def check(self, run: Run, conn: Connection) -> str:
        """Refuse unless a point taken now could be recovered; say how it stands."""
        raise NotImplementedError

    def create(self, run: Run, conn: Connection, name: str) -> tuple[str, dict[str, Any]]:
        """Mark the point ``name``: (where it is, recorded in the ledger as NAME@WHERE;
        what the report says of it)."""
        raise NotImplementedError

    def command(self, run: Run, name: str, at: str) -> str:
        """The recovery to the point ``name`` at ``at``, as one shell command."""
        raise NotImplementedError


def _commands(options: Options, stop: str, start: str, **where: str) -> tuple[str, str]:
    """The environment's stop and start commands (else the family's), placeholders
    filled in."""
    chosen = (options.pitr_stop_command or stop, options.pitr_start_command or start)
    filled = []
    for command in chosen:
        for key, value in where.items():
            command = command.replace("{" + key + "}", value)
        filled.append(command)
    return filled[0], filled[1]


def _wait(until: str) -> str:
    return f"timeout {RECOVERY_WAIT_S} sh -c {shlex.quote(f'until {until}; do sleep 1; done')}"


@dataclass(frozen=True)
class ArchiveState:
    """The server's WAL archiving as pg_stat_archiver and the settings show it."""

    mode: str | None  # None: this user may not read it
    command: str | None
    last_archived_wal: str | None
    last_archived_age_s: float | None
    last_failed_wal: str | None
    failed_after_archived: bool
    current_wal: str
    segments_waiting: int | None  # completed segments not archived yet; None: unknown


class WalArchive(Recovery):
    """PostgreSQL whose WAL pgBackRest archives: a named restore point, its WAL segment
    ended and archived; recovered by pgBackRest's restore to the name."""

    needs = "PostgreSQL with WAL archiving"
    grant_hint = (
        "grant the release's user EXECUTE on pg_create_restore_point(text) and "
        "pg_switch_wal(), in this database (or use backup: full)"
    )

    family = "PostgreSQL"
    required = "pgbackrest_stanza"
    required_is = "the pgBackRest stanza that archives this server's WAL"

    def state(self, conn: Connection) -> ArchiveState:
        row = conn.execute(
            text(
                # pg_settings leaves out what this user may not read (archive_command,
                # without pg_read_all_settings): unknown, not an error.
                "SELECT (SELECT setting FROM pg_settings WHERE name = 'archive_mode'), "
                "(SELECT setting FROM pg_settings WHERE name = 'archive_command'), "
                "a.last_archived_wal, "
                "extract(epoch FROM now() - a.last_archived_time)::float8, "
                "a.last_failed_wal, "
                "coalesce(a.last_failed_time > a.last_archived_time "
                "OR (a.last_failed_time IS NOT NULL AND a.last_archived_time IS NULL), false), "
                "pg_walfile_name(pg_current_wal_lsn()), "
                "pg_size_bytes(current_setting('wal_segment_size')) "
                "FROM pg_stat_archiver a"
            )
        ).one()
        mode, command, archived, age, failed, failed_last, current, seg_bytes = row
        waiting = None
        # A backup label (SEGMENT.OFFSET.backup) names its segment; a timeline history
        # file (00000002.history) names none.
        segment = re.match(r"[0-9A-F]{24}", archived or "")
        if segment and segment.group()[:8] == current[:8]:
            per_id = 0x100000000 // int(seg_bytes)

            def number(wal: str) -> int:
                return int(wal[8:16], 16) * per_id + int(wal[16:24], 16)

            waiting = max(0, number(current) - number(segment.group()) - 1)
        return ArchiveState(
            mode=str(mode) if mode is not None else None,
            command=command,
            last_archived_wal=archived,
            last_archived_age_s=None if age is None else float(age),
            last_failed_wal=failed,
            failed_after_archived=bool(failed_last),
            current_wal=str(current),
            segments_waiting=waiting,
        )

    def check(self, run: Run, conn: Connection) -> str:
        """Refuse unless the server archives its WAL, its archiver's last attempt worked,
        and the archive is at most ``archive_max_lag_s`` behind."""
        state = self.state(conn)
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
                f"the WAL archiver's last attempt failed (WAL {state.last_failed_wal}): a "
                "restore point would not reach the archive",
                check="archive",
                hint=f"run 'pgbackrest --stanza={run.settings.options.pgbackrest_stanza} check' "
                "and fix what it reports",
            )
        if state.last_archived_wal is None:
            raise Refused(
                "the WAL archiver has archived nothing yet: the archive cannot recover a "
                "restore point",
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

    def create(self, run: Run, conn: Connection, name: str) -> tuple[str, dict[str, Any]]:
        """Create the restore point, end its WAL segment, wait until it is archived."""
        max_wait = run.settings.options.archive_max_lag_s
        began = time.monotonic()
        lsn, wal = conn.execute(
            text("SELECT p::text, pg_walfile_name(p) FROM pg_create_restore_point(:n) AS p"),
            {"n": name},
        ).one()
        conn.execute(text("SELECT pg_switch_wal()"))
        conn.commit()
        while True:
            archived = self.state(conn).last_archived_wal or ""
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
        took = time.monotonic() - began
        said = f"at {lsn}, WAL {wal} archived after {took:.2f} s"
        return str(lsn), {"lsn": lsn, "wal": wal, "archived_after_s": round(took, 3), "said": said}

    def command(self, run: Run, name: str, at: str) -> str:
        """Stop the server, let pgBackRest restore it to the point (changed files only),
        start it; the server replays the archive up to the point and opens for writes.
        Where the server does not say its data directory, the command reads it from
        ``$PGDATA``."""
        options = run.settings.options
        data = None
        try:
            with run.connect() as conn:
                data = str(conn.execute(text("SHOW data_directory")).scalar_one())
        except DBAPIError as err:  # the server may be what failed, or not a superuser's
            log.warning("the server's data directory is unknown: %s", first_line(err))
        where = shlex.quote(data) if data else '"$PGDATA"'
        config = ""
        if options.pgbackrest_config:
            config = f" --config={shlex.quote(options.pgbackrest_config)}"
        restore = (
            f"pgbackrest{config} --stanza={options.pgbackrest_stanza} --delta --type=name "
            f"--target={shlex.quote(name)} --target-action=promote "
            "--recovery-option=hot_standby=off restore"
        )
        stop, start = _commands(
            options,
            "pg_ctl stop -D {data_directory} -m fast",
            "pg_ctl start -D {data_directory} -l {data_directory}/slipway-pitr.log",
            data_directory=where,
        )
        # A server that replays reports itself started before it reaches the point; with
        # hot_standby off it reports "ready" only once it has, promoted, and takes writes
        # (pgBackRest writes the setting beside its other recovery settings in
        # postgresql.auto.conf).
        ready = _wait(f'grep -qs "^ready" {where}/postmaster.pid')
        return f"{stop} && {restore} && {start} && {ready}"


# Where a base backup's binary log position is (mariadb-backup 11 names the file anew).
BINLOG_INFO = ("mariadb_backup_binlog_info", "xtrabackup_binlog_info")


def base_position(folder: str) -> tuple[str, int] | None:
    """The binary log file and position a base backup starts from, where its folder is
    readable here."""
    for name in BINLOG_INFO:
        try:
            fields = (Path(folder) / name).read_text().split()
        except OSError:
            continue
        if len(fields) >= 2 and fields[1].isdigit():
            return fields[0], int(fields[1])
    return None


class BinaryLog(Recovery):
    """MariaDB/MySQL with binary logging: the point is a binary log position; the
    recovery restores a physical base backup (mariadb-backup, or Percona XtraBackup for
    MySQL) and replays the binary logs from the base's position up to the point."""

    needs = "MariaDB/MySQL with binary logging"
    grant_hint = (
        "grant the release's user BINLOG MONITOR (MariaDB; REPLICATION CLIENT on MySQL), "
        "or use backup: full"
    )

    family = "MariaDB/MySQL"
    required = "pitr_base_backup"
    required_is = (
        "the folder, on the database host, of a mariadb-backup or xtrabackup base backup "
        "the recovery starts from"
    )

    def _position(self, conn: Connection) -> tuple[str, int]:
        try:
            row = conn.execute(text("SHOW MASTER STATUS")).first()
        except DBAPIError:  # MySQL 8.4 has only the new name
            row = conn.execute(text("SHOW BINARY LOG STATUS")).first()
        if row is None:  # binary logging is off
            raise Refused(
                "backup: restore_point needs the server's binary log, and log_bin is off",
                check="archive",
                hint="start the server with log_bin, or use backup: full",
            )
        return str(row[0]), int(row[1])

    def check(self, run: Run, conn: Connection) -> str:
        if not conn.execute(text("SELECT @@log_bin")).scalar():
            raise Refused(
                "backup: restore_point needs the server's binary log, and log_bin is off",
                check="archive",
                hint="start the server with log_bin (keep its logs from the base backup "
                "on), or use backup: full",
            )
        try:
            file, position = self._position(conn)
            kept = [str(row[0]) for row in conn.execute(text("SHOW BINARY LOGS"))]
        except DBAPIError as err:
            raise Refused(
                f"cannot read the binary log position: {first_line(err)}",
                check="archive",
                hint=self.grant_hint,
            ) from err
        said = f"binary log on: {file} at {position}"
        folder = str(run.settings.options.pitr_base_backup)
        base = base_position(folder)
        if base is None and Path(folder).is_dir():
            raise Refused(
                f"pitr_base_backup {folder} holds no binary log position ({BINLOG_INFO[1]}): "
                "it is not a base backup of a server writing binary logs",
                check="archive",
                hint=f"take one with mariadb-backup --backup --target-dir={folder}",
            )
        if base is None:  # on the database host, not here
            return f"{said}; the base backup is not readable from here (not checked)"
        if base[0] not in kept:
            raise Refused(
                f"the base backup's binary log {base[0]} is no longer on the server (oldest "
                f"kept: {kept[0] if kept else 'none'}): a recovery could not replay from it",
                check="archive",
                hint="take a new base backup (mariadb-backup --backup --target-dir="
                f"{run.settings.options.pitr_base_backup}), or use backup: full",
            )
        return f"{said}; base backup at {base[0]}:{base[1]}, its logs kept"

    def _facts(self, conn: Connection) -> dict[str, Any]:
        datadir, basename, socket = conn.execute(
            text("SELECT @@datadir, @@log_bin_basename, @@socket")
        ).one()
        return {
            "data_directory": str(datadir).rstrip("/"),
            "log_bin_basename": str(basename),
            "socket": str(socket),
            "mariadb": bool(getattr(conn.dialect, "is_mariadb", False)),
        }

    def create(self, run: Run, conn: Connection, name: str) -> tuple[str, dict[str, Any]]:
        """Read the binary log position: every transaction committed before it is in the
        logs up to it (and the server's own settings, for the recovery command)."""
        file, position = self._position(conn)
        facts = self._facts(conn)
        said = f"at binary log {file}:{position}"
        return f"{file}:{position}", {"file": file, "position": position, **facts, "said": said}

    def command(self, run: Run, name: str, at: str) -> str:
        """Stop the server; copy out the binary logs from the base backup's position to
        the point; keep the data directory beside it (DATADIR.NAME.replaced); prepare the
        base backup and copy it back; start the server; replay the logs up to the point."""
        options = run.settings.options
        file, position = at.rsplit(":", 1)
        try:
            with run.connect() as conn:
                facts = self._facts(conn)
        except DBAPIError as err:  # the server may be what failed: what the point saw
            log.warning("the server's settings are unknown: %s", first_line(err))
            facts = dict(run.report.data.get("restore_point") or {})
        q = shlex.quote
        datadir = str(facts.get("data_directory") or "/var/lib/mysql")
        data = q(datadir)
        socket = q(facts.get("socket") or "/run/mysqld/mysqld.sock")
        logs = q(facts.get("log_bin_basename") or f"{datadir}/{file.rsplit('.', 1)[0]}")
        base = q(str(options.pitr_base_backup))
        replaced = q(f"{datadir}.{name}.replaced")
        last = int(file.rsplit(".", 1)[1])
        mariadb = facts.get("mariadb", True)
        backup, binlog, client, admin, unit = (
            ("mariadb-backup", "mariadb-binlog", "mariadb", "mariadb-admin", "mariadb")
            if mariadb
            else ("xtrabackup", "mysqlbinlog", "mysql", "mysqladmin", "mysql")
        )
        stop, start = _commands(
            options,
            f"systemctl stop {unit}",
            f"systemctl start {unit}",
            data_directory=data,
            socket=socket,
        )
        too_new = f"slipway: the base backup {options.pitr_base_backup} is newer than {name}"
        return " && ".join(
            [
                f"set -- $(cat {base}/{BINLOG_INFO[0]} 2>/dev/null || cat {base}/{BINLOG_INFO[1]})",
                'first=$(expr "${1##*.}" + 0)',
                "base_position=$2",
                f'{{ [ "$first" -le {last} ] || {{ echo {q(too_new)} >&2; false; }}; }}',
                stop,
                "work=$(mktemp -d)",
                'mkdir "$work"/logs',
                f'for n in $(seq -f %06.0f "$first" {last}); do '
                f'cp {logs}."$n" "$work"/logs/ || exit 1; done',
                f"mv {data} {replaced}",
                f"{backup} --prepare --target-dir={base}",
                f"{backup} --copy-back --target-dir={base} --datadir={data}",
                f"chown -R --reference={replaced} {data}",
                start,
                _wait(f"{admin} --socket={socket} ping >/dev/null 2>&1"),
                f'{binlog} --start-position="$base_position" --stop-position={int(position)} '
                '"$work"/logs/* > "$work"/replay.sql',
                f'{client} --socket={socket} < "$work"/replay.sql',
                'rm -rf "$work"',
            ]
        )


def check_dialect(run: Run) -> None:
    """Bad input where the database's server has no recovery to a point, or the
    environment does not say what that recovery needs."""
    options = run.settings.options
    if "restore_point" not in options.backup_methods:
        return
    recovery = run.dialect.recovery
    if recovery is None:
        raise BadInput(
            f"backup: restore_point needs {WalArchive.needs} or {BinaryLog.needs}; the "
            f"database of {run.settings.env} is {run.dialect.name}",
            hint="use backup: full for this environment",
        )
    problem = recovery.settings_problem(options)
    if problem:
        raise BadInput(problem, hint="set it in slipway.yml, or use backup: full")


def check(run: Run, conn: Connection) -> str:
    """Preflight: refuse unless a restore point taken now could be recovered."""
    assert run.dialect.recovery is not None  # check_dialect passed
    return run.dialect.recovery.check(run, conn)


def take(run: Run) -> str:
    """Create this run's restore point; recorded in the ledger and the report before
    anything changes."""
    recovery = run.dialect.recovery
    assert recovery is not None  # check_dialect passed
    name = point_name(run.run_id)
    try:
        with run.connect() as conn:
            at, data = recovery.create(run, conn, name)
    except DBAPIError as err:
        raise Refused(
            f"cannot create a restore point: {first_line(err)}",
            check="archive",
            hint=recovery.grant_hint,
        ) from err
    said = data.pop("said")
    run.record(restore_point=f"{name}@{at}")
    run.report.data["restore_point"] = {"name": name, "at": at, **data}
    log.info("restore point %s %s", name, said)
    return f"restore point {name} {said}"


def point_of(run: Run) -> tuple[str, str] | None:
    """The restore point this run created, (name, where): in its report, else (its
    backup step was another process) in its ledger row."""
    point = run.report.data.get("restore_point")
    if isinstance(point, dict) and point.get("name"):
        return str(point["name"]), str(point["at"])
    try:
        with run.connect() as conn:
            row = ledger.run(conn, run.run_id) or {}
    except DBAPIError:
        return None
    recorded = row.get("restore_point")
    if not recorded:
        return None
    name, _, at = str(recorded).partition("@")
    return name, at


def recovery_command(run: Run, name: str, at: str) -> str:
    """The point-in-time recovery to restore point ``name`` (at ``at``), one command."""
    assert run.dialect.recovery is not None  # a point was taken
    return run.dialect.recovery.command(run, name, at)
