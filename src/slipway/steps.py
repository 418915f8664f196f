"""The steps of the guarded release, each a function over a :class:`~slipway.run.Run`.

Every step records itself in the run's report; a step that changes the database raises
:class:`~slipway.errors.StepFailed` when it fails, and the release decides what follows.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import sqlite3
import time
from pathlib import Path

from slipway import ledger, lint, schema
from slipway.artifacts import checksum, make_private, private_dir, remove, write_atomic
from slipway.dialects import ToolFailed
from slipway.errors import Refused, StepFailed, first_line
from slipway.logs import redact
from slipway.migrations import Revision
from slipway.report import FileRef
from slipway.run import Run, State
from slipway.sqlrules import ServerVersion

log = logging.getLogger(__name__)


def preflight(run: Run) -> State:
    """Check everything that can be checked without changing anything."""
    with run.report.step("preflight") as step:
        state = run.state()
        run.report.from_revision = state.current
        run.report.to_revision = state.head
        run.report.current_revision = state.current
        run.report.pending = [r.id for r in state.pending]
        notes = [f"at {state.current or 'base'}, head {state.head}, {len(state.pending)} pending"]
        server = lint.local_server(lint_dialect(run))
        if state.exists:
            with run.connect() as conn:
                recorded = ledger.recorded_checksums(conn)
                for rev in run.project.applied(state.current):
                    if rev.id in recorded and recorded[rev.id][0] != rev.sha256:
                        raise Refused(
                            f"revision {rev.id} ({run.relpath(rev.path)}) was edited after it was "
                            "applied: its sha256 differs from the one recorded",
                            check="checksums",
                            hint="restore the file as applied; a change needs a new revision",
                        )
                notes.append(f"{len(recorded)} checksums match")
                if state.pending:
                    size = run.dialect.size_bytes(conn)
                    notes.append(run.dialect.check_tools(conn))
                    _check_room(run, size)
                    server = lint.server_version(conn)
        if state.pending and run.settings.lint_fail_on != "never":
            notes.append(lint_gate(run, state, server).summary())
        step.detail = "; ".join(notes)
    return state


def lint_dialect(run: Run) -> str:
    return "mysql" if run.settings.backend in ("mysql", "mariadb") else run.settings.backend


def lint_revisions(
    run: Run, revisions: list[Revision], server: ServerVersion | None
) -> lint.LintResult:
    """Lint ``revisions`` for this server with the environment's policy; the findings go
    in the run's report."""
    result = lint.check(
        run.project,
        revisions,
        dialect=lint_dialect(run),
        server=server,
        fail_on=run.settings.lint_fail_on,
        rules=run.settings.lint_rules,
        relpath=run.relpath,
    )
    run.report.data["lint"] = result.to_dict()
    return result


def lint_gate(run: Run, state: State, server: ServerVersion | None) -> lint.LintResult:
    """Lint the pending revisions for this server; refuse unaccepted blocking findings."""
    result = lint_revisions(run, state.pending, server)
    refusal = result.refusal()
    if refusal is not None:
        raise refusal
    return result


def _check_room(run: Run, size: int) -> None:
    folder = run.settings.backup_dir
    probe = folder
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    need = int(size * run.settings.backup_min_free_ratio)
    if free < need:
        raise Refused(
            f"backup folder {folder} has {free} bytes free, a backup needs about {need}",
            check="backup_room",
            hint="free space there, or set backup_dir to a larger disk",
        )


def lock(run: Run, *, remedy: bool = False, lease: bool = False) -> State:
    """Take the release lock, refuse open claims, re-read the state under the lock, claim."""
    with run.report.step("lock") as step:
        run.lock(remedy=remedy)
        state = run.state()
        if state.current != run.report.from_revision:
            # Someone released between our preflight and our lock: check again.
            run.report.steps.pop()
            state = preflight(run)
            run.report.steps.append(step)
        run.claim(state.current, state.head, lease=lease)
        step.detail = f"held for run {run.run_id}"
    return state


