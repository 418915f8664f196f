"""The steps of the guarded release, each a function over a :class:`~slipway.run.Run`.

Every step records itself in the run's report; a step that changes the database raises
:class:`~slipway.errors.StepFailed` when it fails, and the release decides what follows.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import random
import secrets
import shutil
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from slipway import ledger, lint, pitr, progress, schema, sequences, targeted
from slipway.artifacts import checksum, make_private, private_dir, remove, write_atomic
from slipway.backends import BASELINE_FILE, Revision, backend_class
from slipway.dialects import (
    Dialect,
    LockWaitTimeout,
    ToolFailed,
    ToolGroup,
    dialect_for,
    in_group,
)
from slipway.errors import (
    BadInput,
    LockHeld,
    Refused,
    SlipwayError,
    StepFailed,
    env_error,
    first_line,
)
from slipway.guard import Recording
from slipway.logs import redact
from slipway.report import FileRef, Step
from slipway.run import Run, State
from slipway.sqlrules import ServerVersion

if TYPE_CHECKING:
    from slipway.config import Options

log = logging.getLogger(__name__)


def preflight(run: Run, *, gate: bool = True, backup_early: bool = False) -> State:
    """Check everything that can be checked without changing anything. Without
    ``gate`` (commands that run no pending revision: status, rollback) no lint. With
    ``backup_early`` (a release in one process) the backup begins as soon as the
    database is known to have room for it (see :func:`begin_backup`)."""
    with run.report.step("preflight") as step:
        pitr.check_dialect(run)
        if "targeted" in run.settings.options.backup_methods and not run.dialect.targeted_backups:
            raise BadInput(
                f"backup: targeted is for PostgreSQL and MariaDB/MySQL; the database of "
                f"{run.settings.env} is {run.dialect.name}",
                hint="use backup: full for this environment (a SQLite backup is a copy of "
                "its file)",
            )
        if backup_early:
            _begin_backup_if_likely(run)
        state = run.state()
        run.report.from_revision = state.current
        run.report.to_revision = state.head
        run.report.at(state.current)
        run.report.pending = [r.id for r in state.pending]
        notes = [f"at {state.current or 'base'}, head {state.head}, {len(state.pending)} pending"]
        server = lint.local_server(run.dialect)
        if state.exists and state.current is None:
            _refuse_unversioned_tables(run)
        backs_up = bool(state.pending and run.settings.options.dumps)
        if not backs_up or "full" not in run.settings.options.backup_methods:
            drop_early_backup(run)  # begun on a guess that proved wrong
        if state.exists:
            with run.connect() as conn:
                if backs_up and "full" in run.settings.options.backup_methods:
                    _check_room(run, run.dialect.size_bytes(conn))
                    if backup_early:
                        begin_backup(run, conn)
                recorded = ledger.recorded_checksums(conn)
                for rev in run.project.applied(state.current):
                    was = recorded.get(rev.id)
                    # A library's migrations change with the library (a Django upgrade
                    # reformats its own): the team's are the ones that must not.
                    if (
                        was is not None
                        and run.project.owns(rev)
                        and not rev.matches(was.sha256, was.file_sha256)
                    ):
                        raise Refused(
                            f"revision {rev.id} ({run.relpath(rev.path)}) was edited after it was "
                            "applied: its sha256 differs from the one recorded",
                            check="checksums",
                            hint="restore the file as applied; a change needs a new revision",
                        )
                notes.append(f"{len(recorded)} checksums match")
                if backs_up:
                    try:
                        dumping = run.early_backup is not None
                        notes.append(run.dialect.check_tools(conn, dumping=dumping))
                    except ToolFailed as err:
                        raise Refused(
                            f"a client tool does not work: {first_line(err)}",
                            check="tools",
                            hint="install a working postgresql-client / mariadb-client",
                        ) from err
                if state.pending and "restore_point" in run.settings.options.backup_methods:
                    notes.append(pitr.check(run, conn))
                if state.pending:
                    server = lint.server_version(run.dialect, conn)
        if gate and state.pending and run.settings.options.lint_fail_on != "never":
            notes.append(lint_gate(run, state, server).summary())
            skipped = run.report.data.get("lint_baseline_skipped")
            if skipped:
                notes.append(f"{skipped} revision(s) of the adoption baseline not linted again")
            notes.extend(_downgrades_by_restore(run, state))
        if gate and state.exists and state.pending:
            notes.extend(_counters_behind(run, state))
        step.detail = "; ".join(notes)
    return state


def _downgrades_by_restore(run: Run, state: State) -> list[str]:
    """What the lint's rendering showed of downgrades that cannot render offline: they
    run live if the release rolls back, and where that fails the backup is restored.
    Said in preflight's detail and the log; the rehearsal, when it runs, judges them."""
    start, _, pending = beyond_baseline(run, state)
    downs = run.project.rendered_already(start, pending, up=False) or {}
    live = [rev for rev, rendered in downs.items() if rendered.error is not None]
    if not live:
        return []
    run.report.data["downgrade_live_only"] = live
    if run.settings.options.dumps and run.settings.options.restore_on_failed_rollback:
        said = (
            f"downgrade of {', '.join(live)} cannot render offline: if the release rolls "
            "back and it fails, the release rolls back by restoring its backup"
        )
    else:
        said = (
            f"downgrade of {', '.join(live)} cannot render offline: if the release rolls "
            "back and it fails, the run stops with the restore command (no automatic "
            "restore here)"
        )
    log.info("%s", said)
    return [said]


def _refuse_unversioned_tables(run: Run) -> None:
    """A database with tables but no Alembic version: applying the history from base
    would collide with them, and slipway cannot tell which revision made them."""
    version_table = run.project.version_table
    with run.connect() as conn:
        tables = schema.user_tables(conn, version_table)
    if tables:
        shown = ", ".join(tables[:3]) + (", ..." if len(tables) > 3 else "")
        raise Refused(
            f"the database has {len(tables)} table(s) ({shown}) but no Alembic version "
            f"table {version_table}: slipway cannot tell which revision made them",
            check="adopt",
            hint="if revision REV of this history made them, adopt the database at it: "
            + run.settings.command("adopt", "--revision", "REV"),
        )


def _counters_behind(run: Run, state: State) -> list[str]:
    """A warning for each key counter behind its column's maximum whose table a pending
    revision inserts into (its inserts without a key would fail on a duplicate). The
    pending SQL is the lint's rendering: with lint off nothing is rendered here (revision
    code runs offline in the render step, not a step early) and nothing is checked."""
    rendered = run.project.rendered_already(state.current, state.pending, up=True)
    if not rendered:
        return []
    tables = sequences.inserted_into("\n".join(r.sql for r in rendered.values()))
    if not tables:
        return []
    try:
        with run.connect() as conn:
            behind = [c for c in run.dialect.counters_behind(conn) if sequences.named_in(c, tables)]
    except DBAPIError as err:
        log.info("key counters not checked: %s", first_line(err))
        return []
    if not behind:
        return []
    run.report.data["sequences_behind"] = [c.as_dict() for c in behind]
    fix = run.settings.command("sequences", "--repair")
    said = []
    for c in behind:
        said.append(
            f"warning: {c.table}.{c.column}: {c.counter} hands out {c.next_value}, the column "
            f"holds up to {c.max_value}, and a pending revision inserts into it"
        )
        # the run log and the report: stderr stays the one line of a failure
        log.info("%s; run: %s", said[-1], fix)
    return said


