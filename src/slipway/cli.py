"""The ``slipway`` command line: parse, call the library, render, exit.

Exit codes are those of :mod:`slipway.outcomes`; a traceback is shown only with --debug.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from slipway import deploy as deploy_lib
from slipway import logs, progress, signals
from slipway import release as lib
from slipway.config import Settings, check_release, load_settings, with_lint_policy
from slipway.errors import Refused, SlipwayError
from slipway.logs import setup_console
from slipway.outcomes import Outcome
from slipway.report import Report, render_summary
from slipway.run import who_am_i

# rich is imported where output is drawn (--json and --quiet skip it); the gate (lint,
# stairway, check), the staged steps and status by their own commands.
if TYPE_CHECKING:
    from rich.console import Console, Group
    from rich.live import Live
    from rich.text import Text

F = TypeVar("F", bound=Callable[..., Any])


class _Option(click.Option):
    """Every option can come from a ``SLIPWAY_*`` variable, and ``--help`` says which:
    the common ones have short names (``SLIPWAY_ENV``), the others click's
    ``SLIPWAY_<GROUP>_<COMMAND>_<OPTION>`` (``SLIPWAY_DB_HISTORY_LIMIT``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("show_envvar", True)
        super().__init__(*args, **kwargs)


option = functools.partial(click.option, cls=_Option)


@dataclass(frozen=True)
class Context:
    """The options every command takes, as parsed."""

    env: str
    db_url: str | None
    db_url_stdin: bool
    alembic_ini: Path | None
    config: Path | None
    as_json: bool
    debug: bool
    verbose: bool
    quiet: bool
    app_release: str | None
    lint_fail_on: str | None
    lint_rule: tuple[str, ...]

    def settings(self) -> Settings:
        settings = load_settings(
            self.env,
            config=self.config,
            db_url=self.db_url,
            db_url_source="stdin" if self.db_url_stdin else "--db-url",
            alembic_ini=self.alembic_ini,
        )
        settings = with_lint_policy(settings, fail_on=self.lint_fail_on, rules=self.lint_rule)
        if self.app_release:
            settings = dataclasses.replace(settings, release=check_release(self.app_release))
        development = settings.options.development
        if (development or self.verbose) and not self.quiet:
            level = logging.DEBUG if development else logging.INFO
            logging.getLogger("slipway").setLevel(level)
            for handler in logging.getLogger().handlers:
                handler.setLevel(level)
        return settings


def common(fn: F) -> F:
    """The options every command takes (docs/contract.md, "Commands")."""

    @option(
        "--env",
        "env",
        default="local",
        envvar="SLIPWAY_ENV",
        show_default=True,
        show_envvar=True,
        help="Environment from slipway.yml.",
    )
    @option(
        "--db-url",
        envvar="SLIPWAY_DB_URL",
        show_envvar=True,
        help="Database URL; overrides the environment's.",
    )
    @option(
        "--db-url-stdin",
        is_flag=True,
        help="Read the database URL from the first line of stdin (keeps it out of argv).",
    )
    @option(
        "--alembic-ini",
        type=click.Path(path_type=Path),
        envvar="SLIPWAY_ALEMBIC_INI",
        show_envvar=True,
        help="Alembic ini file.",
    )
    @option(
        "--config",
        type=click.Path(path_type=Path),
        envvar="SLIPWAY_CONFIG",
        show_envvar=True,
        help="slipway.yml to read (default: the nearest slipway.yml, or pyproject.toml "
        "with [tool.slipway], here or in a folder above).",
    )
    @option(
        "--json",
        "as_json",
        is_flag=True,
        envvar="SLIPWAY_JSON",
        show_envvar=True,
        help="Print the JSON report on stdout.",
    )
    @option(
        "--debug",
        is_flag=True,
        envvar="SLIPWAY_DEBUG",
        show_envvar=True,
        help="Log everything and show tracebacks of internal errors.",
    )
    @option(
        "-v",
        "--verbose",
        is_flag=True,
        envvar="SLIPWAY_VERBOSE",
        show_envvar=True,
        help="Log progress to stderr.",
    )
    @option(
        "-q",
        "--quiet",
        is_flag=True,
        envvar="SLIPWAY_QUIET",
        show_envvar=True,
        help="Print nothing but the one error line of a failure.",
    )
    @option(
        "--release",
        "app_release",
        envvar="SLIPWAY_RELEASE",
        show_envvar=True,
        help="The application release this run ships (kept in the history; "
        "'status --all' shows it).",
    )
    @option(
        "--lint-fail-on",
        envvar="SLIPWAY_LINT_FAIL_ON",
        show_envvar=True,
        help="Lint findings of this level or worse block: error, warning or never "
        "(overrides the environment's lint_fail_on).",
    )
    @option(
        "--lint-rule",
        multiple=True,
        metavar="RULE=LEVEL",
        envvar="SLIPWAY_LINT_RULE",
        show_envvar=True,
        help="A rule's severity: error, warning or off (repeatable; overrides lint_rules; "
        "in the variable, separated by spaces).",
    )
    @functools.wraps(fn)
    def wrapper(**kwargs: Any) -> None:
        ctx = Context(**{name: kwargs.pop(name) for name in Context.__dataclass_fields__})
        if ctx.db_url_stdin:
            ctx = dataclasses.replace(ctx, db_url=sys.stdin.readline().strip() or None)
        setup_console(debug=ctx.debug, quiet=ctx.quiet)
        secrets = (db_url_password(ctx.db_url),)
        with signals.handled():
            try:
                with _live_progress(ctx), _quiet_stderr(ctx):  # both gone before the summary
                    report = fn(ctx, **kwargs)
            except SlipwayError as err:
                _fail_early(ctx, err, secrets)
            except (click.ClickException, BrokenPipeError):
                raise  # usage errors: main() prints them and exits 2
            except KeyboardInterrupt as err:  # before a run began: nothing was changed
                _fail_early(ctx, Refused(f"{err or 'interrupted'}", check="interrupted"), secrets)
            except Exception as err:
                if ctx.debug:
                    raise
                _fail_early(ctx, err, secrets)
            if report is not None:
                _finish(ctx, report)

    return wrapper  # type: ignore[return-value]


class LiveProgress(progress.Observer):
    """On a terminal: the steps done so far and the one under way, with a spinner, its
    seconds and what it is busy with; gone when the run ends (the summary stays)."""

    def __init__(self) -> None:
        self.done: list[Text] = []
        self.step = ""
        self.text = ""
        self.started = time.monotonic()

    def begin(self, step: str) -> None:
        self.step, self.text, self.started = step, "", time.monotonic()

    def note(self, text: str) -> None:
        self.text = text

    def end(self, step: str, status: str, seconds: float, detail: str) -> None:
        from rich.text import Text

        mark = {"ok": "[green]✓[/]", "skipped": "[cyan]-[/]"}.get(status, "[red]✗[/]")
        self.done.append(Text.from_markup(f"{mark} {step:<10} {seconds:6.2f} s"))
        self.step = ""

    def __rich__(self) -> Group:
        from rich.console import Group
        from rich.spinner import Spinner
        from rich.text import Text

        lines: list[Any] = list(self.done)
        if self.step:
            seconds = time.monotonic() - self.started
            lines.append(Spinner("dots", Text(f"{self.step:<10} {seconds:6.1f} s  {self.text}")))
        return Group(*lines)


@contextlib.contextmanager
def _quiet_stderr(ctx: Context) -> Iterator[None]:
    """With --quiet, what env.py's own logging setup prints while the command runs
    (``fileConfig()``: Alembic's INFO lines on stderr) goes nowhere; the one error line
    comes after. Client tools keep the process's stderr (their errors are captured)."""
    if not ctx.quiet or ctx.debug:
        yield
        return
    with open(os.devnull, "w", encoding="utf-8") as sink, contextlib.redirect_stderr(sink):
        yield


# The live display while a command runs: paused while the command asks a question.
_LIVE: ContextVar[Live | None] = ContextVar("slipway_live", default=None)


@contextlib.contextmanager
def _live_progress(ctx: Context) -> Iterator[None]:
    if ctx.quiet:
        yield
        return
    if not sys.stderr.isatty():
        # A CI log: a line now and then while long work goes on (SLIPWAY_PROGRESS_S).
        every = _progress_every()
        out = sys.stderr

        def write(line: str) -> None:
            out.write(line + "\n")
            out.flush()

        with progress.observing(progress.LogLines(write, every)):
            yield
        return
    from rich.console import Console
    from rich.live import Live

    observer = LiveProgress()
    err = Console(stderr=True, highlight=False)
    live = Live(observer, console=err, transient=True, refresh_per_second=8)
    with live, progress.observing(observer), logs.console_stream(sys.stderr):
        # Live has put a proxy in sys.stderr: log lines go above the display, whole.
        token = _LIVE.set(live)
        try:
            yield
        finally:
            _LIVE.reset(token)


def _progress_every() -> float:
    """Seconds between progress lines in a log that is not a terminal."""
    raw = os.environ.get("SLIPWAY_PROGRESS_S", "10")
    try:
        every = float(raw)
    except ValueError:
        raise click.UsageError(f"SLIPWAY_PROGRESS_S={raw!r} is not a number of seconds") from None
    if not 0 < every < 86400:
        raise click.UsageError(f"SLIPWAY_PROGRESS_S={raw!r} must be between 0 and 86400")
    return every


def db_url_password(db_url: str | None) -> str:
    if not db_url:
        return ""
    try:
        return str(make_url(db_url).password or "")
    except (ArgumentError, ValueError):  # malformed: mask what would be the password part
        rest = db_url.split("://", 1)[-1]
        userinfo = rest.rsplit("@", 1)[0] if "@" in rest else ""
        return userinfo.split(":", 1)[1] if ":" in userinfo else ""


def _fail_early(ctx: Context, err: BaseException, secrets: Sequence[str]) -> None:
    """A command that ended before its run began: the same report shape, one line."""
    command = click.get_current_context().info_name or ""
    report = Report.refused_early(command, ctx.env, who_am_i(), err, secrets)
    if ctx.as_json:
        print(json.dumps(report.to_dict(), indent=2, default=str))
    internal = report.outcome is Outcome.ERROR
    prefix = "internal error" if internal else "error"
    tail = " (run with --debug for the traceback)" if internal else ""
    line = report.error.line if report.error else ""
    click.echo(f"slipway: {prefix}: {line}{tail}", err=True)
    sys.exit(report.exit_code)


def console() -> Console:
    """Rich output for stdout: on a terminal, its width; elsewhere (CI logs, pipes) wide
    enough that ids and paths are never cut, and no control codes. A reader that closes
    the pipe early (``| head``) ends the output, not the command's exit code (rich's
    own answer is exit 1)."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            _stdout_to_devnull()

    if sys.stdout.isatty():
        return _Console(highlight=False, soft_wrap=True)
    return _Console(highlight=False, soft_wrap=True, width=200, no_color=True)


def _finish(ctx: Context, report: Report) -> None:
    """The report on stdout (JSON, or the summary), the one error line on stderr: for a
    person, before the summary, whose last line is the command to run next."""
    line = _error_line(ctx, report)
    if line and not ctx.as_json:
        click.echo(line, err=True)
    try:
        if ctx.as_json:
            print(json.dumps(report.to_dict(), indent=2, default=str))
        elif report.outcome is not Outcome.BAD_INPUT and not ctx.quiet:
            render_summary(report, console())
        sys.stdout.flush()
    except BrokenPipeError:  # `slipway ... | head`: the reader has seen enough
        _stdout_to_devnull()
    if line and ctx.as_json:
        click.echo(line, err=True)
    sys.exit(report.exit_code)


def _error_line(ctx: Context, report: Report) -> str | None:
    if report.exit_code == 0 or report.error is None:
        return None
    if report.traceback and ctx.debug:
        click.echo(report.traceback, err=True)
    prefix = {Outcome.ERROR: "internal error", Outcome.BAD_INPUT: "error"}.get(
        report.outcome, report.outcome.value
    )
    debug = " (run with --debug for the traceback)" if report.traceback and not ctx.debug else ""
    then = f"; next: {report.next_command}" if report.next_command else ""
    return f"slipway: {prefix}: {report.error.line}{then}{debug}"


# The verbs users of other migration tools type, and slipway's command for each: named
# in the error, never run in its place (an "undo" that ran a rollback would surprise).
PEER_VERBS: dict[str, tuple[str, str]] = {
    "migrate": ("db release", "Flyway's and Django's migrate, Atlas's migrate apply"),
    "upgrade": ("db release", "Alembic's upgrade, guarded"),
    "deploy": ("db release", "Sqitch's deploy"),
    "info": ("db status", "Flyway's info"),
    "current": ("db status", "Alembic's current"),
    "baseline": ("db adopt", "Flyway's baseline, Atlas's migrate set"),
    "undo": ("db rollback", "Flyway's undo"),
    "revert": ("db rollback", "Sqitch's revert"),
    "downgrade": ("db rollback", "Alembic's downgrade"),
    "log": ("db history", "Sqitch's log"),
    "validate": ("db preflight", "Flyway's validate"),
    "repair": ("db ledger repair", "Flyway's repair"),
    "diff": ("db check", "Atlas's schema diff"),
}


class _Group(click.Group):
    """A command group whose unknown-command error names slipway's command for the
    verbs of Flyway, Atlas, Sqitch and Alembic, instead of the nearest spelling."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        at_top = ctx.parent is None
        if self.get_command(ctx, name) is None and not name.startswith("-"):
            if name in PEER_VERBS:
                ours, theirs = PEER_VERBS[name]
                raise click.UsageError(
                    f"no command '{name}': slipway's is '{ours}' ({theirs}); "
                    f"see 'slipway {ours} --help'",
                    ctx,
                )
            if at_top and name in (db.commands or {}):
                raise click.UsageError(f"no command '{name}' here: it is 'slipway db {name}'", ctx)
        return super().resolve_command(ctx, args)


@click.group(
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "SLIPWAY"},
)
@click.version_option(package_name="slipway-release")
def cli() -> None:
    """slipway: guarded database releases for Alembic projects."""