def backup(run: Run) -> FileRef:
    with run.report.step("backup") as step:
        settings = run.settings
        folder = private_dir(settings.backup_dir)
        name = f"{settings.database_name.rsplit('/', 1)[-1]}"
        stem = Path(name).stem or "database"
        suffix = run.dialect.suffix(settings.backup_jobs)
        target = folder / f"{stem}-{run.run_id}{suffix}"
        try:
            run.dialect.backup(target, max(settings.lock_timeouts_s), settings.backup_jobs)
            make_private(target)
            step.detail = run.dialect.validate_backup(target)
        except (ToolFailed, OSError, sqlite3.Error) as err:  # a full disk shows up as any
            if target.exists():
                remove(target)
            raise Refused(
                f"backup failed: {redact(first_line(err), settings.secrets)}",
                check="backup",
                hint="no change was made; fix the backup and release again",
            ) from err
        sha, size = checksum(target)
        ref = FileRef(path=str(target), sha256=sha, bytes=size)
        pruned = _prune(folder, f"{stem}-*{suffix}", settings.backup_keep)
        if pruned:
            step.detail += f"; pruned {len(pruned)} old backup(s)"
        run.report.backup = ref
    return ref


def _prune(folder: Path, pattern: str, keep: int) -> list[Path]:
    # Oldest first by time written; the run id in the name (UTC time first) breaks ties.
    old = sorted(folder.glob(pattern), key=lambda p: (p.stat().st_mtime_ns, p.name))[:-keep]
    for path in old:
        remove(path)
    return old


def render(run: Run, state: State) -> dict[str, FileRef]:
    """Write ``upgrade.sql`` and ``downgrade.sql`` for the pending revisions."""
    with run.report.step("render") as step:
        try:
            up = run.project.upgrade_sql(state.current, state.head)
            down = run.project.downgrade_sql(state.head, state.current)
        except Exception as err:
            raise Refused(
                f"the pending revisions cannot be rendered as SQL: {first_line(err)}",
                check="render",
                hint="a migration must work offline (--sql); no change was made",
            ) from err
        refs = {}
        for kind, sql in (("upgrade", up), ("downgrade", down)):
            path = run.dir / f"{kind}.sql"
            write_atomic(path, redact(sql, run.settings.secrets))
            data = path.read_bytes()
            refs[kind] = FileRef(str(path), hashlib.sha256(data).hexdigest(), len(data))
        run.report.sql = refs
        step.detail = f"{len(state.pending)} revision(s), {refs['upgrade'].bytes} bytes up"
    return refs


def _upgrade_one(run: Run, rev: Revision, lock_timeout_s: float) -> None:
    with run.connect() as conn, conn.begin():
        run.dialect.set_timeouts(conn, lock_timeout_s, run.settings.statement_timeout_s)
        run.project.upgrade(conn, rev.id)
        ledger.record_checksum(
            conn, rev.id, run.relpath(rev.path), rev.sha256, run.run_id, "applied"
        )


def apply(run: Run, state: State) -> None:
    """``upgrade head`` one revision per transaction, with the lock-timeout retry ladder."""
    with run.report.step("apply") as step:
        ladder = run.settings.lock_timeouts_s
        retries = 0
        for rev in state.pending:
            for attempt, timeout in enumerate(ladder, start=1):
                try:
                    log.info("applying %s (lock_timeout %ss)", rev.id, timeout)
                    _upgrade_one(run, rev, timeout)
                    run.report.current_revision = rev.id
                    break
                except Exception as err:
                    retryable = run.dialect.transactional_ddl and run.dialect.is_lock_timeout(err)
                    if retryable and attempt < len(ladder):
                        retries += 1
                        log.warning(
                            "revision %s waited longer than %ss for a lock; retrying",
                            rev.id,
                            timeout,
                        )
                        time.sleep(run.settings.lock_retry_pause_s * attempt)
                        continue
                    why = first_line(err)
                    if retryable:
                        why = f"no lock within {timeout}s after {attempt} tries: {why}"
                    step.detail = f"revision {rev.id} failed: {why}"
                    raise StepFailed("apply", step.detail, revision=rev.id) from err
        step.detail = f"{len(state.pending)} revision(s) applied" + (
            f", {retries} lock retries" if retries else ""
        )


