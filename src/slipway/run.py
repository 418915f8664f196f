"""One run of a slipway command: its id, artifact folder, log, report, lock and claim.

A :class:`Run` is entered with ``with``; whatever happens inside, the report is written
to ``artifacts/<run id>/report.json`` and the claim in the ledger is closed.

A run can also span several processes, one per step (Ansible runs each step as its own
task): each process *joins* the run by its id, continues the same report and run log,
and renews the run's claim, which then lives by a lease instead of by a process.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import json
import logging
import os
import shutil
import socket
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from slipway import ledger, schema
from slipway.artifacts import new_run_id, private_dir
from slipway.backends import Backend, Revision, get_backend
from slipway.config import Settings
from slipway.dialects import Dialect, dialect_for
from slipway.errors import BadInput, Refused, SlipwayError, env_error, first_line
from slipway.guard import Guard, Recording
from slipway.logs import redact, run_log
from slipway.outcomes import Outcome, Phase
from slipway.report import Report

if TYPE_CHECKING:
    from slipway.steps import Dump

log = logging.getLogger(__name__)


def who_am_i() -> str:
    user = os.environ.get("GITLAB_USER_LOGIN") or getpass.getuser()
    job = os.environ.get("CI_JOB_ID")
    who = f"{user}@{socket.gethostname()}" + (f" (CI job {job})" if job else "")
    return who[:200]  # what the ledger's column holds


def process_identity(pid: int) -> str | None:
    """``<boot id>:<start time>`` of a process on this host (Linux), None when unknown:
    with the pid, it names one process across pid reuse and reboots."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return f"{boot}:{fields[19]}"
    except (OSError, IndexError):
        return None


def process_alive(host: str, pid: int, process: str | None = None) -> bool | None:
    """True/False for a process on this host; None when it runs elsewhere (cannot tell).
    With ``process`` (see :func:`process_identity`), a pid now held by another process
    counts as gone."""
    if host != socket.gethostname():
        return None
    if process is not None and process_identity(pid) not in (process, None):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        if stat.read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
            return False
    return True


def claim_alive(claim: ledger.Claim) -> bool | None:
    """Whether the run holding a claim may still be going on (None: cannot tell)."""
    if claim.lease_until is not None:
        return ledger.now() < claim.lease_until
    return process_alive(claim.host, claim.pid, claim.process)


# The commands that apply pending revisions (and their preflight): they keep the phases.
_PHASED = ("release", "apply", "preflight", "claim")


def _judged(
    claim: ledger.Claim, row: dict[str, Any], current: str | None, fingerprint: str
) -> tuple[str, bool]:
    """Where a dead run left the database (``current``, ``fingerprint``), and whether its
    ledger ``row`` proves that state: its start, or its verified end."""
    start_fp, end_fp = row.get("start_fingerprint"), row.get("end_fingerprint")
    if current == claim.from_revision and start_fp in (None, fingerprint):
        return "the database is as it found it", True
    if end_fp and current == row.get("to_revision") and fingerprint == end_fp:
        return f"the database is at {current}, as its verify step found it", True
    if current == claim.from_revision:
        return (
            f"at {current or 'base'} but its schema is not the one the run began with "
            "(DDL committed part-way)"
        ), False
    if end_fp and current == row.get("to_revision"):
        return f"at {current} but its schema is not the one the run's verify step read", False
    return f"at {current or 'base'}, not {claim.from_revision or 'base'}", False


@dataclass
class State:
    """Where the database is and where the code wants it to be."""

    current: str | None
    head: str
    pending: list[Revision]
    exists: bool


def _pending_below(pending: list[Revision]) -> dict[str, set[str]]:
    """The pending revisions below each pending one, in one pass: ``pending`` is in
    upgrade order, so what a revision stands on comes before it."""
    below: dict[str, set[str]] = {}
    for rev in pending:
        mine: set[str] = set()
        for down in rev.below:
            if down in below:
                mine |= below[down] | {down}
        below[rev.id] = mine
    return below