# A step of a release whose steps run as separate processes (slipway.staged).
join_run = click.option(
    "--run-id",
    help="Join run RUN_ID (begun by 'slipway db preflight'/'claim'): one step of a release "
    "whose steps run as separate processes.",
)


PHASE = click.option(
    "--phase",
    type=click.Choice(["pre", "post", "all"]),
    default="all",
    show_default=True,
    help="pre: the pending pre-deploy revisions only (before the hosts switch); post: the "
    'post-deploy ones (slipway_phase = "post", after every host switched); all: both.',
)


@cli.group(cls=_Group)
def db() -> None:
    """The guarded migration and its single steps."""


@db.command()
@common
@option("--to", "to", help="Release up to this revision only (default: the head).")
@PHASE
def release(ctx: Context, to: str | None, phase: str) -> Report:
    """The guarded release: preflight, lock, backup, render, apply, verify, rollback."""
    if to is not None and not to.strip():
        raise click.UsageError("--to is empty: name a revision, or leave it out")
    return lib.release(ctx.settings(), to=to, phase=phase)


@db.command()
@common
@option(
    "--all",
    "everywhere",
    is_flag=True,
    help="Every environment of slipway.yml in one table: what is deployed where.",
)
def status(ctx: Context, everywhere: bool) -> Report | None:
    """Every revision's state (applied, pending, edited, failed, missing) and open claims.

    Reads the ledger and the revision graph only: no revision runs, nothing is linted,
    nothing is kept."""
    if everywhere:
        from slipway import status as status_lib

        rows = status_lib.overview(ctx.config)
        if ctx.as_json:
            print(json.dumps({"environments": rows}, indent=2))
            return None
        from rich.table import Table

        table = Table("env", "revision", "release", "last run", "command", "outcome", "when")
        table.box = None
        for r in rows:
            if r["error"]:
                table.add_row(r["env"], f"[yellow]{r['error']}[/]", *[""] * 5)
                continue
            cells = ("revision", "release", "last_run", "command", "outcome", "when")
            table.add_row(r["env"], *[str(r[c] or "-") for c in cells])
        console().print(table)
        return None
    from slipway import status as status_lib

    return status_lib.status(ctx.settings())


