"""Key counters behind the data: a sequence (PostgreSQL, MariaDB) or AUTO_INCREMENT
whose next value is at or below its column's maximum, as a bulk import with explicit
keys or a copy between databases leaves it. Every insert that takes its key from such a
counter fails on a duplicate key until the counter is set past the maximum.

``slipway db sequences`` reports them; ``--repair`` sets them past the maximum, in one
transaction where the server allows (AUTO_INCREMENT changes by ALTER TABLE, which
commits by itself), under the release lock, with a row in the run history.
"""

from __future__ import annotations

import logging
import re

from sqlalchemy.exc import DBAPIError

from slipway.config import Settings
from slipway.dialects import Counter
from slipway.outcomes import Outcome
from slipway.report import Report
from slipway.run import Run

log = logging.getLogger(__name__)


def sequences(settings: Settings, *, repair: bool = False) -> Report:
    """The counters behind their column's maximum (``data.sequences``); with ``repair``,
    each set past it (``data.repaired``: the next value it hands out)."""
    if not repair:
        with Run(settings, "sequences", read_only=True) as run:
            with run.report.step("sequences") as step:
                behind = _behind(run)
                step.detail = _said(behind)
            run.report.data["sequences"] = [c.as_dict() for c in behind]
            run.report.finish(Outcome.NOOP)
        return run.report
    with Run(settings, "sequences-repair") as run:
        state = run.state()
        run.lock(remedy=True)
        run.report.from_revision = run.report.to_revision = state.current
        run.report.at(state.current)
        with run.report.step("sequences") as step:
            behind = _behind(run, unsure=True)
            if not behind:
                step.detail = _said(behind)
                run.report.finish(Outcome.NOOP)
                return run.report
            run.claim(state.current, state.current)
            repaired = []
            with run.connect() as conn, conn.begin():
                for counter in behind:
                    now = run.dialect.repair_counter(conn, counter)
                    if now is not None:
                        log.info("%s: %s now hands out %s", counter.table, counter.counter, now)
                        repaired.append({**counter.as_dict(), "next_value": now})
            run.report.data["repaired"] = repaired
            if not repaired:
                step.detail = _said([])
                run.report.finish(Outcome.NOOP)
                return run.report
            step.detail = f"{len(repaired)} set past their column's maximum: " + ", ".join(
                f"{r['table']}.{r['column']} -> {r['next_value']}" for r in repaired
            )
        run.report.finish(Outcome.APPLIED)
    return run.report


def _behind(run: Run, *, unsure: bool = False) -> list[Counter]:
    try:
        with run.connect() as conn:
            return run.dialect.counters_behind(conn, unsure=unsure)
    except DBAPIError as err:
        raise run.unreachable(err) from err


def _said(behind: list[Counter]) -> str:
    if not behind:
        return "every key counter is ahead of its column"
    return f"{len(behind)} behind their column's maximum: " + ", ".join(
        f"{c.table}.{c.column} ({c.counter} next {c.next_value}, max {c.max_value})" for c in behind
    )


_INSERT_INTO = re.compile(r"\bINSERT\s+(?:IGNORE\s+)?INTO\s+([`\"\w.]+)", re.IGNORECASE)


def inserted_into(sql: str) -> set[str]:
    """The tables the INSERT statements of ``sql`` name, unquoted, as written."""
    return {m.group(1).replace('"', "").replace("`", "") for m in _INSERT_INTO.finditer(sql)}


def named_in(counter: Counter, tables: set[str]) -> bool:
    """Whether ``tables`` (as INSERT statements name them) hold the counter's table."""
    return counter.table in tables or counter.table.split(".", 1)[-1] in tables
