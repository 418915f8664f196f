"""The guarded release and the single-purpose commands, as library functions.

Each function takes :class:`~slipway.config.Settings` and returns the run's
:class:`~slipway.report.Report`; none of them prints or exits.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError

from slipway import ledger, pitr, plan, schema, signals, steps
from slipway.config import Settings
from slipway.errors import BadInput, Refused, StepFailed
from slipway.outcomes import Outcome, Phase
from slipway.report import ErrorRecord, FileRef, Report
from slipway.run import Run, State, claim_alive

log = logging.getLogger(__name__)


def release(
    settings: Settings, *, run_id: str | None = None, to: str | None = None, phase: str = "all"
) -> Report:
    """preflight, lock, then the plan (backup, render and rehearse, apply, verify); on a
    failure once changes began, rollback, then restore. ``to``: up to that revision
    only, not the head. ``phase``: the pending pre-deploy revisions only (``pre``), the
    post-deploy ones (``post``), or all."""
    with Run(settings, "release", run_id=run_id, target=to, phase=phase) as run:
        run.report.data["phase"] = phase
        state = steps.preflight(run, backup_early=True)
        state = steps.lock(run)
        run.record(phase=phase)
        if not state.pending:
            for name in plan.SKIPPED_WHEN_NOTHING_PENDING:
                run.report.skip(name, "nothing pending")
            run.report.finish(Outcome.NOOP)
            return run.report
        # The schema as the lock step found it: recorded before the first step that
        # changes the database.
        found = run.start_described
        start_fp = schema.fingerprint_of(found) if found is not None else None
        recorded = False
        try:
            for step in plan.PLAN:
                if step.changes and not recorded:
                    run.record(start_fingerprint=start_fp)
                    recorded = True
                plan.advance(run, step.name, state)
        except plan.ChangesFailed:
            log.info("rolling back to %s", state.current or "base")
            with signals.shielded(f"rolling back to {state.current or 'base'}"):
                recover(run, state.current, start_fp, run.report.backup)
            return run.report
        run.report.finish(Outcome.APPLIED)
    return run.report


def recover(run: Run, start: str | None, start_fp: str | None, backup: FileRef | None) -> None:
    """Rollback to ``start``; if that fails, restore where allowed; else say what to run."""
    run.report.phase = Phase.RECOVERING
    # Once the database is back where it was: the fixed revision is released the same way.
    run.report.data["release_command"] = run.settings.command("release")
    try:
        steps.rollback(run, start, start_fp)
        run.report.next_command = None  # the run has ended where it began
        run.report.finish(Outcome.ROLLED_BACK)
        return
    except Exception as err:  # noqa: BLE001 - every failure ends in a contract outcome
        later = ErrorRecord.of(plan.as_failure(err, "rollback"), run.settings.secrets)
        log.error("rollback failed: %s", later.message)
        run.report.error = run.report.error.then(later) if run.report.error else later
    if backup is None:
        recovery = _recovery_command(run)
        if recovery is None:
            run.report.skip("restore", "no backup was taken")
        else:
            run.report.skip(
                "restore",
                "a restore point rewinds the whole cluster: slipway does not recover it by "
                "itself; the next command does",
            )
            run.report.next_command = recovery
        run.report.finish(Outcome.NEEDS_ATTENTION)
        return
    run.report.next_command = run.settings.command("restore", "--backup", backup.path, "--yes")
    if not run.settings.options.restore_on_failed_rollback:
        run.report.skip("restore", f"not allowed on {run.settings.env}")
        run.report.finish(Outcome.NEEDS_ATTENTION)
        return
    try:
        steps.restore(run, backup, start, start_fp)
    except Exception as err:  # noqa: BLE001 - see above
        log.error("restore failed: %s", plan.as_failure(err, "restore").message)
        run.report.finish(Outcome.NEEDS_ATTENTION)
        return
    run.report.next_command = None
    run.report.finish(Outcome.RESTORED)


def _recovery_command(run: Run) -> str | None:
    """The point-in-time recovery to this run's restore point, where it created one."""
    point = pitr.point_of(run)
    return None if point is None else pitr.recovery_command(run, *point)


# The single steps, for operators and for Ansible tasks --------------------------------


def preflight(settings: Settings, *, phase: str = "all") -> Report:
    """Every check of the release (of ``phase``'s revisions), changing nothing; its run
    id starts a release whose steps run as separate processes (slipway.staged)."""
    with Run(settings, "preflight", phase=phase) as run:
        run.report.data["phase"] = phase
        state = steps.preflight(run)
        if state.exists:
            said = steps.check_drift(run, state.current, steps.describe_now(run))
            run.report.steps[-1].detail = "; ".join([run.report.steps[-1].detail, *said])
        run.report.finish(Outcome.NOOP)
    return run.report


