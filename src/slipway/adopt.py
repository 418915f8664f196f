"""Adoption: where slipway starts watching a project that has years of history.

``slipway db adopt`` is run once, when a team starts using slipway. It writes
``slipway-baseline.yml`` beside the Alembic ini (reviewed in a merge request like any
other file): every revision as it stands, with its checksum. Their lint findings are
reported by ``db lint`` and never gate a release, a new environment's first release
included; revisions added later are gated as before.

Against a database that already has an Alembic version but no slipway history, adopt
also proves that the live schema is what the code builds at that revision (on a scratch
database, through the project's own env.py) and records the applied revisions'
checksums. A database that has tables but no version table is adopted at the revision
the team names (``--revision``), once the same proof holds; the version table is then
written. With no database reachable, the code baseline alone is recorded.
"""

from __future__ import annotations

import datetime as dt
import logging

import yaml
from sqlalchemy import Connection
from sqlalchemy.exc import InterfaceError, OperationalError

from slipway import ledger, schema, steps
from slipway.artifacts import write_atomic
from slipway.config import Settings
from slipway.errors import BadInput, Refused
from slipway.outcomes import Outcome
from slipway.report import Report
from slipway.run import Run
from slipway.stairway import scratch

log = logging.getLogger(__name__)

_HEADER = """\
# The revisions released before this project adopted slipway (slipway db adopt), each
# with the checksum of its code. Their lint findings are reported by 'slipway db lint'
# and never gate a release, not even a new environment's first one. Revisions added
# later are gated as usual; a revision edited after adoption is gated again.
"""


def adopt(settings: Settings, *, revision: str | None = None, accept_drift: bool = False) -> Report:
    with Run(settings, "adopt") as run:
        project = run.project
        with run.report.step("baseline") as step:
            revisions = project.all_revisions()
            head = ", ".join(project.heads())
            text = _HEADER + yaml.safe_dump(
                {
                    "adopted_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "heads": list(project.heads()),
                    "revisions": {r.id: r.sha256 for r in revisions},
                    # the files' bytes then: unchanged bytes need no parsing to check
                    "files": {r.id: r.file_sha256 for r in revisions},
                },
                sort_keys=False,
            )
            write_atomic(project.baseline_path, text)
            project.baseline_path.chmod(0o644)  # a file of the repository, not a secret
            step.detail = (
                f"{len(revisions)} revision(s) up to {head} in {run.relpath(project.baseline_path)}"
            )
        run.report.data["baseline"] = {
            "path": str(project.baseline_path),
            "revisions": len(revisions),
        }
        if not _reachable(run):
            run.report.skip("database", "not reachable: the code baseline alone is recorded")
            run.report.finish(Outcome.NOOP)
            return run.report
        _adopt_database(run, revision, accept_drift=accept_drift)
    return run.report


def _reachable(run: Run) -> bool:
    if not run.dialect.database_exists():
        return False
    try:
        with run.connect():
            return True
    except (OperationalError, InterfaceError) as err:
        log.info("database not reachable: %s", err.orig)
        return False


def _adopt_database(run: Run, revision: str | None, *, accept_drift: bool = False) -> None:
    project = run.project
    heads = run.heads()  # runs env.py online: proves where it reaches, learns its options
    version_table = project.version_table
    with run.connect() as conn:
        tables = schema.user_tables(conn, version_table)
        watched = bool(ledger.recorded_checksums(conn))
    current = heads[0] if len(heads) == 1 else None
    if len(heads) > 1:
        raise Refused(
            f"the database has {len(heads)} revisions at once: {', '.join(heads)}",
            check="current_known",
            hint="merge the branches in the code, release the merge, then adopt",
        )
    if current is not None and not project.knows(current):
        raise Refused(
            f"the database is at revision {current}, which this code does not know",
            check="current_known",
            hint="adopt from the code that has this revision",
        )
    if revision is not None:
        if current is not None and revision != current:
            raise BadInput(
                f"--revision {revision}: the database says it is at {current}",
                hint="leave --revision out: the database's own version is taken",
            )
        if not project.knows(revision):
            raise BadInput(f"--revision {revision} is not in the migration graph")
    elif current is None and tables:
        raise Refused(
            f"the database has {len(tables)} table(s) ({', '.join(tables[:3])}"
            f"{', ...' if len(tables) > 3 else ''}) but no Alembic version table "
            f"{version_table}: slipway cannot tell which revision made them",
            check="adopt",
            hint=f"name it: {run.settings.command('adopt', '--revision', 'REV')}",
        )
    at = revision or current
    run.report.from_revision = run.report.to_revision = current
    if at is None:
        run.report.skip("database", "empty: a first release applies the whole history")
        run.report.finish(Outcome.NOOP)
        return
    if watched and revision is None and accept_drift:
        _accept_drift(run, at)
        return
    if watched and revision is None:
        run.report.skip("database", f"at {at}, already watched by slipway")
        run.report.finish(Outcome.NOOP)
        return
    _prove_schema(run, at, version_table)
    run.lock()
    with run.report.step("record") as step:
        if current is None:
            with run.engine.connect() as conn, conn.begin():
                _stamp(run, conn, at)
        run.claim(at, at)  # records the applied revisions' checksums (baseline)
        steps.record_end_schema(run)  # proven above: what drift is judged against
        run.report.to_revision = at
        run.report.at(at)
        stamped = f"version table {version_table} written at {at}; " if current is None else ""
        step.detail = f"{stamped}{len(project.applied(at))} applied revision(s) recorded"
    run.report.finish(Outcome.APPLIED)


def _accept_drift(run: Run, at: str) -> None:
    """The live schema of a watched database becomes the one the next drift check
    compares with: recorded as this run's end, under the lock, with what differed."""
    run.lock()
    with run.report.step("accept") as step:
        run.claim(at, at)
        with run.connect() as conn:
            live = schema.describe(conn)
        found = steps.drift_of(run, at, live)
        differences = found[1] if found else []
        steps.record_end_schema(run, live)
        run.report.data["accepted_drift"] = differences
        run.report.to_revision = at
        run.report.at(at)
        step.detail = (
            f"the schema at {at} as it is now is kept; {len(differences)} difference(s) "
            "from the last recorded one accepted"
        )
    run.report.finish(Outcome.APPLIED)


def _prove_schema(run: Run, at: str, version_table: str) -> None:
    """The live schema is what the code builds at ``at``: built on a scratch database
    through env.py, compared table by table; each difference is named."""
    with run.report.step("prove") as step:
        skip = (version_table,)
        with run.connect() as conn:
            live = schema.describe(conn, skip=skip)
        with scratch(run.project, "adopt") as db:
            try:
                db.upgrade(at)
            except Exception as err:
                raise Refused(
                    f"the code cannot build revision {at} on a scratch database: {err}",
                    check="adopt",
                    hint="the history must upgrade from empty for slipway to prove it",
                ) from err
            built = db.describe()
        differences = schema.diff(
            built, live, more="in the database only", less="missing from the database"
        )
        if differences:
            run.report.data["schema_differences"] = differences
            raise Refused(
                f"the live schema is not what the code builds at {at}: "
                f"{'; '.join(differences[:5])}"
                + (f" (and {len(differences) - 5} more)" if len(differences) > 5 else ""),
                check="adopt",
                hint="bring the database in line (or the code), then adopt again; "
                "the report lists every difference",
            )
        step.detail = f"the live schema is what the code builds at {at}"


def _stamp(run: Run, conn: Connection, at: str) -> None:
    run.project.stamp(conn, at)
