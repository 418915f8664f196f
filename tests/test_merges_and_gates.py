"""Merges and branches are linted and stairwayed from all of their parents; commands that
run no pending revision (status, rollback --to) are never lint-gated; and one command
loads each revision file a constant number of times, however long the history."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest
from alembic.util import pyfiles
from conftest import ThrowawayDB, alembic_upgrade, write_config
from corpus_env import HEAD, CorpusRelease, add_revision


def test_merge_and_branch_revisions_get_no_false_finding(pg: ThrowawayDB, tmp_path: Path) -> None:
    release = CorpusRelease.make(tmp_path, "handed_over", pg)

    result = release("lint")

    findings = result.report["data"]["lint"]["findings"]
    by_revision = collections.Counter((f["revision"], f["rule"], f["statement"]) for f in findings)
    assert not [f for f in findings if f["revision"] == "c12"], findings
    assert not [f for f in findings if f["rule"] == "irreversible-downgrade"]
    # a branch revision's findings are its own statements, not its sibling branch's
    assert all("tags" not in stmt for rev, _, stmt in by_revision if rev in ("c10b", "c11b"))


def test_stairway_fails_on_a_broken_merge_naming_it(lite: ThrowawayDB, tmp_path: Path) -> None:
    release = CorpusRelease.make(tmp_path, "handed_over", lite)
    merge = release.corpus / "history" / "versions" / "14_c12.py"
    merge.write_text(
        "import sqlalchemy as sa\nfrom alembic import op\n\n"
        + merge.read_text().replace(
            "def upgrade():\n    pass",
            'def upgrade():\n    op.create_table("merged", sa.Column("id", sa.Integer))',
        )
    )

    result = release("stairway")

    assert result.code == 3, result.stderr
    assert "downgrade of c12 does not undo its upgrade" in result.stderr
    assert lite.revision() is None


def test_status_and_rollback_are_not_gated_by_lint_findings(
    pg: ThrowawayDB, tmp_path: Path
) -> None:
    release = CorpusRelease.make(tmp_path, "handed_over", pg, lint_fail_on="error")
    release.to_middle_with_rows("c03")
    alembic_upgrade(pg, release.corpus / "handed_over" / "alembic.ini", "c09")

    assert release("release").report["error"]["check"] == "lint"  # the findings do block

    status = release("status")
    assert status.code == 0, status.stderr
    assert status.report["pending"][-1] == HEAD

    back = release("rollback", "--to", "c06")
    assert back.code == 0, back.stderr
    assert pg.revision() == "c06"


@pytest.mark.parametrize("extra", [0, 40])
def test_each_revision_file_loads_a_constant_number_of_times_per_release(
    extra: int, lite: ThrowawayDB, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from slipway.config import load_settings
    from slipway.release import release

    corpus = CorpusRelease.make(tmp_path, "handed_over", lite).corpus
    down = HEAD
    for i in range(extra):
        add_revision(
            corpus, f"x{i:03d}", down, f"op.execute(\"UPDATE users SET name = name || '{i}'\")"
        )
        down = f"x{i:03d}"
    loads: collections.Counter[str] = collections.Counter()
    original = pyfiles.load_module_py

    def counting(module_id: str, path: str) -> object:
        loads[Path(path).name] += 1
        return original(module_id, path)

    monkeypatch.setattr(pyfiles, "load_module_py", counting)
    settings = load_settings(
        "test",
        config=write_config(tmp_path, {"rehearse": "always"}),
        db_url=lite.url_str,
        alembic_ini=corpus / "handed_over" / "alembic.ini",
    )

    report = release(settings)

    assert report.outcome.value == "applied", report.error
    revision_loads = {name: n for name, n in loads.items() if name != "env.py"}
    assert len(revision_loads) == 33 + extra
    assert max(revision_loads.values()) == 1