def read_current(run: Run) -> tuple[str | None, str]:
    """(revision, schema fingerprint) through a fresh connection."""
    engine = run.fresh_engine()
    try:
        with engine.connect() as conn:
            heads = run.project.current(conn)
            fp = schema.fingerprint(conn)
    finally:
        engine.dispose()
    if len(heads) > 1:
        return ",".join(heads), fp
    return (heads[0] if heads else None), fp


def fingerprint_now(run: Run) -> str | None:
    if not run.dialect.database_exists():
        return None
    with run.connect() as conn:
        return schema.fingerprint(conn)


def verify(run: Run, expected: str | None, *, name: str = "verify") -> None:
    with run.report.step(name) as step:
        current, _ = read_current(run)
        run.report.current_revision = current
        if current != expected:
            step.detail = f"database is at {current or 'base'}, expected {expected or 'base'}"
            raise StepFailed(name, step.detail)
        step.detail = f"current = {current or 'base'} (fresh connection)"


def _undo_path(run: Run, start: str | None, current: str | None) -> list[tuple[str, str | None]]:
    """(revision, the one below it) pairs that lead from ``current`` down to ``start``."""
    if current == start:
        return []
    if current is None or not run.project.knows(current):
        raise StepFailed(
            "rollback", f"database is at {current or 'base'}: no downgrade leads to {start}"
        )
    try:
        revisions = run.project.pending(start, current)
    except Exception as err:  # alembic's graph errors: current is not above start
        raise StepFailed(
            "rollback", f"database is at {current}, which is not above {start or 'base'}"
        ) from err
    ids: list[str | None] = [start, *(r.id for r in revisions)]
    return [(str(ids[i]), ids[i - 1]) for i in range(len(ids) - 1, 0, -1)]


def rollback(run: Run, start: str | None, start_fingerprint: str | None) -> None:
    """Downgrade from wherever the database is back to ``start``, then prove it."""
    with run.report.step("rollback") as step:
        current, _ = read_current(run)
        run.report.current_revision = current
        undo = _undo_path(run, start, current)
        for rev, below in undo:
            log.info("downgrading %s -> %s", rev, below or "base")
            try:
                with run.connect() as conn, conn.begin():
                    timeout = run.settings.lock_timeouts_s[-1]
                    run.dialect.set_timeouts(conn, timeout, run.settings.statement_timeout_s)
                    run.project.downgrade(conn, below)
                    ledger.forget_checksum(conn, rev)
                run.report.current_revision = below
            except Exception as err:
                step.detail = f"downgrade of {rev} failed: {first_line(err)}"
                raise StepFailed("rollback", step.detail, revision=rev) from err
        _prove_at(run, start, start_fingerprint, step_name="rollback")
        step.detail = f"downgraded {len(undo)} revision(s); at {start or 'base'}, schema as before"


def _prove_at(
    run: Run, start: str | None, start_fingerprint: str | None, *, step_name: str
) -> None:
    current, fp = read_current(run)
    run.report.current_revision = current
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
        restore_keeping_history(run, path)
        _prove_at(run, start, start_fingerprint, step_name="restore")
        step.detail = f"restored {path}; at {start or 'base'}, schema as before"


def restore_keeping_history(run: Run, path: Path) -> None:
    """Load a backup; the run history is a log of what happened and survives it."""
    with run.connect() as conn:
        rows = ledger.all_runs(conn)
    try:
        run.dialect.restore(path)
    except ToolFailed as err:
        raise StepFailed("restore", redact(str(err), run.settings.secrets)) from err
    with run.connect() as conn, conn.begin():
        ledger.ensure(conn)
        ledger.put_runs(conn, rows)