def lint_dialect(run: Run) -> str:
    """The dialect family whose rules lint the SQL (MariaDB's is MySQL's)."""
    return run.dialect.name


def lint_revisions(
    run: Run, start: str | None, revisions: list[Revision], server: ServerVersion | None
) -> lint.LintResult:
    """Lint ``revisions`` (those above ``start``) for this server with the environment's
    policy; the findings go in the run's report."""
    result = lint.check(
        run.project,
        start,
        revisions,
        dialect=lint_dialect(run),
        server=server,
        fail_on=run.settings.options.lint_fail_on,
        rules=run.settings.options.lint_rules,
        relpath=run.relpath,
    )
    run.report.data["lint"] = result.to_dict()
    return result


def lint_gate(run: Run, state: State, server: ServerVersion | None) -> lint.LintResult:
    """Lint the pending revisions for this server; refuse unaccepted blocking findings.
    Those the adoption baseline covers (a new environment's first release applies the
    whole history) are not linted again: only from the first revision it does not."""
    start, covered, pending = beyond_baseline(run, state)
    if covered:
        run.report.data["lint_baseline_skipped"] = len(covered)
    result = lint_revisions(run, start, pending, server)
    refusal = result.refusal()
    if refusal is not None:
        raise refusal
    return result


def beyond_baseline(run: Run, state: State) -> tuple[str | None, list[Revision], list[Revision]]:
    """The pending revisions split where the adoption baseline ends: the first ones it
    covers (a new environment's first release applies the whole history), and the rest
    with the revision they start from. Lint and render take the rest only."""
    covered = 0
    while covered < len(state.pending) and run.project.in_baseline(state.pending[covered]):
        covered += 1
    start = state.pending[covered - 1].id if covered else state.current
    return start, state.pending[:covered], state.pending[covered:]


def _check_room(run: Run, size: int) -> None:
    folder = run.settings.backup_dir
    free = shutil.disk_usage(_existing(folder)).free
    need = int(size * run.settings.options.backup_min_free_ratio)
    if free < need:
        raise Refused(
            f"backup folder {folder} has {free} bytes free, a backup needs about {need}",
            check="backup_room",
            hint="free space there, or set backup_dir to a larger disk",
        )


def _existing(folder: Path) -> Path:
    """``folder``, or its nearest ancestor that exists (where it will be created)."""
    while not folder.exists():
        folder = folder.parent
    return folder


def lock(run: Run, *, remedy: bool = False, lease: bool = False) -> State:
    """Take the release lock, refuse open claims, re-read the state under the lock, claim."""
    with run.report.step("lock") as step:
        run.lock(remedy=remedy)
        state = run.state()
        if state.current != run.report.from_revision:
            # Someone released between our preflight and our lock: check again (a
            # backup begun before is of the database as it was).
            drop_early_backup(run)
            run.report.steps.pop()
            state = preflight(run, gate=not remedy)
            run.report.steps.append(step)
        said: list[str] = []
        if not remedy and state.exists:
            # The schema as the run finds it, under the lock: its start fingerprint, and
            # what drift is judged on.
            run.start_described, run.start_catalog = read_schema(run)
            said = check_drift(run, state.current, run.start_described)
        run.claim(state.current, state.head, lease=lease)
        step.detail = "; ".join([f"held for run {run.run_id}", *said])
    return state


def backup_stem(run: Run) -> str:
    """What a backup's file name begins with: the database's name (a file's stem)."""
    return Path(run.settings.database_name.rsplit("/", 1)[-1]).stem or "database"


class Dump:
    """One backup being written: under a hidden partial name, renamed to its own name
    by :func:`backup` when whole and valid, so that a dump cut short by a kill never
    looks like a backup (the next backup sweeps it). :meth:`begin` writes it in a
    thread while the run goes on; :meth:`stop` ends that thread's client tool at once
    and removes what it wrote."""

    def __init__(self, run: Run) -> None:
        settings = run.settings
        self.run = run
        self.folder = private_dir(settings.backup_dir)
        self.stem = backup_stem(run)
        self.suffix = run.dialect.suffix(settings.options.backup_jobs)
        self.target = self.folder / f"{self.stem}-{run.run_id}{self.suffix}"
        self.partial = self.folder / f".{self.target.name}.partial"
        self._future: Future[str] | None = None
        self._tools = ToolGroup()

    def take(self) -> str:
        """Write and validate the partial file; what the validation found."""
        for leftover in self.folder.glob(".*.partial"):
            remove(leftover)
        options = self.run.settings.options
        self.run.dialect.backup(self.partial, options.own_lock_timeout_s, options.backup_jobs)
        make_private(self.partial)
        return self.run.dialect.validate_backup(self.partial)

    def _take_in_thread(self) -> str:
        in_group(self._tools)
        with progress.ticking(progress.file_growth(self.partial, "backup")):
            return self.take()

    def begin(self) -> None:
        pool = ThreadPoolExecutor(1, thread_name_prefix="backup")
        self._future = pool.submit(self._take_in_thread)
        pool.shutdown(wait=False)

    def result(self) -> str:
        assert self._future is not None
        return self._future.result()

    def stop(self) -> None:
        """End a dump begun with :meth:`begin` that is no longer wanted."""
        if self._future is None:
            return
        future, self._future = self._future, None
        self._tools.stop()
        with contextlib.suppress(Exception):  # a stopped dump is thrown away either way
            future.result()
        remove(self.partial)
        log.info("backup begun early stopped and removed: the run ended before it")


def _begin_backup_if_likely(run: Run) -> None:
    """Begin the backup (:func:`begin_backup`) before the revision graph is read, where
    a release is likely: reading the graph runs every revision file, the longest part
    of preflight, and the dump, a client tool's process, runs beside it. Likely: the
    version table is empty, or a file of the project other than the current revision's
    names the current revision (a revision that follows it). A guess only: preflight
    stops the dump once the graph shows nothing pending, and a run this misses begins
    its backup at the usual point."""
    options = run.settings.options
    if not (options.dumps and "full" in options.backup_methods and run.dialect.dumps_alone):
        return
    location = backend_class(options.backend).migrations_folder(run.settings)
    if location is None:
        return
    try:
        _begin_if_followed(run, location)
    except (OperationalError, InterfaceError) as err:
        raise run.unreachable(err) from err


