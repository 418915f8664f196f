"""The result of a run: steps, outcome, where the backup and SQL are, what to do next.

A :class:`Report` is plain data; :func:`render_summary` turns it into a few lines for a
person, ``to_dict`` into the JSON report docs/contract.md describes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slipway import progress
from slipway.artifacts import write_json
from slipway.config import Settings
from slipway.errors import Refused, SlipwayError, StepFailed, first_line
from slipway.logs import redact
from slipway.outcomes import Outcome, Phase

if TYPE_CHECKING:  # rich is imported where a summary is drawn
    from rich.console import Console

# The revision of a database with none applied, as Alembic's command line names it.
BASE = "base"


@dataclass
class Step:
    name: str
    status: str = "ok"  # ok | failed | skipped
    duration_s: float = 0.0
    detail: str = ""


@dataclass
class FileRef:
    path: str
    sha256: str
    bytes: int


@dataclass(frozen=True)
class ErrorRecord:
    """What went wrong: one record in every report, JSON and summary line."""

    type: str
    message: str
    step: str | None = None
    check: str | None = None
    hint: str | None = None
    # The revision a failed step was running, when it failed in one, and the file and
    # line of the statement that failed ("versions/0007_x.py:41").
    revision: str | None = None
    location: str | None = None

    @classmethod
    def of(
        cls, err: BaseException, secrets: Sequence[str] = (), *, step: str | None = None
    ) -> ErrorRecord:
        """From an exception: its first line (a driver error's SQL stays in the run log),
        secrets masked; what slipway's own errors carry (hint, check, step) kept."""
        message = err.message if isinstance(err, SlipwayError) else first_line(err)
        hint = err.hint if isinstance(err, SlipwayError) else None
        return cls(
            type=type(err).__name__,
            message=redact(message.strip().splitlines()[0] if message.strip() else "", secrets)
            or type(err).__name__,
            step=err.step if isinstance(err, StepFailed) else step,
            check=err.check if isinstance(err, Refused) else None,
            hint=redact(hint, secrets) if hint else None,
            revision=err.revision if isinstance(err, StepFailed) else None,
            location=err.location if isinstance(err, StepFailed) else None,
        )

    def then(self, later: ErrorRecord) -> ErrorRecord:
        """This failure, and one that followed while putting it right (a rollback)."""
        return dataclasses.replace(
            later,
            message=f"{self.message}; then {later.message}",
            type=later.type,
            revision=self.revision or later.revision,
            location=self.location or later.location,
        )

    @property
    def line(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


@dataclass
class Report:
    run_id: str
    env: str
    database: dict[str, str]
    command: str
    who: str
    started_at: str
    outcome: Outcome = Outcome.ERROR
    phase: Phase = Phase.CHECKING
    from_revision: str | None = None
    to_revision: str | None = None
    # Where the database was last read: a revision, heads joined by commas, or "base"
    # for an empty history; None only while it has not been read.
    current_revision: str | None = None
    pending: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    backup: FileRef | None = None
    sql: dict[str, FileRef] = field(default_factory=dict)
    error: ErrorRecord | None = None
    next_command: str | None = None
    artifacts_dir: str | None = None
    finished_at: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    # Shown with --debug only; never part of the JSON report.
    traceback: str | None = field(default=None, repr=False)

    @classmethod
    def begin(cls, settings: Settings, run_id: str, command: str, who: str) -> Report:
        return cls(
            run_id=run_id,
            env=settings.env,
            database={
                "dialect": settings.dialect_name,
                "name": settings.database_name,
                "host": settings.url.host or "",
                "url": settings.safe_url(),
            },
            command=command,
            who=who,
            started_at=_stamp(),
        )

    @classmethod
    def refused_early(
        cls, command: str, env: str, who: str, err: BaseException, secrets: Sequence[str]
    ) -> Report:
        """The report of a command that ended before a run began (bad settings, say):
        the same shape as every other, with no run id and no database."""
        outcome = err.outcome if isinstance(err, SlipwayError) else Outcome.ERROR
        report = cls(run_id="", env=env, database={}, command=command, who=who, started_at=_stamp())
        report.fail(err, secrets)
        report.finish(outcome)
        return report

    @classmethod
    def load(cls, folder: Path) -> Report:
        """The report a step of the same run wrote, to be continued."""
        data = json.loads((folder / "report.json").read_text(encoding="utf-8"))
        data.pop("exit_code", None)
        data["outcome"] = Outcome(data["outcome"])
        data["phase"] = Phase(data.get("phase", Phase.CHECKING))
        data["steps"] = [Step(**s) for s in data.get("steps", [])]
        data["backup"] = FileRef(**data["backup"]) if data.get("backup") else None
        data["sql"] = {k: FileRef(**v) for k, v in (data.get("sql") or {}).items()}
        data["error"] = ErrorRecord(**data["error"]) if data.get("error") else None
        return cls(**data)

    def fail(self, err: BaseException, secrets: Sequence[str] = (), **kw: str | None) -> None:
        """Record what went wrong (see :meth:`ErrorRecord.of`)."""
        self.error = ErrorRecord.of(err, secrets, **kw)

    @property
    def exit_code(self) -> int:
        if self.outcome is Outcome.RUNNING:
            # A step of a run that goes on: fine, or failed with the run left to be
            # rolled back (the report's next_command says how).
            return Outcome.NEEDS_ATTENTION.exit_code if self.error else 0
        return self.outcome.exit_code

    @contextmanager
    def step(self, name: str) -> Iterator[Step]:
        """Time a step; it is ``failed`` if the block raises, unless it set its own status."""
        record = Step(name=name)
        self.steps.append(record)
        start = time.monotonic()
        progress.current().begin(name)
        try:
            yield record
        except BaseException as err:
            record.status = "failed"
            record.detail = record.detail or str(err)
            raise
        finally:
            record.duration_s = round(time.monotonic() - start, 3)
            progress.current().end(name, record.status, record.duration_s, record.detail)

    def at(self, current: str | None) -> None:
        """The database was read at ``current`` (None: no revision applied)."""
        self.current_revision = current or BASE

    def skip(self, name: str, why: str) -> None:
        self.steps.append(Step(name=name, status="skipped", detail=why))
        progress.current().end(name, "skipped", 0.0, why)

    def finish(self, outcome: Outcome) -> None:
        self.outcome = outcome
        if outcome is not Outcome.RUNNING:
            self.phase = Phase.ENDED
        self.finished_at = _stamp()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("traceback")
        data["outcome"] = self.outcome.value
        data["phase"] = self.phase.value
        data["exit_code"] = self.exit_code
        return data

    def write(self, folder: Path) -> Path:
        path = folder / "report.json"
        write_json(path, self.to_dict())
        return path


def _stamp() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


_STATE = {
    Outcome.APPLIED: "at {to}, verified",
    Outcome.NOOP: "at {to}, nothing to do",
    Outcome.REFUSED: "untouched (at {frm})",
    Outcome.BAD_INPUT: "untouched",
    Outcome.ROLLED_BACK: "rolled back to {frm}, verified",
    Outcome.RESTORED: "restored from backup to {frm}, verified",
    Outcome.NEEDS_ATTENTION: "UNCERTAIN (last seen at {cur})",
    Outcome.ERROR: "unknown: internal error",
    Outcome.RUNNING: "at {cur}; the run goes on",
}


def render_summary(report: Report, console: Console) -> None:
    """A few lines for a person: what happened, where things are, what to run next. A
    failure is told in at most eight lines ending in the command to run."""
    colour = {0: "green", 3: "yellow", 2: "yellow"}.get(report.exit_code, "red")
    console.print(
        f"[bold {colour}]{report.outcome.value}[/] {report.command} on {report.env} "
        f"({report.database['dialect']}:{report.database['name']}) run {report.run_id}"
    )
    if report.exit_code != 0 and report.error is not None:
        _render_failure(report, report.error, console)
        return
    if report.steps:
        from rich.table import Table

        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        table.add_column("step")
        table.add_column("status")
        table.add_column("s", justify="right")
        table.add_column("detail", overflow="fold")
        for s in report.steps:
            table.add_row(s.name, s.status, f"{s.duration_s:.2f}", s.detail)
        console.print(table)
    _render_revisions(report, console)
    _render_findings(report, console)
    console.print(f"database: {_state(report)}")
    if report.backup:
        console.print(f"backup: {report.backup.path} ({report.backup.bytes} bytes)")
    for kind, ref in report.sql.items():
        console.print(f"{kind} SQL: {ref.path}")
    if report.artifacts_dir:
        console.print(f"log: {report.artifacts_dir}/run.log", markup=False)
    if report.next_command:
        console.print(f"next: {report.next_command}", markup=False)


def _state(report: Report) -> str:
    if report.command in ("lint", "stairway", "check") and report.outcome is not Outcome.ERROR:
        return "untouched" + (
            " (the checks ran on a throwaway database)" if report.command != "lint" else ""
        )
    if "rendered_from" in report.data and report.outcome is Outcome.NOOP:
        return (
            f"not read (rendered offline from {report.data['rendered_from']} "
            f"to {report.to_revision})"
        )
    if report.outcome is Outcome.NOOP and report.current_revision is None:
        # A read-only command that never read the revision (db sequences): no guess.
        return "untouched (its revision was not read)"
    if report.command in ("status", "preflight", "render") and report.outcome is Outcome.NOOP:
        return (
            f"at {report.current_revision or 'base'}; head {report.to_revision}; "
            f"pending: {', '.join(report.pending) or 'none'}"
        )
    return _STATE.get(report.outcome, "{cur}").format(
        to=report.to_revision or "base",
        frm=report.from_revision or "base",
        cur=report.current_revision or "unknown",
    )


def _render_failure(report: Report, error: ErrorRecord, console: Console) -> None:
    """What failed (revision, file and line, the database's words), where the database
    is now, the backup, where the evidence is, findings counted; last, the command."""
    where = f"revision {error.revision}" if error.revision else (error.step or error.check)
    if error.location:
        where = f"{where} ({error.location})"
    message = error.message.removeprefix(f"revision {error.revision} failed: ")
    console.print(f"failed: {where + ': ' if where else ''}{message}", markup=False)
    console.print(f"database: {_state(report)}", markup=False)
    if report.backup:
        console.print(f"backup: {report.backup.path}", markup=False)
    if report.artifacts_dir:
        files = ", ".join(["run.log", *(f"{kind}.sql" for kind in report.sql)])
        console.print(f"evidence: {report.artifacts_dir}/ ({files})", markup=False)
    findings = (report.data.get("lint") or {}).get("findings") or []
    if findings:
        blocking = sum(1 for f in findings if f["blocking"])
        console.print(
            f"lint: {len(findings)} finding(s), {blocking} blocking (listed in report.json)"
        )
    command = report.next_command or report.data.get("release_command")
    if command:
        console.print(_NEXT.get(report.outcome, "next, run:"))
        console.print(command, markup=False, soft_wrap=True)
    elif error.hint:
        console.print(f"next: {error.hint}", markup=False)


_NEXT = {
    Outcome.ROLLED_BACK: "fix the revision, then release again:",
    Outcome.RESTORED: "fix the revision, then release again:",
    Outcome.NEEDS_ATTENTION: "to put the database back, run:",
}


_STATE_COLOUR = {"applied": "green", "pending": "cyan", "edited": "yellow"}


def _render_revisions(report: Report, console: Console) -> None:
    """``db status``: one row per revision, as ``flyway info`` shows them."""
    revisions = report.data.get("revisions")
    if not revisions:
        return
    from rich.table import Table

    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for name in ("revision", "description", "state", "applied at", "by", "run", "s"):
        table.add_column(name, overflow="fold", justify="right" if name == "s" else "left")
    for r in revisions:
        colour = _STATE_COLOUR.get(r["state"], "red")
        took = r.get("duration_s")
        # A revision's phase, where it is post-deploy (pre is the default).
        phase = " (post-deploy)" if r.get("phase") == "post" else ""
        table.add_row(
            r["revision"],
            r["description"],
            f"[{colour}]{r['state']}[/]{phase}",
            (r.get("applied_at") or "").replace("T", " "),
            r.get("who") or "",
            r.get("run_id") or "",
            f"{took:.2f}" if took is not None else "",
        )
    console.print(table)
    drift = report.data.get("drift")
    if drift:
        console.print(
            f"drift since run {drift['since_run']}: " + "; ".join(drift["differences"]),
            markup=False,
        )
    for claim in report.data.get("open_claims") or []:
        alive = {True: "alive", False: "dead", None: "unknown"}[claim["alive"]]
        console.print(
            f"open claim: run {claim['run_id']} by {claim['who']} on {claim['host']} "
            f"since {claim['started_at']} ({alive})",
            markup=False,
        )


def _render_findings(report: Report, console: Console) -> None:
    findings = (report.data.get("lint") or {}).get("findings") or []
    if not findings:
        return
    from rich.table import Table

    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for name in ("revision", "rule", "severity", "statement / fix"):
        table.add_column(name, overflow="fold")
    for f in findings:
        severity = f["severity"] + (" BLOCKS" if f["blocking"] else "")
        if f["accepted"] is not None:
            severity = f"accepted: {f['accepted']}"
        text = f"{f['statement'] or f['message']}\n{f['path']}:{f['line']} fix: {f['hint']}"
        table.add_row(f["revision"], f["rule"], severity, text)
    console.print(table, markup=False)
