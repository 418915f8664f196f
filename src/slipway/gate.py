"""The migration safety gate as commands: lint, stairway, model drift check.

Each takes :class:`~slipway.config.Settings` and returns the run's report; a problem
found is a refusal (exit 3) whose message names the revision and rule, and the report
carries every finding.
"""

from __future__ import annotations

from pathlib import Path

from slipway import lint as lint_lib
from slipway import stairway as stairway_lib
from slipway import steps
from slipway.config import Settings
from slipway.errors import BadInput, Refused
from slipway.gitlab import write_reports
from slipway.outcomes import Outcome
from slipway.report import Report
from slipway.run import Run
from slipway.sqlrules import ServerVersion


def lint(
    settings: Settings,
    *,
    pending: bool = False,
    from_revision: str | None = None,
    server_version: str | None = None,
    junit: Path | None = None,
    codequality: Path | None = None,
) -> Report:
    """Lint every revision, those above ``from_revision``, or the pending ones (that
    reads the database); write the merge-request reports whatever the outcome."""
    with Run(settings, "lint") as run:
        dialect = steps.lint_dialect(run)
        with run.report.step("lint") as step:
            server = lint_lib.local_server(run.dialect)
            if server_version:
                server = ServerVersion.parse(server_version, dialect)
                if server is None:
                    raise BadInput(
                        f"--server-version '{server_version}' names no version",
                        hint="for example mariadb-10.4, mysql-5.7 or 15",
                    )
                fits = run.dialect.names
                if server.flavour not in fits:
                    raise BadInput(
                        f"--server-version '{server_version}' names a {server.flavour} "
                        f"server, but the database is {dialect}",
                        hint=f"name a {' or '.join(fits)} version, or leave it out",
                    )
            start: str | None = None
            if pending:
                state = run.state()
                start, revisions = state.current, state.pending
                run.report.from_revision, run.report.to_revision = state.current, state.head
                if state.exists and not server_version:
                    with run.connect() as conn:
                        server = lint_lib.server_version(run.dialect, conn)
            elif from_revision is not None:
                start, revisions = run.project.above(from_revision)
                run.report.from_revision = start
                run.report.to_revision = run.project.single_head()
            else:
                revisions = run.project.history()
                run.report.to_revision = run.project.single_head()
            run.report.pending = [r.id for r in revisions]
            result = steps.lint_revisions(run, start, revisions, server)
            write_reports(
                result,
                junit_path=junit or run.dir / "lint-junit.xml",
                codequality_path=codequality or run.dir / "gl-code-quality-report.json",
            )
            step.detail = result.summary()
            refusal = result.refusal()
            if refusal is not None:
                raise refusal
        run.report.finish(Outcome.NOOP)
    return run.report


def stairway(settings: Settings) -> Report:
    """Up, down, up for every revision on a throwaway database; then down to base."""
    with Run(settings, "stairway") as run:
        walked = stairway_lib.stairway(run.project, run.report)
        run.report.to_revision = run.project.single_head()
        run.report.data["stairway"] = {"revisions": walked}
        run.report.finish(Outcome.NOOP)
    return run.report


def check(settings: Settings) -> Report:
    """The models against a throwaway database upgraded to head."""
    with Run(settings, "check") as run:
        with run.report.step("check") as step:
            diffs = stairway_lib.drift(run.project)
            run.report.data["drift"] = diffs
            if diffs:
                raise Refused(
                    f"the models differ from the schema the migrations build: {diffs[0]}"
                    + (f" (and {len(diffs) - 1} more)" if len(diffs) > 1 else ""),
                    check="drift",
                    hint="write a revision for the change ('alembic revision --autogenerate')",
                )
            step.detail = "models match the schema at head"
        run.report.to_revision = run.project.single_head()
        run.report.finish(Outcome.NOOP)
    return run.report