class Run:
    def __init__(
        self,
        settings: Settings,
        command: str,
        *,
        run_id: str | None = None,
        join: bool = False,
        read_only: bool = False,
        target: str | None = None,
        phase: str = "all",
    ) -> None:
        self.settings = settings
        # Which revisions a release takes: pre (before the hosts switch), post, or all.
        self.phase = phase
        # The revision a release goes up to (--to): the single head unless given.
        self.target = None if target in (None, "head") else target
        # A read-only command (status, history) keeps no artifacts and runs no revision.
        self.read_only = read_only
        self.run_id = run_id or new_run_id()
        self.dir = settings.artifacts_dir / self.run_id
        self.joined = join
        if join:
            if not (self.dir / "report.json").is_file() or "/" in self.run_id:
                raise BadInput(
                    f"no run {self.run_id} in {settings.artifacts_dir}",
                    hint="pass the run id that 'slipway db preflight' or 'slipway db claim' "
                    "printed, on the host that ran it",
                )
            self.report = Report.load(self.dir)
            self.report.command = command
        else:
            self.report = Report.begin(settings, self.run_id, command, who_am_i())
        self.dialect: Dialect = dialect_for(
            settings.url,
            statement_timeout_s=settings.options.statement_timeout_s,
            lock_timeout_s=settings.options.own_lock_timeout_s,
        )
        self._engine: Engine | None = None
        self._own_engine: Engine | None = None
        self._project: Backend | None = None
        self._relpaths: dict[Path, str] = {}
        self._probed = False
        self._stack = contextlib.ExitStack()
        self._locked = False
        self._sessions: list[str] = []
        self._noting = False
        # Where a dead run this remedy closed began (revision, schema fingerprint): the
        # remedy must end there, proven.
        self.dead_run_start: tuple[str | None, str | None] | None = None
        # The schema as the lock step found it (schema.describe): the run's start.
        self.start_described: dict[str, Any] | None = None
        # The catalog it was read with (schema.read_catalog): what changed since is read again.
        self.start_catalog: schema.Catalog | None = None
        # A backup begun in preflight (steps.begin_backup), until the backup step takes it.
        self.early_backup: Dump | None = None
        self.claimed = False
        self.leased = False
        # A step that joins a run but is refused before taking its claim (the run has
        # ended, say) must not overwrite the run's report.
        self.owns_report = not join

    # resources ------------------------------------------------------------------
    @property
    def project(self) -> Backend:
        if self._project is None:
            self._project = get_backend(self.settings, run_revisions=not self.read_only)
        return self._project

    @property
    def engine(self) -> Engine:
        """New connections: handed to env.py, holding the session lock."""
        if self._engine is None:
            self._engine = self.dialect.create_engine()
        return self._engine

    @property
    def own_engine(self) -> Engine:
        """slipway's own statements (ledger, schema reads): one connection, kept."""
        if self._own_engine is None:
            self._own_engine = self.dialect.create_engine(pooled=True)
        return self._own_engine

    def forget_connections(self) -> None:
        """Close the kept connection (after a restore: sessions start afresh)."""
        if self._own_engine is not None:
            self._own_engine.dispose()

    def fresh_engine(self) -> Engine:
        """A new engine: verification must not trust a connection the run has used."""
        return self.dialect.create_engine()

    def connect(self) -> contextlib.AbstractContextManager[Connection]:
        return self.own_engine.connect()

    # lifecycle --------------------------------------------------------------------
    def __enter__(self) -> Run:
        if self.read_only:
            self.owns_report = False
            self._log_settings()
            return self
        try:  # proven writable before anything changes
            private_dir(self.dir)
            probe = self.dir / ".writable"
            probe.write_bytes(b"\0" * 4096)
            probe.unlink()
            self._stack.enter_context(run_log(self.dir / "run.log", self.settings.secrets))
        except OSError as err:
            raise BadInput(
                f"the artifacts folder {self.settings.artifacts_dir} cannot be written: "
                f"{err.strerror or err}; nothing was changed",
                hint="free space there, fix its permissions, or set artifacts_dir",
            ) from err
        self.report.artifacts_dir = str(self.dir)
        self._prune_artifacts()
        log.info(
            "run %s: %s on %s (%s) by %s",
            self.run_id,
            self.report.command,
            self.settings.env,
            self.settings.safe_url(),
            self.report.who,
        )
        self._log_settings()
        return self

    def _log_settings(self) -> None:
        log.debug(
            "settings of %s: %s; project %s; artifacts %s; backups %s",
            self.settings.env,
            self.settings.options.model_dump(exclude={"database_url"}),
            self.settings.project_file,
            self.settings.artifacts_dir,
            self.settings.backup_dir,
        )

    def _prune_artifacts(self) -> None:
        """Keep the newest ``artifacts_keep`` run folders (run ids sort by time); never
        one whose run goes on (a staged run's later steps need it)."""
        keep = self.settings.options.artifacts_keep
        folders = sorted(
            (p for p in self.settings.artifacts_dir.iterdir() if p.is_dir() and p != self.dir),
            key=lambda p: p.name,
        )
        for folder in folders[: max(0, len(folders) - (keep - 1))]:
            try:
                report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                report = {}
            if report.get("outcome") == Outcome.RUNNING.value:
                continue
            shutil.rmtree(folder, ignore_errors=True)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        swallow = False
        # SIGINT/SIGTERM (signals.Interrupted) end the run like any failure does.
        if exc is not None and isinstance(exc, (Exception, KeyboardInterrupt)):
            swallow = True
            self.fail(exc)
        try:
            if self.claimed:
                self._sync_claim()
            if self.owns_report or self.claimed:
                try:
                    self.report.write(self.dir)
                except OSError as err:  # the database's outcome stands; say where it is
                    log.warning(
                        "report.json cannot be written (%s); the outcome is in the "
                        "ledger (slipway db history) and on stdout with --json",
                        err.strerror or err,
                    )
            log.info("run %s ended: %s", self.run_id, self.report.outcome.value)
        finally:
            self._stack.close()
            self.forget_connections()
            if self._engine is not None:
                self._engine.dispose()
        return swallow

    def fail(self, exc: BaseException) -> None:
        if isinstance(exc, KeyboardInterrupt):
            exc = Refused(
                f"{exc or 'interrupted'}; nothing was changed",
                check="interrupted",
                hint="run the command again when ready",
            )
        if not isinstance(exc, SlipwayError) and self.dialect.is_lock_timeout(exc):
            exc = self._lock_wait_refusal(exc)
        outcome = exc.outcome if isinstance(exc, SlipwayError) else Outcome.ERROR
        # One line: a driver error carries its SQL too, which belongs in the run log only.
        self.report.fail(exc, self.settings.secrets)
        message = self.report.error.message if self.report.error else ""
        if self.leased and self.report.phase is not Phase.CHECKING:
            # A step of a run whose changes have begun: the run is not over until it is
            # rolled back, and its claim stays open until then.
            self.report.next_command = self.settings.command("rollback", "--run-id", self.run_id)
            log.error("%s", message)
            return
        if outcome is Outcome.ERROR:
            self.report.traceback = "".join(traceback.format_exception(exc))
            log.error("internal error: %s", message)
            log.info("%s", self.report.traceback)  # the run log keeps it; stderr does not
        else:
            # The CLI prints this as its one-line error; the run log keeps it too.
            log.info("%s: %s", outcome.value, message)
        self.report.finish(outcome)

    def _lock_wait_refusal(self, exc: BaseException) -> Refused:
        """slipway's own reads and writes (ledger, schema, version table) wait for a lock
        at most ``own_lock_timeout_s``: past that, the run ends refused, as it began."""
        orig = getattr(exc, "orig", None) or exc
        reason = first_line(orig) or type(orig).__name__
        return Refused(
            f"a lock slipway needed was held by another session for more than "
            f"{self.settings.options.own_lock_timeout_s:g} s: "
            f"{redact(reason, self.settings.secrets)}",
            check="lock_wait",
            hint="find the session holding a lock on the database's tables (a long "
            "transaction, a manual LOCK) and end it, or run again when it is done",
        )

    # reading the database -------------------------------------------------------
    def state(self) -> State:
        """Read the database's revision; refuse a position the code does not know."""
        head = self.project.single_head()
        if self.target is not None:
            if not self.project.knows(self.target):
                raise BadInput(
                    f"--to {self.target}: no such revision in the migration graph",
                    hint="name a revision 'slipway db status' lists, or leave --to out",
                )
            head = self.target
        if not self.dialect.database_exists():
            return State(
                current=None, head=head, pending=self.project.pending(None, head), exists=False
            )
        heads = self.heads()
        if len(heads) > 1:
            raise Refused(
                f"the database has {len(heads)} revisions at once: {', '.join(heads)}",
                check="current_known",
                hint="merge the branches in the code and release the merge revision",
            )
        current = heads[0] if heads else None
        if current is not None and not self.project.knows(current):
            raise Refused(
                f"the database is at revision {current}, which this code does not know: "
                "it is ahead of the code or from another branch",
                check="current_known",
                hint="deploy the code that has this revision, or check out the right branch",
            )
        if current is not None and not self.project.is_below(current, head):
            raise BadInput(
                f"--to {head}: the database is at {current}, which is not below {head}",
                hint=f"to go down, run: {self.settings.command('rollback', '--to', head)}",
            )
        return self._by_phase(
            State(
                current=current,
                head=head,
                pending=self.project.pending(current, head),
                exists=True,
            )
        )

    def _by_phase(self, state: State) -> State:
        """The part of ``state`` this run's phase takes; a pre-deploy revision above a
        post-deploy one is refused whatever the phase (the hosts would switch first)."""
        if not state.pending or self.report.command not in _PHASED:
            return state
        phases = {r.id: self.project.phase_of(r.id) for r in state.pending}
        self.report.data["phases"] = phases
        posts = [r for r in state.pending if phases[r.id] == "post"]
        pending_below = _pending_below(state.pending) if posts else {}
        for rev in state.pending if posts else ():
            if phases[rev.id] != "pre":
                continue
            under = [p.id for p in posts if p.id in pending_below[rev.id]]
            if under:
                raise Refused(
                    f"pre-deploy revision {rev.id} sits above post-deploy revision "
                    f"{under[0]}: the pre-deploy phase would have to run {under[0]} before "
                    "the hosts switch",
                    check="phase",
                    hint=f'mark {rev.id} slipway_phase = "post" too, or put it below '
                    f"{under[0]} (its down_revision)",
                )
        if self.phase == "post" and len(posts) < len(state.pending):
            waiting = [r.id for r in state.pending if phases[r.id] == "pre"]
            raise Refused(
                f"{len(waiting)} pre-deploy revision(s) are pending ({', '.join(waiting)}): the "
                "post-deploy phase comes after them",
                check="phase",
                hint=self.settings.command("release", "--phase", "pre"),
            )
        if self.phase != "pre":
            return state
        pre = [r for r in state.pending if phases[r.id] == "pre"]
        if not pre:
            return State(state.current, state.current or "base", [], state.exists)
        head = pre[-1].id
        taken = self.project.pending(state.current, head)
        if [r.id for r in taken] != [r.id for r in pre]:
            raise BadInput(
                "the pending pre-deploy revisions do not end in one revision",
                hint="merge their branches, or release them with --to REV",
            )
        return State(state.current, head, taken, state.exists)

    def guard(
        self,
        *,
        url: URL | None = None,
        timeouts: tuple[float, float] | None = None,
        recording: Recording | None = None,
        how_to_fix: str = "let env.py use the connection slipway hands over "
        "(config.attributes['connection']) or sqlalchemy.url, or pass the database "
        "env.py uses as --db-url",
        redirect: bool = False,
    ) -> Guard:
        """The connection guard for env.py runs of this command (see :mod:`slipway.guard`);
        with ``redirect``, what env.py opens to the target goes to ``url`` instead."""
        return Guard(
            url or self.settings.url,
            secrets=self.settings.secrets,
            how_to_fix=how_to_fix,
            timeouts=timeouts,
            recording=recording,
            redirect_from=self.settings.url if redirect else None,
            # The sessions a revision runs in, on the target: kept in the claim, so that
            # whoever comes after a kill can end them.
            on_session=self._note_session if timeouts is not None and not redirect else None,
        )

    def _note_session(self, session: str) -> None:
        # The ledger's own connection passes the guard too: not noted, not recursed into.
        if self._noting or session in self._sessions:
            return
        self._noting = True
        try:
            self._sessions.append(session)
            self.record(sessions=",".join(self._sessions[-20:]))
        finally:
            self._noting = False

    def heads(self) -> tuple[str, ...]:
        """The database's revision(s). The first read of a command runs env.py online
        with nothing to migrate: the guard proves env.py reaches this database, and
        env.py's own version-table options are learned; later reads go direct."""
        try:
            if not self._probed:
                heads = self.project.probe(self.engine, self.guard())
                self._probed = True
                return heads
            with self.connect() as conn:
                return self.project.current(conn)
        except (OperationalError, InterfaceError) as err:
            raise self.unreachable(err) from err
        except Exception as err:
            found = env_error(err)
            if found is not None:
                raise found from err
            raise self.project.probe_failed(err) from err

    def unreachable(self, err: DBAPIError) -> BadInput:
        reason = str(err.orig).strip().splitlines()[0] if err.orig else str(err)
        return BadInput(
            f"cannot reach database {self.settings.safe_url()}: "
            f"{redact(reason, self.settings.secrets)}",
            hint=f"check host, port, user and the URL from {self.settings.url_source}",
        )

    # lock and claim --------------------------------------------------------------
    def hold_lock(self) -> None:
        """Hold the session lock for the rest of the run; it dies with the process."""
        if not self._locked:
            self._stack.enter_context(self.dialect.lock(self.engine, self.settings.database_name))
            self._locked = True

    def on_exit(self, fn: Callable[..., object], *args: object) -> None:
        """Call ``fn(*args)`` when the run ends, before its lock is let go."""
        self._stack.callback(fn, *args)

    def lock(self, *, remedy: bool = False) -> None:
        """Hold the session lock, then refuse while another run's claim is open or, unless
        this run is a remedy (rollback, restore), while the last run needs attention."""
        self.hold_lock()
        with self.connect() as conn:
            claims = ledger.open_claims(conn)
            last = ledger.last_run(conn)
        for claim in claims:
            if claim.run_id == self.run_id:
                continue
            alive = claim_alive(claim)
            started = f"started {claim.started_at:%Y-%m-%d %H:%M:%S}Z by {claim.who}"
            unlock = self.settings.command("unlock", claim.run_id)
            if alive is False:
                self.end_sessions_of(claim)
            if alive is False and remedy:
                # A remedy is what a dead run's database needs: a restore always; a
                # rollback where the run left the database at another revision (it ends
                # proven against the run's start). It closes the claim, under the lock.
                repair = self.repair_after(claim)
                if repair is not None and not self._repairs(claim, repair[1]):
                    where, fix = repair
                    raise Refused(
                        f"run {claim.run_id} ({started}) ended without finishing and left "
                        f"the database changed: {where}; {self.report.command} cannot put "
                        "that back",
                        check="claim",
                        hint=f"run: {fix}",
                    )
                note = f"its process was gone; closed by {self.report.command} run {self.run_id}"
                log.warning("run %s ended without finishing: %s", claim.run_id, note)
                with self.connect() as conn, conn.begin():
                    ledger.close_claim(conn, claim.run_id, Outcome.ABANDONED, detail=note)
                # A rollback that follows ends proven against the run's start.
                self.dead_run_start = (claim.from_revision, self._start_fingerprint(claim))
                continue
            if alive is False:
                gone = (
                    f"its lease ran out at {claim.lease_until:%H:%M:%S}Z"
                    if claim.lease_until
                    else f"its process {claim.pid} on {claim.host} is gone"
                )
                repair = self.repair_after(claim)
                if repair is not None:
                    where, fix = repair
                    raise Refused(
                        f"run {claim.run_id} ({started}) ended without finishing: {gone}; "
                        f"it left the database changed: {where}",
                        check="claim",
                        hint=f"run: {fix}",
                    )
                raise Refused(
                    f"run {claim.run_id} ({started}) ended without finishing: {gone}; "
                    f"{self.dead_run_state(claim)[0]}",
                    check="claim",
                    hint=f"run: {unlock}",
                )
            raise Refused(
                f"run {claim.run_id} ({started}, pid {claim.pid} on {claim.host}) "
                "is still in progress",
                check="claim",
                hint=f"wait for it; if it is dead, run: {unlock}",
            )
        if not remedy and last is not None and last["outcome"] == Outcome.NEEDS_ATTENTION.value:
            unlock = self.settings.command("unlock", str(last["run_id"]))
            raise Refused(
                f"run {last['run_id']} ended needs_attention: the database state is uncertain",
                check="attention",
                hint=f"run what its report names next; once the database is sound: {unlock}",
            )

    def end_sessions_of(self, claim: ledger.Claim) -> None:
        """End the server sessions a dead run's revisions ran in (a statement the kill
        left running, with its locks); refuse, naming the statements, where the server
        does not allow it."""
        ids = [s for s in (claim.sessions or "").split(",") if s]
        if not ids:
            return
        with self.connect() as conn:
            live = before = self.dialect.live_sessions(conn, ids)
        left = [sid for sid in live if not self.dialect.terminate(int(sid))]
        deadline = time.monotonic() + 10
        while live and not left and time.monotonic() < deadline:
            with self.connect() as conn:
                live = self.dialect.live_sessions(conn, live)
            if live:
                time.sleep(0.2)
        if live or left:
            ends = "; ".join(self.dialect.end_session_sql(sid) for sid in left or live)
            raise Refused(
                f"run {claim.run_id} ended without finishing, and its server session(s) "
                f"{', '.join(left or live)} still run on the database",
                check="claim",
                hint=f"end them as a user allowed to ({ends}), then run this again",
            )
        ended = [sid for sid in ids if sid in before]
        if ended:
            # In the run log and the report; the command's own outcome is what it prints.
            log.info("run %s: ended its server session(s) %s", claim.run_id, ", ".join(ended))
            self.report.data.setdefault("ended_sessions", []).extend(
                {"run_id": claim.run_id, "session": sid} for sid in ended
            )

    def _start_fingerprint(self, claim: ledger.Claim) -> str | None:
        with self.connect() as conn:
            row = ledger.run(conn, claim.run_id) or {}
        value = row.get("start_fingerprint")
        return str(value) if value else None

    def _repairs(self, claim: ledger.Claim, fix: str) -> bool:
        """Whether this command is the one that puts a dead run's database back."""
        if self.report.command == "restore":
            return True
        return self.report.command == "rollback" and fix == self.settings.command(
            "rollback", "--to", claim.from_revision or "base"
        )

    def repair_after(self, claim: ledger.Claim) -> tuple[str, str] | None:
        """Where a dead run left the database, and the one command that puts it back;
        None when its state is proven: as the run found it (its start revision and schema
        fingerprint), or as its verify step read it (its target revision, with the
        fingerprint recorded there)."""
        row, current, fingerprint = self._dead_run_facts(claim)
        where, proven = _judged(claim, row, current, fingerprint)
        if proven:
            return None
        backup = row.get("backup_path")
        if backup:
            return where, self.settings.command("restore", "--backup", str(backup), "--yes")
        if current == claim.from_revision:
            # No downgrade undoes a revision that never finished, and nothing was backed up.
            return where, (
                f"nothing can put it back by itself (no backup): remove what run "
                f"{claim.run_id} created by hand ('slipway db check' names the differences "
                f"from {current or 'base'}), then {self.settings.command('unlock', claim.run_id)}"
            )
        return where, self.settings.command("rollback", "--to", claim.from_revision or "base")

    def dead_run_state(self, claim: ledger.Claim) -> tuple[str, bool]:
        """Where a dead run left the database, and whether its record proves that state:
        the run's start, or its verified end (revision and schema fingerprint)."""
        return _judged(claim, *self._dead_run_facts(claim))

    def _dead_run_facts(self, claim: ledger.Claim) -> tuple[dict[str, Any], str | None, str]:
        """A dead run's ledger row, and the database's revision and fingerprint now."""
        with self.connect() as conn:
            row = ledger.run(conn, claim.run_id) or {}
            heads = self.project.current(conn)
            fingerprint = schema.fingerprint(conn)
        return row, ",".join(heads) or None, fingerprint

    def claim(self, current: str | None, target: str | None, *, lease: bool = False) -> None:
        """Write this run's claim (a ``running`` history row), baseline the checksums
        of revisions applied before slipway recorded any, and re-record those an earlier
        slipway recorded in another form. With ``lease``, the claim
        outlives this process: later steps join the run and renew it."""
        with self.connect() as conn, conn.begin():
            ledger.ensure(conn)
            recorded = ledger.recorded_checksums(conn)
            known = current is not None and self.project.knows(current)
            baseline = []
            for rev in self.project.applied(current) if known else []:
                if rev.id not in recorded:
                    how = "baseline"
                elif recorded[rev.id].file_sha256 != rev.file_sha256 or (
                    recorded[rev.id].sha256 != rev.sha256
                ):
                    # recorded by an earlier slipway (preflight found the file unchanged):
                    # in today's form from now on, the same on every Python
                    how = "rerecorded"
                else:
                    continue
                baseline.append(
                    ledger.Checksum(
                        rev.id, self.relpath(rev.path), rev.sha256, how, None, rev.file_sha256
                    )
                )
            ledger.record_checksums(conn, self.run_id, baseline)
            ledger.open_claim(
                conn,
                ledger.Claim(
                    run_id=self.run_id,
                    env=self.settings.env,
                    command=self.report.command,
                    who=self.report.who,
                    host=socket.gethostname(),
                    pid=os.getpid(),
                    started_at=ledger.now(),
                    from_revision=current,
                    lease_until=self._lease_end() if lease else None,
                    process=process_identity(os.getpid()),
                    app_release=self.settings.release,
                ),
                to_revision=target,
            )
        self.claimed = True
        self.leased = lease

    def _lease_end(self) -> dt.datetime:
        return ledger.now() + dt.timedelta(seconds=self.settings.options.claim_lease_s)

    def join_claim(self) -> None:
        """Hold the session lock and take over this run's open claim from its last step."""
        self.hold_lock()
        with self.connect() as conn:
            row = ledger.run(conn, self.run_id)
        if row is None:
            raise Refused(
                f"run {self.run_id} holds no claim on this database",
                check="claim",
                hint=f"start the run with 'slipway db claim --run-id {self.run_id}'",
            )
        if row["outcome"] != Outcome.RUNNING.value:
            raise Refused(
                f"run {self.run_id} has already ended ({row['outcome']})",
                check="claim",
                hint="start a new release",
            )
        self.claimed = self.leased = True
        with self.connect() as conn, conn.begin():
            ledger.update_claim(
                conn,
                self.run_id,
                pid=os.getpid(),
                host=socket.gethostname(),
                process=process_identity(os.getpid()),
                lease_until=self._lease_end(),
            )

    def record(self, **fields: object) -> None:
        """Write what a step produced into this run's claim at once (the backup, the
        start fingerprint): a run killed later leaves it for whoever comes next."""
        if not self.claimed:
            return
        with self.connect() as conn, conn.begin():
            ledger.update_claim(conn, self.run_id, **fields)

    def _sync_claim(self) -> None:
        """Close the claim when the run has ended; otherwise record progress, renew the lease."""
        r = self.report
        fields: dict[str, object] = {
            "to_revision": r.to_revision,
            "duration_s": sum(s.duration_s for s in r.steps),
            "detail": r.error.message if r.error else r.data.get("note"),
            "failed_revision": r.error.revision if r.error else None,
        }
        if r.backup:
            fields |= {
                "backup_path": r.backup.path,
                "backup_sha256": r.backup.sha256,
                "backup_bytes": r.backup.bytes,
            }
        if "upgrade" in r.sql:
            fields["upgrade_sql_sha256"] = r.sql["upgrade"].sha256
        if "downgrade" in r.sql:
            fields["downgrade_sql_sha256"] = r.sql["downgrade"].sha256
        # A run that ended as planned closes its claim on its own connection; after a
        # failure (a signal may have cut a statement short) on a new one.
        ended_well = r.outcome in (Outcome.APPLIED, Outcome.NOOP, Outcome.RUNNING)
        engine = self.own_engine if ended_well and r.error is None else self.fresh_engine()
        try:
            with engine.connect() as conn, conn.begin():
                if r.outcome is Outcome.RUNNING:
                    ledger.update_claim(conn, self.run_id, lease_until=self._lease_end(), **fields)
                else:
                    ledger.close_claim(conn, self.run_id, r.outcome, **fields)
        except DBAPIError as err:
            log.error(
                "could not close claim of run %s: %s",
                self.run_id,
                redact(str(err.orig), self.settings.secrets),
            )

    def relpath(self, path: Path) -> str:
        """``path`` from the project file's folder (each revision's is asked for several times
        per run; resolving is a system call per path component)."""
        known = self._relpaths.get(path)
        if known is None:
            try:
                known = str(path.resolve().relative_to(self.settings.project_file.parent))
            except ValueError:
                known = str(path)
            self._relpaths[path] = known
        return known
