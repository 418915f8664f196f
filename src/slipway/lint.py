"""The migration lint gate: the SQL each revision renders, checked before it runs.

Each revision is rendered on its own (``down:rev --sql``) for the target dialect, so a
finding names its revision and statement. PostgreSQL goes through squawk-cli (its JSON
reporter); MySQL/MariaDB and SQLite through :mod:`slipway.sqlrules`. Every dialect also
gets the reversibility rule: a downgrade that renders nothing, or raises, cannot undo
its revision.

A revision accepts a finding in its own file, with the reason a reviewer agreed to::

    slipway_accept = {"ban-drop-column": "nothing reads orders.note since 2.3"}

Each environment sets the level that blocks (``lint_fail_on``) and may change a rule's
severity (``lint_rules: {rule: error|warning|off}``).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from slipway.backends import ACCEPT_ATTRIBUTE, Backend, Rendered, Revision
from slipway.dialects import Dialect, dialect_named
from slipway.errors import Refused, first_line
from slipway.sqlrules import RULES, ServerVersion, Statement, split

# Dangerous to run against a live service: these block by default.
ERROR_RULES = frozenset(
    {
        "adding-field-with-default",
        "adding-not-nullable-field",
        "adding-required-field",
        "adding-serial-primary-key-field",
        "ban-drop-column",
        "ban-drop-database",
        "ban-drop-not-null",
        "ban-drop-table",
        "ban-truncate-cascade",
        "changing-column-type",
        "disallowed-unique-constraint",
        "irreversible-downgrade",
        "rename-column-unsupported",
        "renaming-column",
        "renaming-table",
        "require-concurrent-index-creation",
        "require-concurrent-index-deletion",
        "require-online-index-creation",
        "require-online-index-deletion",
        "syntax-error",
    }
)
# slipway runs every revision in its own transaction under lock_timeout and
# statement_timeout, so squawk's rules asking for those settings in the SQL, or for
# statements that survive a half-applied run, do not apply.
OFF_RULES = frozenset(
    {
        "prefer-robust-stmts",
        "require-lock-timeout",
        "require-statement-timeout",
        "require-timeout-settings",
        "transaction-nesting",
    }
)
# Changes the old version of a service cannot survive during a rolling deploy: an error
# in a pre-deploy revision, a warning in a post-deploy one.
BREAKING_RULES = frozenset(
    {
        "ban-drop-column",
        "ban-drop-table",
        "renaming-column",
        "renaming-table",
        "changing-column-type",
        "adding-not-nullable-field",
        "adding-required-field",
    }
)
SEVERITY_ORDER = {"warning": 1, "error": 2}


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str  # error | warning
    revision: str
    path: str
    line: int
    statement: str
    message: str
    hint: str
    source: str  # squawk | slipway
    accepted: str | None = None  # the reason written in the revision
    # The revision is in the adoption baseline (slipway-baseline.yml): reported only.
    baseline: bool = False

    @property
    def fingerprint(self) -> str:
        key = f"{self.rule}\0{self.revision}\0{self.statement}"
        return hashlib.sha256(key.encode()).hexdigest()


@dataclass
class LintResult:
    dialect: str
    server: str | None
    fail_on: str
    revisions: list[Revision]
    paths: dict[str, str] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def blocks(self, finding: Finding) -> bool:
        if finding.accepted is not None or finding.baseline or self.fail_on == "never":
            return False
        return SEVERITY_ORDER[finding.severity] >= SEVERITY_ORDER[self.fail_on]

    def blocking(self) -> list[Finding]:
        return [f for f in self.findings if self.blocks(f)]

    def summary(self) -> str:
        accepted = sum(1 for f in self.findings if f.accepted is not None)
        baseline = sum(1 for f in self.findings if f.baseline and f.accepted is None)
        blocking = len(self.blocking())
        adopted = f", {baseline} in the adoption baseline" if baseline else ""
        return (
            f"{len(self.revisions)} revision(s) on {self.dialect}: {len(self.findings)} "
            f"finding(s), {accepted} accepted{adopted}, {blocking} blocking "
            f"(fail on {self.fail_on})"
        )

    def refusal(self) -> Refused | None:
        blocking = self.blocking()
        if not blocking:
            return None
        first = blocking[0]
        more = f" (and {len(blocking) - 1} more)" if len(blocking) > 1 else ""
        return Refused(
            f"revision {first.revision} ({first.path}): {first.rule}: {first.message}{more}",
            check="lint",
            hint=f"{first.hint}; or accept it in the revision: "
            f'{ACCEPT_ATTRIBUTE} = {{"{first.rule}": "why it is safe"}}',
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "dialect": self.dialect,
            "server": self.server,
            "fail_on": self.fail_on,
            "revisions": [r.id for r in self.revisions],
            "summary": self.summary(),
            "findings": [asdict(f) | {"blocking": self.blocks(f)} for f in self.findings],
        }


def server_version(dialect: Dialect, conn: Connection) -> ServerVersion:
    """What the connected server is (MariaDB and MySQL differ in what they can do)."""
    return ServerVersion(*dialect.server_version(conn))


def local_server(dialect: Dialect) -> ServerVersion | None:
    """The server as known without a connection (SQLite's is the library's own)."""
    known = dialect.local_server_version()
    return ServerVersion(*known) if known is not None else None


def check(
    project: Backend,
    start: str | None,
    revisions: list[Revision],
    *,
    dialect: str,
    server: ServerVersion | None,
    fail_on: str,
    rules: Mapping[str, str],
    relpath: Callable[[Path], str],
) -> LintResult:
    """Lint the SQL of each of ``revisions`` (those above ``start``), rendered in one
    pass each way; the result says which findings block."""
    result = LintResult(dialect, str(server) if server else None, fail_on, list(revisions))
    ups = project.rendered(start, revisions, up=True)
    raw = _raw_findings(
        project,
        revisions,
        ups,
        lambda: project.rendered(start, revisions, up=False),
        dialect,
        server,
    )
    for rev in revisions:
        path = relpath(rev.path)
        result.paths[rev.id] = path
        accepted = project.acceptances(rev.id)
        adopted = project.in_baseline(rev) or not project.owns(rev)
        def_lines = _def_lines(rev.path)
        phase = project.phase_of(rev.id)
        for rule, statement, message, hint, source, func, line in raw[rev.id]:
            severity = rules.get(rule) or _default_severity(rule)
            if severity == "off":
                continue
            if rule in BREAKING_RULES and rule not in rules:
                # What the old version of the service cannot survive while both versions
                # run: where it belongs (post-deploy) a warning, elsewhere an error
                # that says where to move it.
                if phase == "post":
                    severity = "warning"
                else:
                    hint = (
                        f"{hint}; or move it to a post-deploy revision "
                        '(slipway_phase = "post": it runs once every host serves the new '
                        "version)"
                    ).lstrip("; ")
            result.findings.append(
                Finding(
                    rule=rule,
                    severity=severity,
                    revision=rev.id,
                    path=path,
                    line=line or def_lines.get(func, 1),
                    statement=statement[:500],
                    message=message,
                    hint=hint,
                    source=source,
                    accepted=accepted.get(rule),
                    baseline=adopted,
                )
            )
    return result


def _default_severity(rule: str) -> str:
    if rule in OFF_RULES:
        return "off"
    return "error" if rule in ERROR_RULES else "warning"


# rule, statement, message, hint, source, function, line in the file (None: the function's)
_Raw = tuple[str, str, str, str, str, str, int | None]


def _relevant(project: Backend) -> Callable[[Rendered], list[Statement]]:
    """The statements of a revision's SQL without alembic's version-table bookkeeping and
    the transaction around it."""
    version_table = re.compile(rf"\b{re.escape(project.version_table)}\b", re.I)

    def relevant(rendered: Rendered) -> list[Statement]:
        return [
            s
            for s in split(rendered.sql, rendered.writes)
            if not version_table.search(s.text) and s.text.upper() not in ("BEGIN", "COMMIT")
        ]

    return relevant


def _raw_findings(
    project: Backend,
    revisions: list[Revision],
    ups: Mapping[str, Rendered],
    render_downs: Callable[[], Mapping[str, Rendered]],
    dialect: str,
    server: ServerVersion | None,
) -> dict[str, list[_Raw]]:
    """Each revision's findings; the downgrades are rendered (``render_downs``) while
    squawk reads the upgrades."""
    relevant = _relevant(project)
    out: dict[str, list[_Raw]] = {rev.id: [] for rev in revisions}
    statements: dict[str, list[Statement]] = {}
    for rev in revisions:
        up = ups[rev.id]
        if up.error is not None:
            why = f"{type(up.error).__name__}: {first_line(up.error)}"
            out[rev.id].append(
                (
                    "unrenderable",
                    "",
                    f"the upgrade cannot be rendered as SQL: {why}",
                    "it needs a live connection: its SQL is recorded when the release "
                    "rehearses and applies it (rehearsal.sql, applied.sql)",
                    "slipway",
                    "upgrade",
                    None,
                )
            )
            continue
        statements[rev.id] = relevant(up)
    rendered = [r for r in revisions if r.id in statements]
    squawk = None
    if dialect_named(dialect).squawk_lints:
        squawk = _Squawk({r.id: ups[r.id].sql for r in rendered}, server)
    try:
        downs = render_downs()
    except BaseException:
        if squawk is not None:
            squawk.abandon()
        raise
    found = squawk.findings(statements) if squawk is not None else {}
    if dialect in RULES:
        rules = RULES[dialect]()
        found = {
            r.id: [
                (hit.rule, hit.statement, hit.message, hit.hint, "slipway", "upgrade", None)
                for hit in rules.check(statements[r.id], server)
            ]
            for r in rendered
        }
    for rev in rendered:
        stmts = statements[rev.id]
        out[rev.id].extend(
            (*f[:6], _source_line(stmts, ups[rev.id].marks, f[1])) for f in found.get(rev.id, [])
        )
        out[rev.id].extend(_reversibility(downs[rev.id], stmts, relevant))
    return out


def _source_line(stmts: list[Statement], marks: list[tuple[int, int]], text: str) -> int | None:
    """The revision file's line whose code wrote the statement ``text``."""
    stmt = next((s for s in stmts if s.text == text), None)
    if stmt is None:
        return None
    before = [line for at, line in marks if at <= stmt.last_line]
    return before[-1] if before else None


