"""The guarded release as one plan, and the one way to take a step of it.

The plan is the ordered steps after the lock: what each needs done before it, and
whether it changes the database. :func:`advance` refuses a step out of order, runs it,
and applies the one failure policy: a failure before any change ends the run as the
error says (refused, bad input; see ``Run.fail``); a failure once the database changes,
SIGINT and SIGTERM included, is recorded and raised as :class:`ChangesFailed`, which the
caller answers by putting the database back. ``release()`` advances through the plan in
one process and recovers at once; a staged step (Ansible's one process per step)
advances the joined run by one and leaves the recovery to ``rollback --run-id``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from slipway import steps
from slipway.errors import Refused, StepFailed
from slipway.outcomes import Phase
from slipway.report import ErrorRecord, Report
from slipway.run import Run, State

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlannedStep:
    name: str
    needs: tuple[str, ...]
    changes: bool  # the database may change while it runs
    action: Callable[[Run, State], None]


def _backup(run: Run, state: State) -> None:
    if not run.settings.options.backup_methods:
        run.report.skip("backup", f"backup: false for {run.settings.env}")
        return
    steps.backup(run, state)


def _render(run: Run, state: State) -> None:
    steps.render(run, state)
    steps.rehearse(run, state, run.report.backup)


def _apply(run: Run, state: State) -> None:
    steps.apply(run, state)


def _verify(run: Run, state: State) -> None:
    steps.verify(run, state.head, record_end=True, revisions=state.pending)


PLAN: tuple[PlannedStep, ...] = (
    PlannedStep("backup", (), False, _backup),
    PlannedStep("render", ("backup",), False, _render),
    PlannedStep("apply", ("backup", "render"), True, _apply),
    PlannedStep("verify", ("apply",), True, _verify),
)
_BY_NAME = {s.name: s for s in PLAN}
# What a run whose steps were all skipped (nothing pending) shows.
SKIPPED_WHEN_NOTHING_PENDING = ("backup", "render", "rehearse", "apply", "verify")


class ChangesFailed(Exception):
    """A step failed after the database began to change: the run must be put back."""

    def __init__(self, failure: StepFailed) -> None:
        super().__init__(failure.message)
        self.failure = failure


def done(report: Report, name: str) -> bool:
    # A step skipped by the environment's choice (backup: false) counts as taken.
    return any(s.name == name and s.status in ("ok", "skipped") for s in report.steps)


def check_order(run: Run, name: str) -> None:
    """Refuse a step whose predecessors have not run (the run itself is left as it is)."""
    missing = [n for n in _BY_NAME[name].needs if not done(run.report, n)]
    if missing:
        raise Refused(
            f"run {run.run_id} has no {' and no '.join(missing)} yet",
            check="order",
            hint=f"run '{run.settings.command(missing[0], '--run-id', run.run_id)}' first",
        )


def advance(run: Run, name: str, state: State) -> None:
    """Take step ``name`` of the plan under the one failure policy (module docstring)."""
    step = _BY_NAME[name]
    check_order(run, name)
    if not step.changes:
        step.action(run, state)
        return
    run.report.phase = Phase.CHANGING
    try:
        step.action(run, state)
    except (Exception, KeyboardInterrupt) as err:
        failure = as_failure(err, name)
        run.report.error = ErrorRecord.of(failure, run.settings.secrets)
        at = f" at {failure.location}" if failure.location else ""
        log.error("%s failed%s: %s", failure.step, at, run.report.error.message)
        raise ChangesFailed(failure) from err


def as_failure(err: BaseException, step: str) -> StepFailed:
    if isinstance(err, StepFailed):
        return err
    if isinstance(err, KeyboardInterrupt):
        return StepFailed(step, str(err) or "interrupted")
    log.debug("unexpected failure in %s", step, exc_info=err)
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return StepFailed(step, f"{type(err).__name__}: {text}")