@db.command()
@common
@option(
    "--revision",
    help="The revision a database with tables but no Alembic version table is at "
    "(proven against the code before it is written).",
)
@option(
    "--accept-drift",
    is_flag=True,
    help="Keep the live schema of a database slipway watches as it is now: the next "
    "drift check compares with it.",
)
def adopt(ctx: Context, revision: str | None, accept_drift: bool) -> Report:
    """Mark the history as it stands as released (slipway-baseline.yml): its lint
    findings never gate; against a database, record and prove what is applied."""
    if revision is not None and not revision.strip():
        raise click.UsageError("--revision is empty: name a revision")
    from slipway import adopt as adopt_lib

    return adopt_lib.adopt(ctx.settings(), revision=revision, accept_drift=accept_drift)


@db.command()
@common
@PHASE
def preflight(ctx: Context, phase: str) -> Report:
    """Every check of the release, without changing anything."""
    return lib.preflight(ctx.settings(), phase=phase)


@db.command()
@common
@option("--run-id", help="Continue the run begun by 'slipway db preflight'.")
@PHASE
def claim(ctx: Context, run_id: str | None, phase: str) -> Report:
    """Take the release lock and open a run's claim (a lease later steps renew); a run
    begun by preflight keeps its phase."""
    from slipway import staged

    return staged.claim(ctx.settings(), run_id, phase=phase)