# Statements that change rows, not the schema: a revision of only these that cannot be
# undone loses no structure, and its rows are in the release's backup.
_ROW_CHANGES = re.compile(r"^\s*(INSERT|UPDATE|DELETE|MERGE|REPLACE)\b", re.I)


def _reversibility(
    down: Rendered,
    upgrade: list[Statement],
    relevant: Callable[[Rendered], list[Statement]],
) -> list[_Raw]:
    def finding(rule: str, why: str, hint: str) -> list[_Raw]:
        return [(rule, "", why, hint, "slipway", "downgrade", None)]

    undo = "write a downgrade that undoes the upgrade, so a failed release can roll back"
    if down.error is not None:
        err = down.error
        why = f"{type(err).__name__}: {first_line(err)}"
        if isinstance(err, NotImplementedError):
            return finding("irreversible-downgrade", f"the downgrade raises {why}", undo)
        # It may need a live connection (it reads rows, or SQLite's batch mode reflects):
        # the rehearsal runs it; where it fails, the release rolls back by restore.
        return finding(
            "unrenderable-downgrade",
            f"the downgrade cannot be rendered as SQL: {why}",
            "the rehearsal runs it on a scratch copy; a release whose downgrade fails "
            "there rolls back by restoring its backup",
        )
    if upgrade and not relevant(down):
        if all(_ROW_CHANGES.match(s.text) for s in upgrade):
            return finding(
                "irreversible-data-migration",
                "the downgrade is empty: a rollback would leave this revision's row "
                "changes in place (no schema change)",
                "undo the row changes in downgrade() if they matter; the release's backup "
                "holds the rows as they were",
            )
        return finding(
            "irreversible-downgrade",
            "the downgrade is empty: a rollback would leave this revision's changes behind",
            undo,
        )
    return []


