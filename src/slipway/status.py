"""``db status``: the state of every revision, from the ledger and the revision graph.

Read-only and quick: the graph is read from what each revision file declares (no
revision runs), nothing is linted, no artifacts are kept and nothing is written to the
database. One row per revision, oldest first, in one of these states:

- ``applied``: in the database, its file as it was when applied;
- ``edited``: in the database, but its file changed since it was applied;
- ``pending``: in the code, not yet in the database;
- ``failed``: pending, and the last release stopped in it (rolled back or restored);
- ``missing``: in the database (or its ledger), but not in this code.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from slipway import ledger
from slipway.backends import Backend, backend_class
from slipway.config import Settings, environments, load_settings
from slipway.dialects import dialect_for
from slipway.errors import SlipwayError, first_line
from slipway.logs import redact
from slipway.outcomes import Outcome
from slipway.report import Report
from slipway.run import Run, claim_alive

# Outcomes of a run that stopped in a revision and put the database back.
_FAILED = (Outcome.ROLLED_BACK.value, Outcome.RESTORED.value, Outcome.NEEDS_ATTENTION.value)


@dataclass(frozen=True)
class RevisionState:
    revision: str
    description: str
    state: str
    path: str | None = None
    applied_at: str | None = None
    who: str | None = None
    run_id: str | None = None
    duration_s: float | None = None
    # The revision's phase in a rolling deploy: pre or post (None: not in this code).
    phase: str | None = None


def status(settings: Settings) -> Report:
    """Each revision's state, the database's revision and the open claims."""
    with Run(settings, "status", read_only=True) as run:
        project = run.project
        db_heads: tuple[str, ...] = ()
        recorded: dict[str, dict[str, Any]] = {}
        claims: list[ledger.Claim] = []
        last: dict[str, Any] | None = None
        if run.dialect.database_exists():
            try:
                with run.connect() as conn:
                    db_heads = project.current(conn)
                    recorded = ledger.applied_revisions(conn)
                    claims = ledger.open_claims(conn)
                    last = ledger.last_run(conn, commands=("release", "apply"))
            except (OperationalError, InterfaceError) as err:
                raise run.unreachable(err) from err
        failed = last.get("failed_revision") if last and last["outcome"] in _FAILED else None
        rows = revision_states(run, project, db_heads, recorded, failed)
        heads = project.heads()
        report = run.report
        report.from_revision = ", ".join(db_heads) or None
        report.at(report.from_revision)
        report.to_revision = ", ".join(heads)
        report.pending = [r.revision for r in rows if r.state in ("pending", "failed")]
        report.data["revisions"] = [asdict(r) for r in rows]
        report.data["up_to_date"] = not report.pending and all(r.state == "applied" for r in rows)
        if len(db_heads) == 1:
            from slipway import steps  # the release's modules: only when there is a database

            found = steps.drift_of(run, db_heads[0], steps.describe_now(run))
            if found is not None:
                report.data["drift"] = {"since_run": found[0], "differences": found[1]}
        report.data["open_claims"] = [
            {
                "run_id": c.run_id,
                "who": c.who,
                "host": c.host,
                "pid": c.pid,
                "started_at": c.started_at.isoformat(),
                "lease_until": c.lease_until.isoformat() if c.lease_until else None,
                "alive": claim_alive(c),
            }
            for c in claims
        ]
        report.finish(Outcome.NOOP)
    return run.report


def revision_states(
    run: Run,
    project: Backend,
    db_heads: tuple[str, ...],
    recorded: dict[str, dict[str, Any]],
    failed: str | None,
) -> list[RevisionState]:
    known = tuple(h for h in db_heads if project.knows(h))
    applied = {r.id for r in project.applied(known)}
    if len(known) < len(db_heads):  # ahead of this code: its ledger says what is applied
        applied |= {r for r in recorded if project.knows(r)}
    rows: list[RevisionState] = []
    for rev in project.all_revisions():
        seen = recorded.get(rev.id, {})
        if rev.id in applied:
            edited = "sha256" in seen and project.owns(rev) and not rev.matches(seen["sha256"])
            state = "edited" if edited else "applied"
        else:
            state = "failed" if rev.id == failed else "pending"
        row = _row(rev.id, rev.message, state, run.relpath(rev.path), seen)
        rows.append(replace(row, phase=project.phase_of(rev.id)))
    gone = [h for h in db_heads if h not in known]
    gone += sorted(r for r in recorded if not project.knows(r) and r not in gone)
    for revision in gone:
        seen = recorded.get(revision, {})
        rows.append(_row(revision, "", "missing", seen.get("path"), seen))
    return rows


def _row(
    revision: str, description: str, state: str, path: str | None, seen: dict[str, Any]
) -> RevisionState:
    at = seen.get("recorded_at") if state in ("applied", "edited", "missing") else None
    return RevisionState(
        revision=revision,
        description=description,
        state=state,
        path=path,
        applied_at=at.isoformat() if isinstance(at, dt.datetime) else None,
        who=seen.get("who") if at else None,
        run_id=seen.get("run_id") if at else None,
        duration_s=seen.get("duration_s") if at else None,
    )


def overview(config: Path | None = None) -> list[dict[str, Any]]:
    """What is deployed where: for each environment of the config, the database's
    revision and its last run (command, outcome, when, application release). An
    environment that cannot be read says why; none is written to."""
    path, names = environments(config)
    return [_environment_row(path, env) for env in names]


def _environment_row(path: Path, env: str) -> dict[str, Any]:
    row: dict[str, Any] = {"env": env, "database": None, "revision": None, "release": None}
    row |= {"last_run": None, "command": None, "outcome": None, "when": None, "error": None}
    try:
        settings = load_settings(env, config=path)
        row["database"] = settings.safe_url()
        dialect = dialect_for(settings.url, lock_timeout_s=settings.options.own_lock_timeout_s)
        if not dialect.database_exists():
            row["revision"] = "(no database)"
            return row
        engine = dialect.create_engine()
        try:
            with engine.connect() as conn:
                backend = backend_class(settings.options.backend)
                heads = backend.recorded_heads(settings, conn) or ()
                last = ledger.last_run(conn)
                release = ledger.last_release(conn)
        finally:
            engine.dispose()
    except SlipwayError as err:
        row["error"] = err.message
        return row
    except DBAPIError as err:
        row["error"] = f"cannot reach the database: {redact(first_line(err), settings.secrets)}"
        return row
    row["revision"] = ", ".join(heads) or "base"
    row["release"] = release
    if last:
        row |= {
            "last_run": last["run_id"],
            "command": last["command"],
            "outcome": last["outcome"],
            "when": (last.get("finished_at") or last["started_at"]).isoformat(),
        }
    return row