def _begin_if_followed(run: Run, location: Path) -> None:
    options = run.settings.options
    if not run.dialect.database_exists():
        return
    with run.connect() as conn:
        current = backend_class(options.backend).recorded_heads(run.settings, conn)
        if current is None:
            return  # no history, or env.py names its own version table: the usual point
        if current and not any(_followed(location, rev) for rev in current):
            return
        size = run.dialect.size_bytes(conn)
        if (
            shutil.disk_usage(_existing(run.settings.backup_dir)).free
            < size * options.backup_min_free_ratio
        ):
            return  # preflight refuses it, if a revision is pending
        begin_backup(run, conn)


def _followed(folder: Path, revision: str) -> bool:
    """Whether more than one Python file under ``folder`` names ``revision`` (its own
    file does): the others likely revise it."""
    needle = revision.encode()
    named = 0
    for path in folder.rglob("*.py"):
        try:
            named += needle in path.read_bytes()
        except OSError:
            continue
        if named > 1:
            return True
    return False


def begin_backup(run: Run, conn: Connection) -> None:
    """Begin the release's backup now, while preflight's last read-only checks and the
    lock step run, where the dump is a client tool's process, the ledger needs no new
    table or column (the lock step's claim would change tables under the dump), and this
    run can hold the release lock already (while another run holds it, the lock step
    says so, and the backup waits its turn). Anything that ends the run before the
    backup step stops the dump and removes it."""
    if not run.dialect.backup_by_tool or run.early_backup is not None:
        return
    if not ledger.is_current(conn):
        return
    try:
        run.hold_lock()
    except LockHeld:
        return
    dump = Dump(run)
    dump.begin()
    log.info("backup begun under the lock while preflight ends: %s", dump.partial.name)
    run.early_backup = dump
    run.on_exit(drop_early_backup, run)


def drop_early_backup(run: Run) -> None:
    if run.early_backup is not None:
        run.early_backup.stop()
        run.early_backup = None


def backup(
    run: Run, state: State, undoing: tuple[str | None, list[Revision]] | None = None
) -> FileRef | None:
    """The environment's backup methods, in order: a restore point (its WAL archived),
    a dump (written, validated, renamed whole) of everything or of the tables the
    pending revisions put at risk (with ``undoing``, (target, revisions): the tables a
    rollback's downgrades put at risk). The dump's file, when one was taken."""
    with run.report.step("backup") as step:
        methods = run.settings.options.backup_methods
        said: list[str] = []
        if "restore_point" in methods:
            said.append(pitr.take(run))
        ref = None
        if "full" in methods:
            ref, detail = _dump(run)
            said.append(detail)
        elif "targeted" in methods:
            ref, detail = _targeted(run, state, undoing, point="restore_point" in methods)
            said.append(detail)
        step.detail = "; ".join(said)
    return ref


def _targeted(
    run: Run,
    state: State,
    undoing: tuple[str | None, list[Revision]] | None,
    *,
    point: bool,
) -> tuple[FileRef | None, str]:
    """The targeted backup of the pending revisions; where their SQL cannot be read,
    the restore point alone (when one was taken) or a full dump."""
    version_table = run.project.version_table
    if undoing is None:
        rendered = run.project.rendered(state.current, state.pending, up=True)
    else:
        rendered = run.project.rendered(undoing[0], undoing[1], up=False)
    reading = targeted.read(
        {rev: (r.sql if r.error is None else None) for rev, r in rendered.items()},
        version_table,
    )
    if reading.unreadable:
        why = reading.unreadable[0] + (
            f" (and {len(reading.unreadable) - 1} more)" if len(reading.unreadable) > 1 else ""
        )
        run.report.data["targeted"] = {"unreadable": reading.unreadable[:20]}
        if point:
            log.info("targeted backup: %s; the restore point stands for it", why)
            return None, f"no targeted backup ({why}): the restore point stands for it"
        log.info("targeted backup: %s; a full backup instead", why)
        ref, detail = _dump(run)
        run.report.data["targeted"]["fell_back_to"] = "full"
        return ref, f"full instead of targeted ({why}): {detail}"
    settings = run.settings
    folder = private_dir(settings.backup_dir)
    stem = backup_stem(run)
    target = folder / f"{stem}-{run.run_id}.tables"
    partial = folder / f".{target.name}.partial"
    for leftover in folder.glob(".*.partial"):
        remove(leftover)
    described = run.start_described or describe_now(run) or {}
    try:
        partial.mkdir(mode=0o700)
        with progress.ticking(progress.file_growth(partial / targeted.DUMP, "backup")):
            present = run.dialect.backup_tables(
                partial,
                {*reading.tables, version_table},
                described,
                settings.options.own_lock_timeout_s,
            )
        found = run.dialect.validate_backup(partial / targeted.DUMP)
        os.replace(partial, target)
    except (ToolFailed, OSError) as err:
        remove(partial)
        raise Refused(
            f"backup failed: {redact(first_line(err), settings.secrets)}",
            check="backup",
            hint="no change was made; fix the backup and release again",
        ) from err
    except BaseException:
        remove(partial)
        raise
    ref, pruned = _keep(run, target, f"{stem}-*.tables")
    at_risk = [t for t in present if t != version_table]
    run.report.data["targeted"] = {"tables": at_risk, "bytes": ref.bytes}
    detail = (
        f"targeted: the rows of {len(at_risk)} table(s) at risk"
        + (f" ({', '.join(at_risk[:10])})" if at_risk else "")
        + f" and the schema of everything, {ref.bytes} bytes; {found}{pruned}"
    )
    return ref, detail


def _dump(run: Run) -> tuple[FileRef, str]:
    """Take (or finish the early) dump; its file and what was found of it."""
    settings = run.settings
    detail = ""
    dump, run.early_backup = run.early_backup, None
    early = dump is not None
    if dump is None:
        dump = Dump(run)
    try:
        with progress.ticking(progress.file_growth(dump.partial, "backup")):
            detail = dump.result() if early else dump.take()
        os.replace(dump.partial, dump.target)
    except run.dialect.failures as err:  # a full disk shows up as any
        remove(dump.partial)
        raise Refused(
            f"backup failed: {redact(first_line(err), settings.secrets)}",
            check="backup",
            hint="no change was made; fix the backup and release again",
        ) from err
    except BaseException:  # interrupted: a partial dump is never a backup
        remove(dump.partial)
        raise
    if early:
        detail += "; begun under the lock while preflight ended"
    ref, pruned = _keep(run, dump.target, f"{dump.stem}-*{dump.suffix}")
    return ref, detail + pruned


def _keep(run: Run, target: Path, pattern: str) -> tuple[FileRef, str]:
    """A whole backup at ``target``: recorded in the ledger at once (a run killed later
    still names it, and restore trusts it) and in the report; the oldest of those
    matching ``pattern`` beyond backup_keep pruned. Its ref, and what was pruned."""
    sha, size = checksum(target)
    ref = FileRef(path=str(target), sha256=sha, bytes=size)
    run.record(backup_path=ref.path, backup_sha256=sha, backup_bytes=size)
    pruned = _prune(target.parent, pattern, run.settings.options.backup_keep)
    run.report.backup = ref
    return ref, f"; pruned {len(pruned)} old backup(s)" if pruned else ""