def squawk_binary() -> str:
    beside = Path(sys.executable).parent / "squawk"
    found = str(beside) if beside.is_file() else shutil.which("squawk")
    if not found:
        raise Refused(
            "squawk (squawk-cli) not found: PostgreSQL migrations cannot be linted",
            check="tools",
            hint="pip install 'slipway-release[postgresql]' (it brings squawk-cli)",
        )
    return found


class _Squawk:
    """One squawk run over every revision's SQL, a file each, started at once: its
    findings by revision are read once wanted."""

    def __init__(self, sql: Mapping[str, str], server: ServerVersion | None) -> None:
        self.revisions = list(sql)
        self.files: dict[str, str] = {}
        self.proc: subprocess.Popen[str] | None = None
        if not sql:
            return
        self.tmp = tempfile.TemporaryDirectory(prefix="slipway-squawk-")
        for number, (rev, text) in enumerate(sql.items()):
            name = f"{number:05d}.sql"
            Path(self.tmp.name, name).write_text(text, encoding="utf-8")
            self.files[name] = rev
        argv = [squawk_binary(), "--reporter", "json"]
        if server and server.version:
            argv += ["--pg-version", ".".join(map(str, server.version[:2]))]
        self.proc = subprocess.Popen(
            [*argv, *self.files],
            cwd=self.tmp.name,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def abandon(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.communicate()
            self.tmp.cleanup()

    def findings(self, statements: Mapping[str, list[Statement]]) -> dict[str, list[_Raw]]:
        if self.proc is None:
            return {}
        try:
            stdout, stderr = self.proc.communicate()
        finally:
            self.tmp.cleanup()
        try:
            violations = json.loads(stdout or "[]")
        except json.JSONDecodeError as err:
            raise Refused(
                f"squawk failed: {stderr.strip()[:200]}",
                check="tools",
                hint="run squawk on the rendered SQL (upgrade.sql) by hand to see why",
            ) from err
        out: dict[str, list[_Raw]] = {rev: [] for rev in self.revisions}
        for v in violations:
            found = self.files.get(Path(str(v.get("file", ""))).name)
            stmt = next(
                (
                    s
                    for s in statements.get(found or "", [])
                    if s.first_line <= int(v.get("line", -1)) <= s.last_line
                ),
                None,
            )
            if found is None or stmt is None:  # alembic's version-table statements
                continue
            out[found].append(
                (
                    str(v["rule_name"]),
                    stmt.text,
                    str(v.get("message") or ""),
                    str(v.get("help") or "see squawk's documentation of the rule"),
                    "squawk",
                    "upgrade",
                    None,
                )
            )
        return out


def _def_lines(path: Path) -> dict[str, int]:
    """The line of each function a revision defines at top level (upgrade, downgrade)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return {}
    return {
        m.group(1): text.count("\n", 0, m.start()) + 1
        for m in re.finditer(r"^def (\w+)\b", text, re.M)
    }