def render(settings: Settings, from_revision: str | None = None) -> Report:
    """The SQL of the pending revisions; with ``from_revision`` (a revision or ``base``),
    of those above it, without reading the database (a merge request's new revisions)."""
    with Run(settings, "render") as run:
        if from_revision is None:
            state = steps.preflight(run)
        else:
            start, revisions = run.project.above(from_revision)
            head = run.project.single_head()
            state = State(start, head, revisions, exists=False)
            run.report.from_revision, run.report.to_revision = start, head
            run.report.data["rendered_from"] = start or "base"  # the database is not read
            run.report.pending = [r.id for r in state.pending]
        steps.render(run, state)
        run.report.finish(Outcome.NOOP)
    return run.report


def backup(settings: Settings) -> Report:
    with Run(settings, "backup") as run:
        steps.preflight(run)
        state = steps.lock(run)
        steps.backup(run, state)
        run.report.to_revision = state.current
        run.report.finish(Outcome.APPLIED)
    return run.report


def apply(settings: Settings) -> Report:
    """``upgrade head`` without backup or automatic rollback: the caller handles failure."""
    with Run(settings, "apply") as run:
        steps.preflight(run)
        state = steps.lock(run)
        if not state.pending:
            run.report.finish(Outcome.NOOP)
            return run.report
        try:
            steps.apply(run, state)
        except StepFailed as failure:
            run.report.fail(failure, settings.secrets)
            run.report.next_command = settings.command("rollback", "--to", state.current or "base")
            run.report.finish(Outcome.NEEDS_ATTENTION)
            return run.report
        run.report.finish(Outcome.APPLIED)
    return run.report


def verify(settings: Settings, expected: str | None = None) -> Report:
    with Run(settings, "verify") as run:
        target = expected or run.project.single_head()
        if target != "base" and not run.project.knows(target):
            raise BadInput(
                f"revision {target} is not in the migration graph",
                hint="name a revision of this code, or 'base'",
            )
        try:
            steps.verify(run, None if target == "base" else target)
        except StepFailed as failure:
            run.report.fail(failure, settings.secrets)
            run.report.finish(Outcome.NEEDS_ATTENTION)
            return run.report
        run.report.to_revision = target
        run.report.finish(Outcome.APPLIED)
    return run.report


def rollback(
    settings: Settings, to: str | None, *, confirm: Callable[[str], bool] | None = None
) -> Report:
    """Downgrade to ``to`` (a revision, ``base``, or ``-N``: N revisions down, as
    Alembic's relative steps), or to where the last run started, after a backup (where
    the environment backs up). A target the database is not above is bad input,
    refused before the lock: nothing is recorded. What it will undo is said (the log,
    the report's ``undoing``) before anything changes; ``confirm`` is asked that, and
    a no ends the run refused with nothing changed."""
    with Run(settings, "rollback") as run:
        if to is not None and to != "base" and not _relative(to) and not run.project.knows(to):
            raise BadInput(f"revision {to} is not in the migration graph")
        state = steps.preflight(run, gate=False)
        target = _rollback_target(run, state, to)
        run.report.from_revision, run.report.to_revision = state.current, target
        if target == state.current:
            # Nothing to downgrade, unless a dead run left this revision's schema changed:
            # the lock's check of open claims says so (and closes a clean one).
            run.lock(remedy=True)
            run.report.finish(Outcome.NOOP)
            return run.report
        undoing = [r for r in run.project.applied(state.current) if r.id not in _below(run, target)]
        said = (
            f"rollback of {settings.env} from {state.current or 'base'} to {target or 'base'} "
            f"undoes {len(undoing)} revision(s): "
            + "; ".join(f"{r.id} ({r.message})" for r in reversed(undoing))
        )
        run.report.data["undoing"] = [r.id for r in reversed(undoing)]
        log.info("%s", said)
        if confirm is not None and not confirm(said):
            raise Refused(
                "rollback not confirmed: nothing was changed",
                check="confirm",
                hint="run it again and answer y, or pass --yes",
            )
        steps.lock(run, remedy=True)
        dead = run.dead_run_start
        # A downgrade may drop tables and columns: backed up first, as a release is.
        backup = (
            steps.backup(run, state, undoing=(target, undoing))
            if settings.options.backup_methods
            else None
        )
        if not settings.options.backup_methods:
            run.report.skip("backup", f"backup: false for {settings.env}")
        try:
            steps.rollback(run, target, dead[1] if dead and dead[0] == target else None)
            steps.record_end_schema(run)
        except StepFailed as failure:
            run.report.fail(failure, settings.secrets)
            if backup is not None:
                run.report.next_command = settings.command(
                    "restore", "--backup", backup.path, "--yes"
                )
            else:
                run.report.next_command = _recovery_command(run)
            run.report.finish(Outcome.NEEDS_ATTENTION)
            return run.report
        run.report.finish(Outcome.APPLIED)
    return run.report