def _methods(run: Run) -> str:
    return ", ".join(run.settings.options.backup_methods) or "false"


def _prune(folder: Path, pattern: str, keep: int) -> list[Path]:
    # Oldest first by time written; the run id in the name (UTC time first) breaks ties.
    old = sorted(folder.glob(pattern), key=lambda p: (p.stat().st_mtime_ns, p.name))[:-keep]
    for path in old:
        remove(path)
    return old


def render(run: Run, state: State) -> dict[str, FileRef]:
    """Write ``upgrade.sql`` and ``downgrade.sql`` of the pending revisions, one section
    per revision. A revision whose upgrade cannot render offline (it reads the database
    in Python) is marked as live-only, not refused: its statements are captured when it
    runs (``rehearsal.sql``, ``applied.sql``). A downgrade that cannot render offline is
    marked in ``downgrade.sql`` only: its upgrade is rendered as any other."""
    with run.report.step("render") as step:
        ups: list[str] = []
        downs: list[str] = []
        live: list[str] = []
        live_down: list[str] = []
        start, covered, pending = beyond_baseline(run, state)
        if covered:
            mark = (
                f"-- revisions {covered[0].id} to {covered[-1].id} ({len(covered)}): in the "
                f"adoption baseline ({BASELINE_FILE}), released before; not rendered again.\n"
                "-- Their statements are recorded as they run: applied.sql.\n"
            )
            ups.append(mark)
            downs.append(mark)
        rendered_up = run.project.rendered(start, pending, up=True)
        rendered_down = run.project.rendered(start, pending, up=False)
        for rev in pending:
            title = f"-- revision {rev.id} ({run.relpath(rev.path)}): {rev.message}".rstrip(": ")
            up, down = rendered_up[rev.id], rendered_down[rev.id]
            if up.error is not None:
                live.append(rev.id)
                mark = (
                    f"{title}\n-- {LIVE_ONLY}: it cannot render offline ({_why(up.error)}).\n"
                    "-- Its statements are recorded when it runs: rehearsal.sql, applied.sql.\n"
                )
                ups.append(mark)
                downs.insert(0, mark)
                continue
            ups.append(f"{title}\n{up.sql}")
            if down.error is not None:
                live_down.append(rev.id)
                downs.insert(
                    0,
                    f"{title}\n-- {LIVE_ONLY}: its downgrade cannot render offline "
                    f"({_why(down.error)}).\n-- It runs live if the release rolls back; "
                    "where it fails, the release restores its backup.\n",
                )
                continue
            downs.insert(0, f"{title}\n{down.sql}")
        refs = {
            "upgrade": write_sql(run, "upgrade", "\n".join(ups)),
            "downgrade": write_sql(run, "downgrade", "\n".join(downs)),
        }
        run.report.data["live_only"] = live
        run.report.data["downgrade_live_only"] = live_down
        step.detail = f"{len(pending)} revision(s), {refs['upgrade'].bytes} bytes up" + (
            f"; {len(live)} need a live connection: {', '.join(live)}" if live else ""
        )
        if covered:
            step.detail += f"; {len(covered)} of the adoption baseline not rendered again"
        if live_down:
            step.detail += f"; downgrade live-only: {', '.join(live_down)}"
    return refs


def _why(err: BaseException) -> str:
    return f"{type(err).__name__}: {first_line(err)}"


LIVE_ONLY = "live-only: needs a live connection"


def rehearse(run: Run, state: State, backup: FileRef | None) -> None:
    """Run the pending revisions up, down to the start and up again on a scratch copy
    made from this run's backup, recording every statement in ``rehearsal.sql``. A
    failed upgrade refuses the release: the target has not been touched. A failed
    downgrade does not, where the run may restore its backup: the release goes on, and
    its report and log say that it rolls back by restore; where it may not, it refuses."""
    mode = run.settings.options.rehearse
    live = run.report.data.get("live_only") or []
    if mode == "never" or (mode == "live" and not live):
        why = "rehearse: never" if mode == "never" else "every revision renders offline"
        run.report.skip("rehearse", why)
        return
    fell_back = (run.report.data.get("targeted") or {}).get("unreadable")
    if backup is None and (not run.settings.options.dumps or fell_back):
        run.report.skip(
            "rehearse", f"no dump to rehearse on (backup: {_methods(run)} for {run.settings.env})"
        )
        return
    if backup is None:
        raise Refused(
            f"run {run.run_id} has no backup to rehearse on",
            check="order",
            hint=f"run 'slipway db backup --run-id {run.run_id}' first",
        )
    with run.report.step("rehearse") as step:
        source = targeted.dump_of(Path(backup.path))
        schema_only = backup.bytes > run.settings.options.rehearsal_max_bytes
        copy = "schema-only" if schema_only else "full"
        if source != Path(backup.path):  # the rows it holds are those the revisions change
            schema_only, copy = False, "targeted"
        recording = Recording()
        project = run.project
        version_table = project.version_table
        try:
            for leftover in run.dialect.sweep_scratch("rehearsal"):
                log.info("dropped %s, the rehearsal copy of a killed run", leftover)
        except (DBAPIError, OSError) as err:
            log.warning("old rehearsal copies cannot be dropped: %s", first_line(err))
        with run.dialect.scratch(f"rehearsal_{secrets.token_hex(4)}") as url:
            try:
                with progress.ticking(progress.file_read(source, "rehearsal copy")):
                    run.dialect.load_copy(
                        source, url, schema_only=schema_only, rows_of=version_table
                    )
            except run.dialect.failures as err:
                why = redact(first_line(err), run.settings.secrets)
                raise Refused(
                    f"the rehearsal copy cannot be made: {why}",
                    check="rehearsal",
                    hint="no change was made; check the backup, or set rehearse: never",
                ) from err
            engine = dialect_for(url).create_engine()
            guard = run.guard(
                url=url,
                recording=recording,
                how_to_fix="let env.py connect to the database slipway is pointed at (or "
                "use config.attributes['connection']): the rehearsal runs on a copy of it",
                redirect=True,
            )

            doing, passes = "", 0

            def move(title: str, up: bool, target: str | None) -> None:
                nonlocal doing, passes
                doing, passes = title, passes + 1
                recording.begin(f"rehearsal ({copy} copy): {title}")
                said = progress.elapsed(
                    lambda: f"rehearsal pass {passes}/3, {doing}: revision {project.running}"
                )
                try:
                    with progress.ticking(said):
                        project.migrate(engine, guard, up=up, destination=target, url=url)
                except Exception as err:
                    found = env_error(err)
                    if found is not None:
                        raise found from err
                    recording.note(f"failed: {redact(first_line(err), run.settings.secrets)}")
                    raise

            by_restore = None
            try:
                move(f"upgrade to {state.head}", True, state.head)
                try:
                    move(f"downgrade to {state.current or 'base'}", False, state.current)
                except SlipwayError:
                    raise
                except Exception as err:  # noqa: BLE001 - the downgrade's own failure
                    by_restore = _downgrade_fails(run, project.running, err)
                if by_restore is None:
                    move(f"upgrade to {state.head} again", True, state.head)
            except SlipwayError:
                raise
            except Exception as err:
                raise Refused(
                    f"the rehearsal failed in revision {project.running} ({doing}): "
                    f"{redact(first_line(err), run.settings.secrets)}",
                    check="rehearsal",
                    hint="fix the revision; the target database was not touched",
                ) from err
            finally:
                engine.dispose()
                write_sql(run, "rehearsal", recording.text())
        run.report.data["rehearsal"] = {"copy": copy, "revisions": [r.id for r in state.pending]}
        step.detail = f"{len(state.pending)} revision(s) up, down, up on a {copy} copy"
        if by_restore is not None:
            run.report.data["rehearsal"]["rolls_back_by_restore"] = by_restore
            step.detail = (
                f"{len(state.pending)} revision(s) up on a {copy} copy; the downgrade of "
                f"{by_restore['revision']} failed: the release rolls back by restoring "
                "its backup"
            )


