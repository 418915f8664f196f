"""A project without slipway.yml sets its lint policy on the command line, and accepts
findings in revisions it does not own in slipway-accepted.yml beside its alembic.ini."""

from __future__ import annotations

from pathlib import Path

import yaml
from conftest import ThrowawayDB, slipway
from corpus_env import copy_corpus


def lint(ini: Path, db: ThrowawayDB, *extra: str) -> object:
    return slipway(
        "db",
        "lint",
        "--db-url",
        db.url_str,
        "--alembic-ini",
        str(ini),
        "--json",
        *extra,
        cwd=ini.parent,
    )


def test_policy_from_options_and_an_accepted_findings_file(pg: ThrowawayDB, tmp_path: Path) -> None:
    ini = copy_corpus(tmp_path) / "handed_over" / "alembic.ini"

    blocked = lint(ini, pg)
    assert blocked.code == 3, blocked.stderr
    blocking = [f for f in blocked.report["data"]["lint"]["findings"] if f["blocking"]]
    assert blocking

    rules = sorted({f["rule"] for f in blocking})
    off = lint(ini, pg, *(a for r in rules for a in ("--lint-rule", f"{r}=off")))
    assert off.code == 0, off.stderr
    assert not {f["rule"] for f in off.report["data"]["lint"]["findings"]} & set(rules)
    assert lint(ini, pg, "--lint-fail-on", "never").code == 0
    assert lint(ini, pg, "--lint-rule", "no-level").code == 2

    accepted = [
        {"revision": f["revision"], "rule": f["rule"], "reason": "owned by the vendor"}
        for f in blocking
    ]
    (ini.parent / "slipway-accepted.yml").write_text(yaml.safe_dump(accepted))
    passed = lint(ini, pg)
    assert passed.code == 0, passed.stderr
    shown = [f for f in passed.report["data"]["lint"]["findings"] if f["rule"] in rules]
    assert shown and all(f["accepted"] == "owned by the vendor" for f in shown)
    assert pg.tables() == []  # lint touched no database
