"""The guarded release as separate processes, one per step, joined by a run claim.

Ansible shows each step of the release as its own task, so each step is its own
``slipway`` process::

    preflight            -> a new run id (changes nothing)
    claim   --run-id R   -> preflight again under the lock, open R's claim (a lease)
    backup  --run-id R
    render  --run-id R
    apply   --run-id R
    verify  --run-id R   -> the run ends ``applied``
    rollback --run-id R  -> on any failure: the run ends rolled_back, restored or
                            needs_attention, exactly as :func:`slipway.release.release`

Every step after the claim joins run R: it continues R's report and run log, refuses
when R's claim is not open, and renews R's lease. A step that fails after the database
changed leaves the claim open (exit 6, ``next_command`` = the rollback), so no other
release can start before the run is rolled back.
"""

from __future__ import annotations

import logging

from slipway import plan, signals, steps
from slipway.config import Settings
from slipway.errors import Refused
from slipway.outcomes import Outcome
from slipway.release import recover
from slipway.report import ErrorRecord, Report
from slipway.run import Run, State

log = logging.getLogger(__name__)


def _rollback_command(run: Run) -> str:
    return run.settings.command("rollback", "--run-id", run.run_id)


def claim(settings: Settings, run_id: str | None = None, *, phase: str = "all") -> Report:
    """Take the release lock and open the run's claim; ``noop`` ends the run at once.
    A run begun by ``preflight`` keeps the phase it was begun with."""
    with Run(settings, "release", run_id=run_id, join=run_id is not None, phase=phase) as run:
        run.owns_report = True
        run.phase = str(run.report.data.get("phase") or phase)
        run.report.data["phase"] = run.phase
        if run.joined and run.report.outcome is not Outcome.NOOP:
            raise Refused(
                f"run {run.run_id} has already begun ({run.report.outcome.value})",
                check="claim",
                hint="start a new run with 'slipway db preflight'",
            )
        if not any(s.name == "preflight" for s in run.report.steps):
            steps.preflight(run)
        state = steps.lock(run, lease=True)
        run.record(phase=run.phase)
        if not state.pending:
            for name in plan.SKIPPED_WHEN_NOTHING_PENDING:
                run.report.skip(name, "nothing pending")
            run.report.finish(Outcome.NOOP)
            return run.report
        run.report.data["start_fingerprint"] = steps.fingerprint_now(run)
        run.record(start_fingerprint=run.report.data["start_fingerprint"])
        run.report.outcome = Outcome.RUNNING
    return run.report


def _joined(settings: Settings, run_id: str) -> Run:
    run = Run(settings, "release", run_id=run_id, join=True)
    run.phase = str(run.report.data.get("phase") or "all")  # as the run was begun
    return run


def _state(run: Run) -> State:
    """The state at the start of the run: the database must not have moved since."""
    state = run.state()
    if state.current != run.report.from_revision:
        raise Refused(
            f"the database is at {state.current or 'base'}, but run {run.run_id} started "
            f"at {run.report.from_revision or 'base'}",
            check="claim",
            hint=f"end this run with: {_rollback_command(run)}",
        )
    return state


def _step(settings: Settings, run_id: str, name: str) -> Report:
    """Advance joined run ``run_id`` by step ``name`` of the plan."""
    with _joined(settings, run_id) as run:
        # Out of order is refused before joining: the run itself goes on untouched.
        plan.check_order(run, name)
        run.join_claim()
        # From verify on, the database has moved on purpose: its start no longer holds.
        state = _state(run) if name != "verify" else _planned(run)
        try:
            plan.advance(run, name, state)
        except plan.ChangesFailed:
            _failed(run)
            return run.report
        if name == "verify":
            run.report.finish(Outcome.APPLIED)
    return run.report


def _planned(run: Run) -> State:
    """The run's state as planned (its head is the run's target)."""
    head = run.report.to_revision or run.project.single_head()
    return State(current=run.report.from_revision, head=head, pending=[], exists=True)


def backup(settings: Settings, run_id: str) -> Report:
    return _step(settings, run_id, "backup")


def render(settings: Settings, run_id: str) -> Report:
    return _step(settings, run_id, "render")


def apply(settings: Settings, run_id: str) -> Report:
    return _step(settings, run_id, "apply")


def verify(settings: Settings, run_id: str) -> Report:
    return _step(settings, run_id, "verify")


def rollback(settings: Settings, run_id: str) -> Report:
    """End a run that has not ended: back to where it started, by downgrade or backup.

    For a run that has already ended this changes nothing and returns its report, so a
    playbook's rescue can always call it and take its exit code as the run's outcome.
    """
    with _joined(settings, run_id) as run:
        if run.report.outcome is not Outcome.RUNNING:
            return run.report
        run.join_claim()
        start = run.report.from_revision
        if run.report.error is None:
            run.report.error = ErrorRecord("StepFailed", "the release was interrupted")
        log.error("rolling back run %s to %s", run_id, start or "base")
        with signals.shielded(f"rolling back run {run_id} to {start or 'base'}"):
            recover(run, start, run.report.data.get("start_fingerprint"), run.report.backup)
    return run.report


def _failed(run: Run) -> None:
    """The database may have changed: keep the claim, say how to end the run."""
    run.report.next_command = _rollback_command(run)