def _downgrade_fails(run: Run, revision: str | None, err: Exception) -> dict[str, str]:
    """A downgrade failed in the rehearsal: where the run may restore its backup, the
    release goes on and rolls back by restore; else it is refused."""
    why = redact(first_line(err), run.settings.secrets)
    if not run.settings.options.restore_on_failed_rollback:
        raise Refused(
            f"the rehearsal's downgrade of revision {revision} failed ({why}), and "
            f"restore_on_failed_rollback is false for {run.settings.env}: a failed release "
            "could not be undone",
            check="rehearsal",
            hint="fix the downgrade, or set restore_on_failed_rollback: true for this "
            "environment; the target database was not touched",
        ) from err
    log.warning(
        "the rehearsal's downgrade of %s failed (%s): if this release fails, it rolls back "
        "by restoring its backup",
        revision,
        why,
    )
    return {"revision": str(revision), "error": why}


def apply(run: Run, state: State) -> None:
    """``upgrade`` one revision at a time, each through env.py as it defines its
    transactions, with the lock-timeout retry ladder; every statement that runs is
    recorded in ``applied.sql``."""
    recording = Recording()
    with run.report.step("apply") as step:
        try:
            with BlockerWatch(run) as watch:
                retries = _apply_all(run, state, step, recording, watch)
        finally:
            write_evidence(run, "applied", recording.text())
        step.detail = f"{len(state.pending)} revision(s) applied" + (
            f", {retries} lock retries" if retries else ""
        )


class BlockerWatch:
    """While apply runs, a connection of its own asks the server ten times a second who
    holds the locks slipway's sessions wait for; a lock timeout then names them. The
    connection opens when the first look is due: an apply done sooner needs none."""

    def __init__(self, run: Run, every_s: float = 0.1) -> None:
        self.run, self.every_s = run, every_s
        self.seen: list[dict[str, object]] = []
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> BlockerWatch:
        if type(self.run.dialect).blockers is not Dialect.blockers:
            self._thread = threading.Thread(target=self._watch, name="slipway-blockers")
            self._thread.daemon = True
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _watch(self) -> None:
        if self._done.wait(self.every_s):
            return
        engine = self.run.dialect.create_engine()
        try:
            with engine.connect() as conn:
                while not self._done.is_set():
                    found = self.run.dialect.blockers(conn)
                    conn.rollback()
                    if found:
                        self.seen = found
                    self._done.wait(self.every_s)
        except Exception as err:  # noqa: BLE001 - naming blockers is a courtesy
            log.debug("blocker watch stopped: %s", err)
        finally:
            engine.dispose()

    def take(self) -> list[dict[str, object]]:
        """Who blocked since the last take (and forget them)."""
        found, self.seen = self.seen, []
        return found


def describe_blockers(blockers: list[dict[str, object]], secrets: tuple[str, ...]) -> str:
    return "; ".join(
        redact(
            f"pid {b['pid']} ({b['state']}, transaction open {b['xact_age_s']} s, "
            f"application '{b['application_name']}'): {b['query']}",
            secrets,
        )
        for b in blockers
    )


def retry_pause(base_s: float, attempt: int) -> float:
    """The pause before try ``attempt + 1``: doubling from ``base_s`` up to 30 s, each
    jittered by +-50% so that retrying releases do not queue in step."""
    grown: float = min(base_s * 2.0 ** (attempt - 1), 30.0)
    return grown * random.uniform(0.5, 1.5)  # noqa: S311 - jitter, not a secret


def _terminate_old_blockers(run: Run, rev: Revision, blockers: list[dict[str, object]]) -> None:
    """With ``terminate_blockers_after_s`` set (off by default): end the sessions holding
    the lock whose transaction is older than that; each one is logged and recorded."""
    limit = run.settings.options.terminate_blockers_after_s
    if limit is None:
        return
    for blocker in blockers:
        age = float(str(blocker["xact_age_s"]))
        if age < limit or not run.dialect.terminate(int(str(blocker["pid"]))):
            continue
        said = describe_blockers([blocker], run.settings.secrets)
        log.warning("revision %s: ended the blocking session %s", rev.id, said)
        run.report.data.setdefault("terminated_blockers", []).append(
            {**blocker, "revision": rev.id}
        )
        note = run.report.data.get("note")
        ended = f"ended blocking session {said}"
        run.report.data["note"] = f"{note}; {ended}" if note else ended