@db.command()
@common
@join_run
def backup(ctx: Context, run_id: str | None) -> Report:
    """Back up the database (validated, 0600, sha256 recorded, old ones pruned)."""
    if run_id:
        from slipway import staged

        return staged.backup(ctx.settings(), run_id)
    return lib.backup(ctx.settings())


@db.command()
@common
@join_run
@option(
    "--from",
    "from_revision",
    help="Render offline from this revision (or 'base'): no database is read.",
)
def render(ctx: Context, run_id: str | None, from_revision: str | None) -> Report:
    """Write upgrade.sql and downgrade.sql of the pending revisions."""
    if run_id:
        if from_revision:
            raise click.UsageError("--from and --run-id exclude each other")
        from slipway import staged

        return staged.render(ctx.settings(), run_id)
    return lib.render(ctx.settings(), from_revision)


@db.command()
@common
@join_run
def apply(ctx: Context, run_id: str | None) -> Report:
    """upgrade head, one transaction per revision (no backup, no automatic rollback)."""
    if run_id:
        from slipway import staged

        return staged.apply(ctx.settings(), run_id)
    return lib.apply(ctx.settings())


@db.command()
@common
@option("--revision", help="Expected revision (default: the code's head).")
@join_run
def verify(ctx: Context, revision: str | None, run_id: str | None) -> Report:
    """Check with a fresh connection that the database is at the expected revision."""
    if run_id:
        from slipway import staged

        return staged.verify(ctx.settings(), run_id)
    return lib.verify(ctx.settings(), revision)


