"""The outcomes of a run and their exit codes, in one place: the contract docs/contract.md
describes under "Outcomes and exit codes"."""

from __future__ import annotations

import enum


class _Word(str, enum.Enum):
    """An enum whose members are their words (``enum.StrEnum`` is Python 3.11+)."""

    def __str__(self) -> str:
        return str(self.value)


class Outcome(_Word):
    APPLIED = "applied"
    NOOP = "noop"
    ERROR = "error"
    BAD_INPUT = "bad_input"
    REFUSED = "refused"
    ROLLED_BACK = "rolled_back"
    RESTORED = "restored"
    NEEDS_ATTENTION = "needs_attention"
    # A claim that is still open: only ever seen in the ledger, never as a result.
    RUNNING = "running"
    # A claim closed by ``slipway db unlock`` after its process died.
    ABANDONED = "abandoned"

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self]


class Phase(_Word):
    """Where a run is: what a failure at this moment means."""

    CHECKING = "checking"  # nothing has changed yet: a failure refuses the run
    CHANGING = "changing"  # a step that changes the database has begun
    RECOVERING = "recovering"  # rollback or restore under way
    ENDED = "ended"


EXIT_CODES: dict[Outcome, int] = {
    Outcome.APPLIED: 0,
    Outcome.NOOP: 0,
    Outcome.ERROR: 1,
    Outcome.BAD_INPUT: 2,
    Outcome.REFUSED: 3,
    Outcome.ROLLED_BACK: 4,
    Outcome.RESTORED: 5,
    Outcome.NEEDS_ATTENTION: 6,
    Outcome.RUNNING: 1,
    Outcome.ABANDONED: 6,
}