def _below(run: Run, target: str | None) -> set[str]:
    return {r.id for r in run.project.applied(target)} if target else set()


def _relative(to: str) -> int | None:
    """N of ``-N``, else None."""
    return int(to[1:]) if to.startswith("-") and to[1:].isdigit() and int(to[1:]) > 0 else None


def _rollback_target(run: Run, state: State, to: str | None) -> str | None:
    """The revision a rollback goes down to (None: base), checked against where the
    database is: it must be at or above it."""
    at = state.current or "base"
    steps_down = _relative(to) if to is not None else None
    if to is None:
        with run.connect() as conn:
            previous = [
                r
                for r in ledger.runs(conn, 50)
                if r["command"] in ("release", "apply") and r["outcome"] == Outcome.APPLIED.value
            ]
        if not previous:
            raise BadInput("no applied run in the history to roll back", hint="pass --to REV")
        target: str | None = previous[0]["from_revision"]
    elif steps_down is not None:
        target = state.current
        for taken in range(steps_down):
            if target is None:
                raise BadInput(
                    f"--to {to}: the database is at {at}, {taken} revision(s) above base",
                    hint=f"pass --to -{taken}" if taken else "there is nothing to roll back",
                )
            rev = run.project.revision(target)
            if len(rev.parents) > 1:
                raise BadInput(
                    f"--to {to}: {rev.id} is a merge of {', '.join(rev.parents)}",
                    hint="name the revision to go down to: --to REV",
                )
            target = rev.down_revision
    else:
        target = None if to == "base" else to
    below = {r.id for r in run.project.applied(state.current)}
    if target is not None and target not in below:
        raise BadInput(
            f"--to {target}: the database is at {at}, which is not above {target}",
            hint="name a revision below the current one (slipway db history shows them), "
            "or release to go up",
        )
    return target


def restore(settings: Settings, backup_path: str, *, foreign: bool = False) -> Report:
    """Load a backup slipway took of this database (``foreign``: any valid backup) over
    it, all at once; the revision it holds is verified."""
    path = Path(backup_path)
    if not path.exists():
        raise BadInput(f"backup {path} does not exist", hint="name a file 'db history' lists")
    with Run(settings, "restore") as run:
        run.lock(remedy=True)
        ref = steps.trusted_backup(run, path, foreign=foreign)
        before, _ = steps.read_current(run, fingerprint=False)
        run.claim(before, None)
        run.report.from_revision, run.report.backup = before, ref
        with run.report.step("restore") as step:
            steps.restore_keeping_history(run, path)
            current, _ = steps.read_current(run, fingerprint=False)
            run.report.to_revision = current
            run.report.at(current)
            step.detail = f"restored {path}; database at {current or 'base'}"
        with run.connect() as conn, conn.begin():
            for row in ledger.all_runs(conn):
                if row["outcome"] == Outcome.NEEDS_ATTENTION.value and row["backup_path"] == str(
                    path
                ):
                    note = f"restored from its backup by {run.report.who} (run {run.run_id})"
                    ledger.set_outcome(conn, row["run_id"], Outcome.RESTORED, note)
        run.report.finish(Outcome.APPLIED)
    return run.report


def history(
    settings: Settings, limit: int = 20, *, failed: bool = False
) -> tuple[Report, list[dict[str, Any]]]:
    """Runs in the ledger, newest first (``failed``: only those that did not succeed)."""
    rows: list[dict[str, Any]] = []  # none when the run fails (the report says why)
    with Run(settings, "history", read_only=True) as run:
        # The ledger only: neither env.py nor any revision runs.
        try:
            with run.connect() as conn:
                rows = ledger.runs(conn, limit, failed=failed)
        except (OperationalError, InterfaceError) as err:
            raise run.unreachable(err) from err
        run.report.data["runs"] = rows
        run.report.finish(Outcome.NOOP)
    return run.report, rows