class _Applying:
    """What one run of env.py over the pending revisions did: each revision's step as it
    begins (the report, applied.sql, the live display) and ends (how long it took)."""

    def __init__(self, run: Run, state: State, recording: Recording) -> None:
        self.run, self.recording = run, recording
        self.by_id = {r.id: r for r in state.pending}
        self.number = {r.id: n for n, r in enumerate(state.pending, start=1)}
        self.took: dict[str, float] = {}
        self.done: set[str] = set()  # committed by this command's earlier tries
        self.attempt, self.timeout = 1, 0.0
        self._began = 0.0

    def on_step(self, revision: str, done: bool) -> None:
        if done:
            self.took[revision] = round(time.monotonic() - self._began, 3)
            self.done.add(revision)
            self.run.report.at(revision)
            return
        rev = self.by_id.get(revision)
        path = self.run.relpath(rev.path) if rev else revision
        log.info("applying %s (lock_timeout %ss)", revision, self.timeout)
        progress.current().note(self.doing(revision))
        self.recording.begin(
            f"revision {revision} ({path}), attempt {self.attempt}, lock_timeout {self.timeout}s"
        )
        self._began = time.monotonic()

    def doing(self, revision: str | None) -> str:
        if revision is None:
            return "applying"
        n, total = self.number.get(revision), len(self.by_id)
        if n is None:
            return f"revision {revision}"
        return f"revision {revision} ({n}/{total}, {100 * (n - 1) // max(total, 1)}% done)"

    def record(self, *, ended: bool) -> None:
        """The checksums of the revisions this run committed, in one ledger transaction
        (where the database can be reached: a missing checksum is only not checked).
        When the run did not end, what committed is read from the database: an env.py
        transaction of its own takes every revision back with it."""
        if not self.took:
            return
        try:
            applied = set(self.took)
            if not ended:
                with self.run.connect() as conn:
                    heads = self.run.project.current(conn)
                applied = {r.id for r in self.run.project.applied(heads)}
            rows = [
                ledger.Checksum(
                    rev.id,
                    self.run.relpath(rev.path),
                    rev.sha256,
                    "applied",
                    self.took[rev.id],
                    rev.file_sha256,
                )
                for rev in self.by_id.values()
                if rev.id in self.took and rev.id in applied
            ]
            with self.run.connect() as conn, conn.begin():
                ledger.record_checksums(conn, self.run.run_id, rows)
            for row in rows:
                log.info("applied %s in %s s", row.revision, row.duration_s)
        except Exception as err:  # noqa: BLE001 - the apply's own outcome comes first
            log.warning("checksums of applied revisions not recorded: %s", first_line(err))
        self.took.clear()


def _apply_all(
    run: Run, state: State, step: Step, recording: Recording, watch: BlockerWatch
) -> int:
    """One run of env.py takes every pending revision, each in its own transaction. A
    lock timeout ends that run with the revisions before the blocked one committed; the
    next try starts from there, with the ladder's next timeout."""
    options = run.settings.options
    ladder = options.lock_timeouts_s
    retries = 0
    applying = _Applying(run, state, recording)
    blocked: str | None = None  # the revision the tries are for
    blocked_by: list[dict[str, object]] = []  # who held its lock, last seen
    first_try = time.monotonic()
    while True:
        applying.timeout = timeout = ladder[min(applying.attempt, len(ladder)) - 1]
        guard = run.guard(timeouts=(timeout, options.statement_timeout_s), recording=recording)
        # env.py may silence slipway's loggers while it runs (fileConfig): said before it
        log.info(
            "one run of env.py for %s (lock_timeout %ss)",
            ", ".join(r for r in applying.by_id if r not in applying.done),
            timeout,
        )
        try:
            with progress.ticking(
                lambda: (
                    f"{applying.doing(run.project.running)}: "
                    f"{redact(recording.running(), run.settings.secrets)}"
                )
            ):
                try:
                    run.project.migrate(
                        run.engine,
                        guard,
                        up=True,
                        destination=state.head,
                        url=run.settings.url,
                        on_step=applying.on_step,
                    )
                except BaseException:
                    applying.record(ended=False)
                    raise
                applying.record(ended=True)
            return retries
        except KeyboardInterrupt as err:  # signals.Interrupted: the release rolls back
            rev_id = run.project.running or "?"
            recording.note(f"{err} during revision {rev_id}")
            step.detail = f"revision {rev_id}: {err}"
            raise StepFailed("apply", step.detail, revision=run.project.running) from err
        except Exception as err:
            rev_id = run.project.running or state.head
            rev = applying.by_id.get(rev_id) or run.project.revision(rev_id)
            if rev_id != blocked:  # a revision further on: its own tries
                blocked, blocked_by, first_try = rev_id, [], time.monotonic()
                applying.attempt = 1
            attempt = applying.attempt
            recording.note(f"failed: {redact(first_line(err), run.settings.secrets)}")
            lock_timeout = run.dialect.is_lock_timeout(err)
            retryable = run.dialect.transactional_ddl and lock_timeout
            blockers = watch.take() if lock_timeout else []
            blocked_by = blockers or blocked_by
            if lock_timeout:
                run.report.data.setdefault("lock_waits", []).append(
                    {
                        "revision": rev_id,
                        "attempt": attempt,
                        "lock_timeout_s": timeout,
                        "blockers": blockers,
                    }
                )
            held = describe_blockers(blocked_by, run.settings.secrets)
            pause = retry_pause(options.lock_retry_pause_s, attempt)
            in_window = (
                time.monotonic() - first_try + pause + timeout <= options.lock_retry_window_s
            )
            if retryable and (attempt < len(ladder) or in_window):
                retries += 1
                applying.attempt += 1
                _terminate_old_blockers(run, rev, blocked_by)
                log.warning(
                    "revision %s waited longer than %ss for a lock; retrying%s",
                    rev_id,
                    timeout,
                    f" (held by {held})" if held else "",
                )
                time.sleep(pause)
                continue
            why = first_line(err)
            if retryable:
                why = f"no lock within {timeout}s after {attempt} tries: {why}"
                if held:
                    why += f" (held by {held})"
            step.detail = f"revision {rev_id} failed: {why}"
            raise StepFailed(
                "apply", step.detail, revision=rev_id, location=where(err, run, rev)
            ) from err


def where(err: BaseException, run: Run, rev: Revision) -> str | None:
    """The file and line of ``rev`` whose statement raised ``err`` ("versions/r3.py:41"),
    from its traceback or those of the errors it was raised from."""
    target = os.path.realpath(rev.path)
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        line = None
        tb = current.__traceback__
        while tb is not None:
            if os.path.realpath(tb.tb_frame.f_code.co_filename) == target:
                line = tb.tb_lineno
            tb = tb.tb_next
        if line is not None:
            return f"{run.relpath(rev.path)}:{line}"
        current = current.__cause__ or current.__context__
    return None


def write_evidence(run: Run, kind: str, sql: str) -> FileRef | None:
    """``<kind>.sql`` of what already ran (applied, rollback): a full or read-only disk
    is logged, never a failure of the step that changed the database."""
    try:
        return write_sql(run, kind, sql)
    except OSError as err:
        log.warning("%s.sql cannot be written: %s", kind, err.strerror or err)
        return None


def write_sql(run: Run, kind: str, sql: str) -> FileRef:
    """``<kind>.sql`` in the run's folder (UTF-8, secrets masked), listed in the report."""
    path = run.dir / f"{kind}.sql"
    write_atomic(path, redact(sql, run.settings.secrets))
    data = path.read_bytes()
    ref = FileRef(str(path), hashlib.sha256(data).hexdigest(), len(data))
    run.report.sql[kind] = ref
    return ref


def read_current(run: Run, *, fingerprint: bool = True) -> tuple[str | None, str]:
    """(revision, schema fingerprint: "" without ``fingerprint``) through a fresh
    connection."""
    run.heads()  # once per command: learns env.py's version-table options
    engine = run.fresh_engine()
    try:
        with engine.connect() as conn:
            heads = run.project.current(conn)
            fp = schema.fingerprint(conn) if fingerprint else ""
    finally:
        engine.dispose()
    if len(heads) > 1:
        return ",".join(heads), fp
    return (heads[0] if heads else None), fp