@db.command()
@common
@option(
    "--to",
    "to",
    help="Target revision, 'base', or -N (N revisions down); default: the start of the last run.",
)
@option(
    "--yes",
    is_flag=True,
    help="Do not ask (in a terminal, rollback says what it undoes and asks first).",
)
@join_run
def rollback(ctx: Context, to: str | None, run_id: str | None, yes: bool) -> Report:
    """Downgrade to a revision and verify it (after a backup, where the environment backs
    up); with --run-id, end that run where it began."""
    if to is not None and not to.strip():
        raise click.UsageError("--to is empty: name a revision, or 'base'")
    if run_id:
        if to:
            raise click.UsageError("--to and --run-id exclude each other")
        from slipway import staged

        return staged.rollback(ctx.settings(), run_id)
    asking = not yes and sys.stdin.isatty()
    return lib.rollback(ctx.settings(), to, confirm=_ask if asking else None)


def _ask(question: str) -> bool:
    """``question`` on the terminal, whatever --quiet did to stderr, the live display
    paused; only y or yes is a yes."""
    live = _LIVE.get()
    if live is not None:
        live.stop()
    try:
        out = sys.__stderr__ or sys.stderr
        out.write(f"{question}\nGo on? [y/N] ")
        out.flush()
        return sys.stdin.readline().strip().lower() in ("y", "yes")
    finally:
        if live is not None:
            live.start()