def unlock(settings: Settings, run_id: str) -> Report:
    """Close the claim of a run whose process died (after checking that it did), or
    acknowledge a run that ended needs_attention once the database is sound again."""
    with Run(settings, "unlock") as run:
        run.state()
        with run.report.step("unlock") as step:
            run.hold_lock()
            with run.connect() as conn:
                row = ledger.run(conn, run_id)
            if row is None:
                raise BadInput(f"no run {run_id} in the history of this database")
            if row["outcome"] not in (Outcome.RUNNING.value, Outcome.NEEDS_ATTENTION.value):
                raise BadInput(f"run {run_id} needs no unlock (outcome {row['outcome']})")
            claim = ledger.Claim(
                **{k: row[k] for k in ledger.Claim.__dataclass_fields__ if k in row}
            )
            if row["outcome"] == Outcome.RUNNING.value and claim_alive(claim):
                held = (
                    f"its lease runs until {claim.lease_until:%H:%M:%S}Z"
                    if claim.lease_until
                    else f"pid {claim.pid} on {socket.gethostname()}"
                )
                raise Refused(
                    f"run {run_id} is still alive ({held})",
                    check="claim",
                    hint="wait for it to finish",
                )
            if row["outcome"] == Outcome.RUNNING.value:
                run.end_sessions_of(claim)
                # Unlocking says the database is in a known state: the dead run's record
                # must prove it (its start, or its verified end); else the command that
                # puts it back is named.
                repair = run.repair_after(claim)
                if repair is not None:
                    where, fix = repair
                    raise Refused(
                        f"run {run_id} ended without finishing and left the database "
                        f"{where}; unlock would declare that schema clean",
                        check="claim",
                        hint=f"run: {fix}",
                    )
            current, fingerprint = steps.read_current(run, fingerprint=True)
            start_fp = row.get("start_fingerprint")
            if current == row["from_revision"] and start_fp and fingerprint != start_fp:
                # The revision is the one the run began at, the schema is not: unlocking
                # would declare a changed schema clean.
                backup = row.get("backup_path")
                fix = (
                    settings.command("restore", "--backup", str(backup), "--yes")
                    if backup
                    else f"remove what run {run_id} created by hand ('slipway db check' "
                    "names the differences), then unlock again"
                )
                raise Refused(
                    f"run {run_id} left the database at {current or 'base'} with a schema "
                    "that is not the one the run began with (DDL committed part-way); "
                    "unlock would leave it so",
                    check="claim",
                    hint=f"run: {fix}",
                )
            note = (
                f"{row['outcome']}, unlocked by {run.report.who}; "
                f"database found at {current or 'base'}"
            )
            with run.connect() as conn, conn.begin():
                ledger.close_claim(conn, run_id, Outcome.ABANDONED, detail=note)
            run.report.at(current)
            step.detail = note
        run.report.finish(Outcome.APPLIED)
    return run.report


def repair_checksum(settings: Settings, revision: str, reason: str) -> Report:
    """Re-baseline the recorded checksum of one applied revision whose file was changed
    on purpose; the reason is kept in the run history."""
    if not reason.strip():
        raise BadInput("--reason is empty", hint="say why the applied file was changed")
    with Run(settings, "ledger-repair") as run:
        state = run.state()
        applied = {r.id: r for r in run.project.applied(state.current)}
        if revision not in applied:
            raise BadInput(
                f"revision {revision} is not applied to this database "
                f"(at {state.current or 'base'})",
                hint="only applied revisions have a recorded checksum",
            )
        rev = applied[revision]
        run.lock(remedy=True)
        with run.connect() as conn:
            recorded = ledger.recorded_checksums(conn).get(revision)
        run.report.from_revision = run.report.to_revision = state.current
        with run.report.step("ledger-repair") as step:
            if recorded is not None and recorded[0] == rev.sha256:
                step.detail = f"{revision}: the recorded checksum already matches the file"
                run.report.finish(Outcome.NOOP)
                return run.report
            run.claim(state.current, state.current)
            with run.connect() as conn, conn.begin():
                ledger.record_checksum(
                    conn,
                    rev.id,
                    run.relpath(rev.path),
                    rev.sha256,
                    run.run_id,
                    "repaired",
                    file_sha256=rev.file_sha256,
                )
            was = recorded[0][:12] if recorded else "none"
            step.detail = f"{revision} ({run.relpath(rev.path)}): {was} -> {rev.sha256[:12]}"
            run.report.data["note"] = f"checksum of {revision} re-baselined: {reason.strip()}"
        run.report.finish(Outcome.APPLIED)
    return run.report