def _revision_checks(run: Run, revisions: list[Revision], name: str) -> int:
    """Run each revision's own check, in a transaction that is rolled back (a check
    reads; what it might write is undone); the first that fails fails the step."""
    checked = 0
    for rev in revisions:
        check = run.project.verify_check(rev.id)
        if check is None:
            continue
        with run.connect() as conn:
            try:
                with conn.begin() as tx:
                    if isinstance(check, str):
                        row = conn.exec_driver_sql(check).first()
                        ok: object = bool(row and row[0])
                        why = f"verify_sql returned {row[0] if row else 'no row'!r}"
                    else:
                        ok = check(conn)
                        why = "verify() returned False"
                    tx.rollback()
            except Exception as err:  # the revision's own code: any failure fails it
                raise StepFailed(
                    name,
                    f"revision {rev.id}'s own check failed: {type(err).__name__}: "
                    f"{redact(first_line(err), run.settings.secrets)}",
                    revision=rev.id,
                ) from err
        if ok is False:
            raise StepFailed(name, f"revision {rev.id}'s own check failed: {why}", revision=rev.id)
        checked += 1
        log.info("revision %s: its own check passed", rev.id)
    return checked


def record_end_schema(run: Run, described: dict[str, Any] | None = None) -> None:
    """The schema this run leaves (``described``, else read now), into its claim
    (fingerprint and description): what a run killed later is judged by, and what the
    next run's drift check compares with. Where the lock step read the schema, only
    what the catalog shows changed since is read again."""
    with run.connect() as conn:
        now = schema.read_catalog(conn)
        start, was = run.start_described, run.start_catalog
        if described is None and start is not None and was is not None and now is not None:
            described = schema.describe_since(conn, start, was, now)
        if described is None:
            described = schema.describe(conn)
    run.record(
        end_fingerprint=schema.fingerprint_of(described),
        end_schema=schema.pack(described),
        end_catalog=None if now is None else now.digest,
    )


def describe_now(run: Run) -> dict[str, Any] | None:
    """The schema as it is (None: no database yet). Where the catalog's digest is the
    one the last run recorded with its end, that run's description is the schema's,
    and the schema is not read again."""
    return read_schema(run)[0]


def read_schema(run: Run) -> tuple[dict[str, Any] | None, schema.Catalog | None]:
    """The schema as it is (:func:`describe_now`), and the catalog it was read with."""
    if not run.dialect.database_exists():
        return None, None
    with run.connect() as conn:
        last = ledger.last_end(conn)
        found = schema.read_catalog(conn)
        if (
            last
            and last["end_catalog"]
            and last["end_schema"]
            and found is not None
            and found.digest == last["end_catalog"]
        ):
            return schema.unpack(str(last["end_schema"])), found
        return schema.describe(conn), found


def drift_of(
    run: Run, current: str | None, live: dict[str, Any] | None
) -> tuple[str, list[str]] | None:
    """(the run that left the schema, each difference since) when the live schema is
    not the one the last recording run left at ``current``; None when it is, or when no
    run recorded one there."""
    if live is None:
        return None
    with run.connect() as conn:
        last = ledger.last_end(conn)
    if not last or not last["end_schema"] or last["to_revision"] != current:
        return None
    if schema.fingerprint_of(live) == last["end_fingerprint"]:
        return None
    left = schema.unpack(str(last["end_schema"]))
    differences = schema.diff(
        left, live, more="added outside slipway", less="removed outside slipway"
    )
    return str(last["run_id"]), differences or ["the schema changed outside slipway"]


def check_drift(run: Run, current: str | None, live: dict[str, Any] | None) -> list[str]:
    """The live schema against the one the last run left at ``current`` (recorded by its
    verify step, a rollback or an adoption): each difference in words. With the
    environment's drift policy ``refuse`` a difference is a refusal; with ``warn`` the
    differences are said (the log, the report's ``drift``) and the run goes on."""
    found = drift_of(run, current, live)
    if found is None:
        return []
    since, differences = found
    run.report.data["drift"] = {"since_run": since, "differences": differences}
    shown = "; ".join(differences[:5]) + (
        f" (and {len(differences) - 5} more)" if len(differences) > 5 else ""
    )
    said = f"the schema drifted since run {since} left it at {current or 'base'}: {shown}"
    if run.settings.options.drift_policy == "refuse":
        raise Refused(
            said,
            check="drift",
            hint="undo the change, or make it a revision; to keep the schema as it is: "
            + run.settings.command("adopt", "--accept-drift"),
        )
    log.warning("%s", said)
    return [f"warning: {said}"]


def fingerprint_now(run: Run) -> str | None:
    if not run.dialect.database_exists():
        return None
    with run.connect() as conn:
        return schema.fingerprint(conn)


def verify(
    run: Run,
    expected: str | None,
    *,
    name: str = "verify",
    record_end: bool = False,
    revisions: list[Revision] | None = None,
) -> None:
    """The database is at ``expected``, read through a fresh connection; then the own
    checks of ``revisions`` (their ``verify`` or ``verify_sql``) pass. With
    ``record_end``, the schema's fingerprint there goes into the run's claim: a run killed
    after this step is known to have left the database as it meant to."""
    with run.report.step(name) as step:
        current, _ = read_current(run, fingerprint=False)
        run.report.at(current)
        if current != expected:
            step.detail = f"database is at {current or 'base'}, expected {expected or 'base'}"
            raise StepFailed(name, step.detail)
        checked = _revision_checks(run, revisions or [], name)
        if record_end:
            record_end_schema(run)
        step.detail = f"current = {current or 'base'} (fresh connection)" + (
            f"; {checked} revision check(s) passed" if checked else ""
        )


def rollback(run: Run, start: str | None, start_fingerprint: str | None) -> None:
    """Downgrade from wherever the database is back to ``start``, then prove it. The
    statements that ran are recorded in ``rollback.sql``."""
    with run.report.step("rollback") as step:
        current, _ = read_current(run, fingerprint=False)
        run.report.at(current)
        heads = tuple(current.split(",")) if current else ()
        unknown = [h for h in heads if not run.project.knows(h)]
        if unknown:
            raise StepFailed(
                "rollback", f"database is at {unknown[0]}: no downgrade leads to {start or 'base'}"
            )
        below = {r.id for r in run.project.applied(start)}
        undo = [r for r in run.project.applied(heads) if r.id not in below]
        if start is not None and not set(below) <= {r.id for r in run.project.applied(heads)}:
            raise StepFailed(
                "rollback", f"database is at {current or 'base'}, which is not above {start}"
            )
        if undo:
            recording = Recording()
            timeout = run.settings.options.own_lock_timeout_s  # recovery may wait longer
            guard = run.guard(
                timeouts=(timeout, run.settings.options.statement_timeout_s), recording=recording
            )
            log.info("downgrading %s -> %s", current, start or "base")
            try:
                run.project.migrate(
                    run.engine, guard, up=False, destination=start, url=run.settings.url
                )
            except Exception as err:
                failed = run.project.running or current
                recording.note(f"failed: {redact(first_line(err), run.settings.secrets)}")
                step.detail = f"downgrade of {failed} failed: {first_line(err)}"
                raise StepFailed("rollback", step.detail, revision=failed) from err
            finally:
                write_evidence(run, "rollback", recording.text())
                _forget_undone(run, below)
        run.report.at(start)
        _prove_at(run, start, start_fingerprint, step_name="rollback")
        step.detail = f"downgraded {len(undo)} revision(s); at {start or 'base'}, schema as before"


