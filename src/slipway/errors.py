"""One exception root, with subclasses that carry what the caller needs to act.

Only the CLI turns these into exit codes (see :mod:`slipway.outcomes`).
"""

from __future__ import annotations

from slipway.outcomes import Outcome


def first_line(err: BaseException) -> str:
    """The first line of what an exception says (a driver error's own message, not
    SQLAlchemy's wrapping), or its type's name when it says nothing."""
    orig = getattr(err, "orig", None) or err
    text = str(orig).strip() or type(orig).__name__
    return text.splitlines()[0]


class SlipwayError(Exception):
    """Root of every error slipway raises on purpose."""

    outcome: Outcome = Outcome.ERROR

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class BadInput(SlipwayError):
    """Configuration, URL, files or arguments are wrong; nothing was touched."""

    outcome = Outcome.BAD_INPUT


class Refused(SlipwayError):
    """Preflight or the lock said no; nothing was changed."""

    outcome = Outcome.REFUSED

    def __init__(self, message: str, *, check: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.check = check


class LockHeld(Refused):
    """Another release holds the database."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, check="lock", hint=hint)


class StepFailed(SlipwayError):
    """A step that changes the database failed; the release decides what follows."""

    def __init__(
        self,
        step: str,
        message: str,
        *,
        revision: str | None = None,
        location: str | None = None,
    ) -> None:
        super().__init__(message)
        self.step = step
        self.revision = revision
        # Where in the revision file it failed: "versions/0007_x.py:41".
        self.location = location


def env_error(err: BaseException) -> SlipwayError | None:
    """slipway's own refusal (the connection guard's, say), wherever a migration tool or
    a project's code wrapped it."""
    seen: set[int] = set()
    cur: BaseException | None = err
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, SlipwayError):
            return cur
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return None