@db.command()
@common
@option("--backup", "backup_path", required=True, help="Backup file written by slipway.")
@option("--yes", is_flag=True, help="Confirm that the database is to be overwritten.")
@option(
    "--foreign-backup",
    "foreign",
    is_flag=True,
    help="Accept a valid backup that no run of this database recorded.",
)
def restore(ctx: Context, backup_path: str, yes: bool, foreign: bool) -> Report:
    """Overwrite the database with a backup slipway took of it."""
    if not yes:
        raise click.UsageError("restore overwrites the database: add --yes to confirm")
    return lib.restore(ctx.settings(), backup_path, foreign=foreign)


@db.command()
@common
@option(
    "--limit",
    default=20,
    show_default=True,
    type=click.IntRange(min=1),
    help="At most this many runs.",
)
@option("--failed", is_flag=True, help="Only runs that did not end applied or noop.")
def history(ctx: Context, limit: int, failed: bool) -> Report | None:
    """Runs recorded in the ledger, newest first: full run ids, each run's command."""
    report, rows = lib.history(ctx.settings(), limit, failed=failed)
    if ctx.as_json or ctx.quiet or report.exit_code != 0:
        return report
    from rich.table import Table

    table = Table("run", "command", "env", "who", "from", "to", "outcome", "s", box=None)
    table.columns[0].no_wrap = True
    for r in rows:
        table.add_row(
            r["run_id"],
            r["command"],
            r["env"],
            r["who"],
            r["from_revision"] or "base",
            r["to_revision"] or "base",
            r["outcome"],
            f"{r['duration_s'] or 0:.1f}",
        )
    console().print(table)
    return None


@db.command()
@common
@click.argument("run_id")
def unlock(ctx: Context, run_id: str) -> Report:
    """Close the claim of a run whose process died."""
    return lib.unlock(ctx.settings(), run_id)


@db.command("lint")
@common
@option("--pending", is_flag=True, help="Only the revisions the database lacks.")
@option("--from", "from_revision", help="Only the revisions above this one (offline; or 'base').")
@option(
    "--server-version",
    help="Target server, e.g. mariadb-10.4, mysql-5.7, 15 (default: the connected one).",
)
@option("--junit", type=click.Path(path_type=Path), help="Write JUnit XML here.")
@option(
    "--codequality", type=click.Path(path_type=Path), help="Write GitLab Code Quality JSON here."
)
def lint_cmd(
    ctx: Context,
    pending: bool,
    from_revision: str | None,
    server_version: str | None,
    junit: Path | None,
    codequality: Path | None,
) -> Report:
    """Lint the SQL each revision renders (squawk on PostgreSQL, own rules elsewhere)."""
    if pending and from_revision:
        raise click.UsageError("--pending and --from exclude each other")
    from slipway import gate

    return gate.lint(
        ctx.settings(),
        pending=pending,
        from_revision=from_revision,
        server_version=server_version,
        junit=junit,
        codequality=codequality,
    )


@db.command()
@common
def stairway(ctx: Context) -> Report:
    """Upgrade, downgrade, upgrade every revision on a throwaway database; then to base."""
    from slipway import gate

    return gate.stairway(ctx.settings())


@db.command()
@common
def check(ctx: Context) -> Report:
    """Compare the models with a throwaway database upgraded to head (alembic check)."""
    from slipway import gate

    return gate.check(ctx.settings())


