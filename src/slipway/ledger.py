"""slipway's own tables in the target database: run history and revision checksums.

``slipway_history`` holds one row per run; a row whose outcome is ``running`` is the
run's claim on the database, closed when the run ends. A run whose steps are separate
processes (Ansible tasks) holds its claim by a lease that each step renews.
``slipway_checksum`` holds the sha256 of each revision file as it was when applied.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
    insert,
    inspect,
    null,
    select,
    text,
    update,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import CreateTable
from sqlalchemy.types import TypeDecorator, TypeEngine

from slipway.outcomes import Outcome

metadata = MetaData()


class LongText(TypeDecorator[str]):
    """Text of any length: LONGTEXT on MySQL and MariaDB (whose TEXT holds 64 KiB),
    TEXT elsewhere. The MySQL dialect is loaded only where it is the database's."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        from slipway.dialects import dialect_named  # the dialects keep their runs here

        return dialect_named(dialect.name).long_text()


history = Table(
    "slipway_history",
    metadata,
    Column("run_id", String(40), primary_key=True),
    Column("env", String(40), nullable=False),
    Column("command", String(20), nullable=False),
    Column("who", String(200), nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    Column("from_revision", String(64)),
    Column("to_revision", String(64)),
    Column("outcome", String(20), nullable=False),
    Column("duration_s", Float),
    Column("upgrade_sql_sha256", String(64)),
    Column("downgrade_sql_sha256", String(64)),
    Column("backup_path", String(1024)),
    Column("backup_sha256", String(64)),
    Column("backup_bytes", BigInteger),
    Column("detail", Text),
    # Set only for runs whose steps are separate processes: alive while in the future.
    Column("lease_until", DateTime),
    # Which process the pid meant: the boot id and the process's start time, so that a
    # pid used again by another process (or after a reboot) is not taken for the run.
    Column("process", String(80)),
    # The schema's fingerprint when the run began: a run killed mid-way is judged by it.
    Column("start_fingerprint", String(64)),
    # ... and when its verify step found every revision applied: a run killed after it
    # left the database at its target revision with this schema, a known state.
    Column("end_fingerprint", String(64)),
    # The schema itself there (schema.describe, compressed): drift is named against it.
    Column("end_schema", LongText()),
    # The digest of the server's catalog there (schema.catalog): while the catalog's
    # digest is the same, end_schema is the schema, without reading it again.
    Column("end_catalog", String(64)),
    # The restore point the run's backup step created (backup: restore_point): NAME@LSN.
    Column("restore_point", String(200)),
    # The revision whose upgrade failed, when the run failed in one.
    Column("failed_revision", String(64)),
    # The application release the run shipped, when its caller named one (--release).
    Column("app_release", String(120)),
    # Which revisions a release took: pre (before the hosts switch), post, or all.
    Column("phase", String(10)),
    # The server sessions the run's revisions ran in (PostgreSQL backend pids, MariaDB
    # connection ids, comma-separated): a killed run's are ended by whoever comes next.
    Column("sessions", Text),
)

checksums = Table(
    "slipway_checksum",
    metadata,
    Column("revision", String(64), primary_key=True),
    Column("path", String(1024), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("recorded_at", DateTime, nullable=False),
    Column("run_id", String(40), nullable=False),
    Column("how", String(20), nullable=False),
    # How long its upgrade took (none for a baseline of what slipway did not apply).
    Column("duration_s", Float),
    # sha256 of the file's bytes as it was: while they are the same, the checksum of its
    # code is known without parsing it again.
    Column("file_sha256", String(64)),
)


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)


@dataclass(frozen=True)
class Claim:
    run_id: str
    env: str
    command: str
    who: str
    host: str
    pid: int
    started_at: dt.datetime
    from_revision: str | None
    lease_until: dt.datetime | None = None
    process: str | None = None
    app_release: str | None = None
    sessions: str | None = None


def exists(conn: Connection) -> bool:
    names = set(inspect(conn).get_table_names())
    return all(t.name in names for t in metadata.sorted_tables)


def _columns(conn: Connection, table: Table) -> set[str]:
    """The names of the columns ``table`` has in this database (it exists): one query
    that reads no row, cheaper than the catalog's reflection."""
    return set(conn.execute(select(text("*")).select_from(table).where(false())).keys())


def ensure(conn: Connection) -> None:
    """Create the tables, or add the columns that later versions of slipway introduced."""
    metadata.create_all(conn, checkfirst=True)
    for table in (history, checksums):
        have = _columns(conn, table)
        for column in table.columns:
            if column.name not in have and column.nullable:
                kind = column.type.compile(dialect=conn.dialect)
                conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}"))