def _forget_undone(run: Run, kept: set[str]) -> None:
    """Checksums of revisions no longer applied leave the ledger (where it can be reached)."""
    try:
        current, _ = read_current(run, fingerprint=False)
        run.report.at(current)
        now = {r.id for r in run.project.applied(tuple(current.split(",")) if current else ())}
        with run.connect() as conn, conn.begin():
            for rev in set(ledger.recorded_checksums(conn)) - now - kept:
                ledger.forget_checksum(conn, rev)
    except Exception:
        log.warning("checksums of rolled-back revisions could not be forgotten", exc_info=True)


def _prove_at(
    run: Run, start: str | None, start_fingerprint: str | None, *, step_name: str
) -> None:
    current, fp = read_current(run)
    run.report.at(current)
    if current != start:
        raise StepFailed(
            step_name, f"database is at {current or 'base'}, expected {start or 'base'}"
        )
    if start_fingerprint is not None and fp != start_fingerprint:
        raise StepFailed(
            step_name,
            f"database is at {start or 'base'} but its schema differs from before the run "
            "(a non-transactional migration left objects behind)",
        )


def restore(
    run: Run, backup_ref: FileRef, start: str | None, start_fingerprint: str | None
) -> None:
    with run.report.step("restore") as step:
        path = Path(backup_ref.path)
        if checksum(path)[0] != backup_ref.sha256:
            raise StepFailed("restore", f"backup {path} no longer matches its recorded sha256")
        said = restore_keeping_history(run, path)
        _prove_at(run, start, start_fingerprint, step_name="restore")
        step.detail = f"restored {path}; at {start or 'base'}, schema as before" + (
            f"; {said}" if said else ""
        )


def restore_keeping_history(run: Run, path: Path) -> str | None:
    """Load a backup; the run history is a log of what happened and survives it, inside
    the restore's own transaction or swap. What a targeted restore did."""
    tries: list[float] = []
    waits = _counted(lock_tries(run.settings.options), tries)
    try:
        if targeted.is_targeted(path):
            # The run history is not among its tables: it stays as it is.
            with BlockerWatch(run) as watch:
                said = run.dialect.restore_tables(path, waits)
            log.info("targeted restore: %s", said)
            return said
        with run.connect() as conn:
            keep = ledger.kept(conn)
        with (
            progress.ticking(progress.file_read(path, "restore")),
            BlockerWatch(run) as watch,
        ):
            run.dialect.restore(path, keep, waits)
        return None
    except LockWaitTimeout as err:
        held = describe_blockers(watch.take(), run.settings.secrets)
        raise Refused(
            f"the restore gave up waiting for the application's locks after {len(tries)} "
            f"tries of at most {max(tries, default=0):g} s each; the database is as it was"
            + (f" (held by {held})" if held else f": {first_line(err)}"),
            check="lock_wait",
            hint="end the sessions holding locks on the database's tables (long "
            "transactions), then run the restore again",
        ) from err
    except run.dialect.failures as err:
        raise StepFailed("restore", redact(first_line(err), run.settings.secrets)) from err
    finally:
        run.forget_connections()


def lock_tries(options: Options) -> Iterator[float]:
    """The lock timeouts of a statement's tries that must wait for the application's
    locks: the ladder (lock_timeouts_s), then its last until lock_retry_window_s has
    passed since the first try; a growing, jittered pause before each next try."""
    ladder = options.lock_timeouts_s
    first = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        timeout = ladder[min(attempt, len(ladder)) - 1]
        yield timeout
        pause = retry_pause(options.lock_retry_pause_s, attempt)
        spent = time.monotonic() - first + pause + timeout
        if attempt >= len(ladder) and spent > options.lock_retry_window_s:
            return
        time.sleep(pause)


def _counted(tries: Iterator[float], taken: list[float]) -> Iterator[float]:
    for timeout in tries:
        taken.append(timeout)
        yield timeout


def trusted_backup(run: Run, path: Path, *, foreign: bool) -> FileRef:
    """The backup ``db restore`` may load: one whose sha256 a run of this database
    recorded (in the ledger, or in a run report when the ledger is gone), and that its
    dialect's own check accepts. Anything else is refused before the database is
    touched; ``foreign`` accepts a file from elsewhere, still checked."""
    if not path.exists():
        raise BadInput(f"backup {path} does not exist", hint="name a file 'db history' lists")
    try:
        sha, size = checksum(path)
    except OSError as err:
        raise BadInput(f"backup {path} cannot be read: {first_line(err)}") from err
    ref = FileRef(str(path), sha, size)
    if not foreign:
        runs = _runs_with_backups(run)
        if not any(r.get("backup_sha256") == sha for r in runs):
            same_path = [r for r in runs if r.get("backup_path") == str(path)]
            why = (
                f"its content changed since run {same_path[0]['run_id']} wrote it "
                "(truncated or corrupted)"
                if same_path
                else f"no run of {run.settings.safe_url()} recorded a backup with its sha256"
            )
            raise BadInput(
                f"backup {path} is not one slipway took of this database: {why}",
                hint="restore a backup named in 'slipway db history' or a run report; "
                "to load a file from elsewhere on purpose, add --foreign-backup",
            )
    try:
        run.dialect.validate_backup(targeted.dump_of(path))
    except run.dialect.failures as err:
        raise BadInput(
            f"backup {path} is not a valid {run.dialect.name} backup: "
            f"{redact(first_line(err), run.settings.secrets)}",
            hint="nothing was changed; name a complete backup",
        ) from err
    return ref


def _runs_with_backups(run: Run) -> list[dict[str, Any]]:
    """Runs of this database that recorded a backup: the ledger's, then the reports in
    the artifacts folder that name this database."""
    with run.connect() as conn:
        rows = [r for r in ledger.all_runs(conn) if r.get("backup_sha256")]
    me = run.report.database
    for path in sorted(run.settings.artifacts_dir.glob("*/report.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        db, backup = data.get("database") or {}, data.get("backup") or {}
        if backup.get("sha256") and all(db.get(k) == me[k] for k in ("dialect", "host", "name")):
            rows.append(
                {
                    "run_id": data.get("run_id"),
                    "backup_path": backup.get("path"),
                    "backup_sha256": backup.get("sha256"),
                }
            )
    return rows