@db.command()
@common
@option(
    "--repair",
    is_flag=True,
    help="Set each one past its column's maximum (one transaction, under the release lock).",
)
def sequences(ctx: Context, repair: bool) -> Report:
    """Key counters (sequences, AUTO_INCREMENT) behind their column's maximum.

    After a bulk import with explicit keys, inserts that take their key from such a
    counter fail on a duplicate key. Exits 0 whether or not any is behind; the report's
    data.sequences lists them."""
    from slipway import sequences as sequences_lib

    return sequences_lib.sequences(ctx.settings(), repair=repair)


@db.group()
def ledger() -> None:
    """slipway's checksum ledger of applied revisions."""


@ledger.command()
@common
@option("--revision", required=True, help="The applied revision whose file changed.")
@option("--reason", required=True, help="Why the file changed (kept in the history).")
def repair(ctx: Context, revision: str, reason: str) -> Report:
    """Record the current checksum of an applied revision's file, on purpose."""
    return lib.repair_checksum(ctx.settings(), revision, reason)


_EVENT_STATUS = {
    "runner_on_ok": "ok",
    "runner_on_failed": "FAILED",
    "runner_on_unreachable": "UNREACHABLE",
    "runner_on_skipped": "skipped",
}


def _stream(console: Console) -> Callable[[dict[str, Any]], None]:
    """One line per task and host, as the play goes (no result data: it may hold secrets)."""

    def show(event: dict[str, Any]) -> None:
        data = event.get("event_data", {})
        name = event.get("event", "")
        if name == "playbook_on_play_start":
            console.print(f"[bold]play[/] {data.get('play', '')}", markup=True, highlight=False)
        elif name in _EVENT_STATUS:
            status = _EVENT_STATUS[name]
            if status == "ok" and (data.get("res") or {}).get("changed"):
                status = "changed"
            colour = {"ok": "green", "changed": "yellow", "skipped": "cyan"}.get(status, "red")
            console.print(
                f"  [{colour}]{status:<8}[/] {data.get('host', '')}  {data.get('task', '')}",
                markup=True,
                highlight=False,
            )

    return show


@cli.group()
def image() -> None:
    """The release's container image."""


@image.command("build")
@option(
    "--bundle",
    required=True,
    type=click.Path(path_type=Path),
    help="The release bundle (make bundle) the image is built from.",
)
@option(
    "--registry",
    envvar="CI_REGISTRY_IMAGE",
    help="Repository to push to, REGISTRY/PATH (GitLab: CI_REGISTRY_IMAGE).",
)
@option(
    "--dockerfile",
    type=click.Path(path_type=Path),
    default="Dockerfile",
    show_default=True,
    help="The Dockerfile; its context is the unpacked bundle.",
)
@option("--base", help="The base image (the Dockerfile's BASE build argument).")
@option("--isolation", help="Build isolation the engine should use (podman: chroot).")
@option("--no-push", "no_push", is_flag=True, help="Build and tag only.")
@option(
    "--dotenv",
    type=click.Path(path_type=Path),
    help="Write SLIPWAY_IMAGE, _TAG, _RELEASE and _DIGEST here (a dotenv report).",
)
@option("--json", "as_json", is_flag=True, help="The result as JSON on stdout.")
def image_build(
    bundle: Path,
    registry: str | None,
    dockerfile: Path,
    base: str | None,
    isolation: str | None,
    no_push: bool,
    dotenv: Path | None,
    as_json: bool,
) -> None:
    """Build the release's image from its bundle, label it (release, commit, Alembic
    head), tag it with the release id and push it; a failure pushes nothing.

    Registry credentials come from CI_REGISTRY_USER and CI_REGISTRY_PASSWORD when set."""
    setup_console(debug=False)
    from slipway import image as image_lib

    user, password = os.environ.get("CI_REGISTRY_USER"), os.environ.get("CI_REGISTRY_PASSWORD")
    show = None if as_json else (lambda line: click.echo(line, err=True))
    try:
        result = image_lib.build(
            bundle,
            registry,
            dockerfile=dockerfile,
            base=base,
            isolation=isolation,
            push=not no_push,
            credentials=(user, password) if user and password else None,
            on_line=show,
        )
    except SlipwayError as err:
        line = str(err)
        if password:
            line = line.replace(password, "********")
        click.echo(f"slipway: error: {line}", err=True)
        sys.exit(err.outcome.exit_code)
    if dotenv is not None:
        dotenv.write_text(result.dotenv(), encoding="utf-8")
    if as_json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        click.echo(f"built {result.reference} ({result.cached}/{result.steps} steps cached)")
        if result.digest:
            click.echo(f"pushed {result.digest}")