def is_current(conn: Connection) -> bool:
    """Every table and column of the ledger is there: :func:`ensure` would change nothing."""
    if not exists(conn):
        return False
    for table in (history, checksums):
        have = _columns(conn, table)
        if any(c.name not in have for c in table.columns):
            return False
    return True


def _present(conn: Connection, table: Table) -> list[Column[Any]]:
    """The columns of ``table`` this database has: one written by an older slipway lacks
    the newer ones until its next run adds them (:func:`ensure`); reading must not."""
    have = _columns(conn, table)
    return [c for c in table.columns if c.name in have]


def open_claims(conn: Connection) -> list[Claim]:
    if not exists(conn):
        return []
    rows = conn.execute(
        select(*_present(conn, history))
        .where(history.c.outcome == Outcome.RUNNING.value)
        .order_by(history.c.started_at)
    ).mappings()
    return [
        Claim(
            run_id=r["run_id"],
            env=r["env"],
            command=r["command"],
            who=r["who"],
            host=r["host"],
            pid=r["pid"],
            started_at=r["started_at"],
            from_revision=r["from_revision"],
            lease_until=r.get("lease_until"),
            process=r.get("process"),
            sessions=r.get("sessions"),
        )
        for r in rows
    ]


def open_claim(conn: Connection, claim: Claim, to_revision: str | None) -> None:
    conn.execute(
        insert(history).values(
            run_id=claim.run_id,
            env=claim.env,
            command=claim.command,
            who=claim.who,
            host=claim.host,
            pid=claim.pid,
            started_at=claim.started_at,
            from_revision=claim.from_revision,
            to_revision=to_revision,
            outcome=Outcome.RUNNING.value,
            lease_until=claim.lease_until,
            process=claim.process,
            app_release=claim.app_release,
        )
    )


def update_claim(conn: Connection, run_id: str, **fields: Any) -> None:
    """Record what a step of a still-running run produced, and renew its lease."""
    conn.execute(
        update(history)
        .where(history.c.run_id == run_id, history.c.outcome == Outcome.RUNNING.value)
        .values(**fields)
    )


def close_claim(conn: Connection, run_id: str, outcome: Outcome, **fields: Any) -> None:
    conn.execute(
        update(history)
        .where(history.c.run_id == run_id)
        .values(outcome=outcome.value, finished_at=now(), lease_until=None, **fields)
    )


def runs(conn: Connection, limit: int = 20, *, failed: bool = False) -> list[dict[str, Any]]:
    """The newest ``limit`` runs; with ``failed``, only those that did not succeed."""
    if not exists(conn):
        return []
    query = select(*_present(conn, history))
    if failed:
        ok = (Outcome.APPLIED.value, Outcome.NOOP.value, Outcome.RUNNING.value)
        query = query.where(history.c.outcome.not_in(ok))
    rows = conn.execute(
        query.order_by(history.c.started_at.desc(), history.c.run_id.desc()).limit(limit)
    ).mappings()
    return [dict(r) for r in rows]


def run(conn: Connection, run_id: str) -> dict[str, Any] | None:
    if not exists(conn):
        return None
    row = (
        conn.execute(select(*_present(conn, history)).where(history.c.run_id == run_id))
        .mappings()
        .first()
    )
    return dict(row) if row else None


def last_end(conn: Connection) -> dict[str, Any] | None:
    """The newest run that recorded the schema it ended at (its verify step, a rollback,
    an adoption): run_id, to_revision, end_fingerprint, end_schema, end_catalog (None
    where an earlier slipway did not record it)."""
    if not exists(conn):
        return None
    have = {c.name for c in _present(conn, history)}
    if "end_schema" not in have:
        return None
    row = (
        conn.execute(
            select(
                history.c.run_id,
                history.c.to_revision,
                history.c.end_fingerprint,
                history.c.end_schema,
                history.c.end_catalog if "end_catalog" in have else null().label("end_catalog"),
            )
            .where(history.c.end_fingerprint.is_not(None))
            .order_by(history.c.started_at.desc(), history.c.run_id.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def last_run(conn: Connection, commands: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """The newest run that has ended (of one of ``commands``, if given)."""
    if not exists(conn):
        return None
    query = select(*_present(conn, history)).where(history.c.outcome != Outcome.RUNNING.value)
    if commands:
        query = query.where(history.c.command.in_(commands))
    row = (
        conn.execute(query.order_by(history.c.started_at.desc(), history.c.run_id.desc()).limit(1))
        .mappings()
        .first()
    )
    return dict(row) if row else None


def last_release(conn: Connection) -> str | None:
    """The application release of the newest run that applied one (None if none said)."""
    if not exists(conn) or "app_release" not in {c.name for c in _present(conn, history)}:
        return None
    return conn.execute(
        select(history.c.app_release)
        .where(history.c.app_release.is_not(None), history.c.outcome == Outcome.APPLIED.value)
        .order_by(history.c.started_at.desc(), history.c.run_id.desc())
        .limit(1)
    ).scalar()


def all_runs(conn: Connection) -> list[dict[str, Any]]:
    if not exists(conn):
        return []
    return [dict(r) for r in conn.execute(select(*_present(conn, history))).mappings()]


def set_outcome(conn: Connection, run_id: str, outcome: Outcome, detail: str) -> None:
    conn.execute(
        update(history)
        .where(history.c.run_id == run_id)
        .values(outcome=outcome.value, detail=detail)
    )


class Recorded(NamedTuple):
    sha256: str
    path: str
    file_sha256: str | None


def recorded_checksums(conn: Connection) -> dict[str, Recorded]:
    """revision -> (sha256, path, file_sha256) as recorded when it was applied (no
    file_sha256 where an older slipway recorded it)."""
    if not exists(conn):
        return {}
    present = {c.name for c in _present(conn, checksums)}
    cols = [checksums.c.revision, checksums.c.sha256, checksums.c.path]
    if "file_sha256" in present:
        cols.append(checksums.c.file_sha256)
    rows = conn.execute(select(*cols))
    return {r.revision: Recorded(r.sha256, r.path, getattr(r, "file_sha256", None)) for r in rows}


@dataclass(frozen=True)
class Checksum:
    """One revision's recorded checksum: what :func:`record_checksums` writes."""

    revision: str
    path: str
    sha256: str
    how: str
    duration_s: float | None = None
    file_sha256: str | None = None


def record_checksums(conn: Connection, run_id: str, rows: Sequence[Checksum]) -> None:
    """Record (or replace) the checksums of ``rows``: one delete, one insert of them all."""
    if not rows:
        return
    conn.execute(checksums.delete().where(checksums.c.revision.in_([r.revision for r in rows])))
    at = now()
    conn.execute(
        insert(checksums),
        [
            {
                "revision": r.revision,
                "path": r.path,
                "sha256": r.sha256,
                "recorded_at": at,
                "run_id": run_id,
                "how": r.how,
                "duration_s": r.duration_s,
                "file_sha256": r.file_sha256,
            }
            for r in rows
        ],
    )


def record_checksum(
    conn: Connection,
    revision: str,
    path: str,
    sha256: str,
    run_id: str,
    how: str,
    duration_s: float | None = None,
    file_sha256: str | None = None,
) -> None:
    record_checksums(conn, run_id, [Checksum(revision, path, sha256, how, duration_s, file_sha256)])


def applied_revisions(conn: Connection) -> dict[str, dict[str, Any]]:
    """revision -> what the ledger knows of it: sha256, path, recorded_at, run_id, how,
    duration_s, and who ran that run (if its history row is kept)."""
    if not exists(conn):
        return {}
    rows = conn.execute(
        select(*_present(conn, checksums), history.c.who).select_from(
            checksums.outerjoin(history, history.c.run_id == checksums.c.run_id)
        )
    ).mappings()
    return {r["revision"]: dict(r) for r in rows}


def forget_checksum(conn: Connection, revision: str) -> None:
    conn.execute(checksums.delete().where(checksums.c.revision == revision))


@dataclass(frozen=True)
class Kept:
    """The run history as it is now, carried into a restored database inside the
    restore's own transaction or swap: a restore brings back the backup's rows and
    revisions, never its older history (the restore's own claim included)."""

    rows: tuple[dict[str, Any], ...]

    def apply(self, conn: Connection) -> None:
        """Write the history into the restored database on ``conn`` (in its transaction)."""
        ensure(conn)
        conn.execute(history.delete())
        for row in self.rows:
            conn.execute(insert(history).values(**row))

    def sql(self, dialect: Dialect) -> str:
        """The same as SQL text for a client tool's script (PostgreSQL's psql)."""
        out = [
            str(CreateTable(t, if_not_exists=True).compile(dialect=dialect))
            for t in (
                history,
                checksums,
            )
        ]
        for table in (history, checksums):
            for column in table.columns:
                if column.nullable:
                    kind = column.type.compile(dialect=dialect)
                    out.append(
                        f"ALTER TABLE {table.name} ADD COLUMN IF NOT EXISTS {column.name} {kind}"
                    )
        out.append(str(history.delete().compile(dialect=dialect)))
        for row in self.rows:
            stmt = insert(history).values(**row)
            out.append(str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True})))
        return "".join(f"{s.strip()};\n" for s in out)


def kept(conn: Connection) -> Kept:
    return Kept(tuple(all_runs(conn)))