@cli.command("deploy")
@option("--env", "env", required=True, envvar="SLIPWAY_ENV", help="inventories/ENV.")
@option(
    "--playbook",
    default="migrate",
    show_default=True,
    type=click.Choice(deploy_lib.PLAYBOOKS),
    help="playbooks/NAME.yml to run.",
)
@option("--inventory", type=click.Path(path_type=Path), help="Another inventory.")
@option(
    "--vault-password-file",
    type=click.Path(path_type=Path),
    envvar="SLIPWAY_VAULT_PASSWORD_FILE",
    help="File with the inventory's vault password.",
)
@option("-e", "--extra-var", "extra", multiple=True, help="KEY=VALUE for the playbook.")
@option("--check", is_flag=True, help="Ansible check mode: change nothing.")
@option("--project", type=click.Path(path_type=Path), default=".", help="Project root.")
@option(
    "--json",
    "as_json",
    is_flag=True,
    envvar="SLIPWAY_JSON",
    help="The result as JSON on stdout (the play's progress goes to stderr).",
)
def deploy_cmd(
    env: str,
    playbook: str,
    inventory: Path | None,
    vault_password_file: Path | None,
    extra: tuple[str, ...],
    check: bool,
    project: Path,
    as_json: bool,
) -> None:
    """Run a playbook (default: the guarded migration) through ansible-runner."""
    setup_console(debug=False)
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True, stderr=as_json)
    pairs = dict(item.split("=", 1) for item in extra if "=" in item)
    if len(pairs) != len(extra):
        raise click.UsageError("-e takes KEY=VALUE")
    try:
        result = deploy_lib.deploy(
            project,
            env,
            playbook,
            inventory=inventory,
            vault_password_file=vault_password_file,
            extra_vars=pairs,
            check=check,
            on_event=_stream(console),
        )
    except SlipwayError as err:
        click.echo(f"slipway: error: {err}", err=True)
        if as_json:
            print(json.dumps({"outcome": err.outcome.value, "error": str(err), "env": env}))
        sys.exit(err.outcome.exit_code)
    for failure in result.failures:
        click.echo(f"slipway: {failure}", err=True)
    if as_json:
        print(json.dumps(result.as_dict(), indent=2))
        sys.exit(result.exit_code)
    console.print(
        f"{result.outcome.value} (exit {result.exit_code}): {playbook} on {env}"
        + (f", run {result.run_id}" if result.run_id else "")
    )
    console.print(f"ansible-runner artifacts: {result.artifacts_dir}", markup=False)
    sys.exit(result.exit_code)


def _stdout_to_devnull() -> None:
    """After the reader of a pipe went away: nothing more reaches it, and Python's
    flush at exit must not fail either."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def main(argv: Sequence[str] | None = None) -> int:
    # The modules imported so far live as long as the process: the cyclic garbage
    # collector need not walk them again, neither while revisions run nor at exit (where
    # that walk cost about a fifth of a second).
    gc.freeze()
    try:
        cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="slipway",
            standalone_mode=False,
        )
    except click.exceptions.Exit as err:
        return int(err.exit_code)
    except click.ClickException as err:
        click.echo(f"slipway: error: {err.format_message()}", err=True)
        return Outcome.BAD_INPUT.exit_code
    except click.exceptions.Abort:
        return Outcome.ERROR.exit_code
    except SystemExit as err:
        return int(err.code or 0) if isinstance(err.code, int) else 1
    except BrokenPipeError:  # a closed pipe is the reader's choice, not an error
        _stdout_to_devnull()
    return 0


if __name__ == "__main__":
    sys.exit(main())
