"""Expand before the deploy, contract after it: a revision says its phase
(``slipway_phase = "post"``; pre by default), `db release --phase pre|post|all` takes
those revisions only, a pre-deploy revision above a post-deploy one is refused, and the
lint gate knows where a change the old version cannot survive belongs."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Project, Release, ThrowawayDB, alembic_upgrade, ledger_rows, write_config

POST = '\n\nslipway_phase = "post"\n'


def base(project: Project) -> None:
    project.add(
        "r1",
        """
        t = op.create_table("users", sa.Column("id", sa.Integer, primary_key=True),
                            sa.Column("nickname", sa.String(50)))
        op.bulk_insert(t, [{"id": 1, "nickname": "ann"}])
        """,
        'op.drop_table("users")',
    )


def expand_and_contract(project: Project) -> None:
    """r2 (pre): the column the new version writes; r3 (post): drop what only the old
    version read."""
    project.add(
        "r2",
        'op.add_column("users", sa.Column("display_name", sa.String(80)))',
        'op.drop_column("users", "display_name")',
    )
    path = project.add(
        "r3",
        'op.drop_column("users", "nickname")',
        'op.add_column("users", sa.Column("nickname", sa.String(50)))',
    )
    path.write_text(path.read_text() + POST)


def columns(db: ThrowawayDB) -> list[str]:
    return [c[0] for c in db.schema()["tables"]["users"]["columns"]]


@pytest.mark.parametrize("db", ["postgresql", "sqlite"], indirect=True)
def test_the_pre_phase_expands_and_the_post_phase_contracts(
    db: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    base(project)
    expand_and_contract(project)
    alembic_upgrade(db, project.ini, "r1")
    release = Release(db, project.ini, write_config(tmp_path, {"lint_fail_on": "error"}))

    status = release("status").report["data"]["revisions"]
    assert {r["revision"]: r["phase"] for r in status} == {"r1": "pre", "r2": "pre", "r3": "post"}
    early = release("release", "--phase", "post")
    assert early.code == 3 and early.report["error"]["check"] == "phase", early.stderr
    assert "--phase pre" in early.report["error"]["hint"]

    pre = release("release", "--phase", "pre")
    assert pre.code == 0, pre.stderr
    assert db.revision() == "r2"
    assert columns(db) == ["id", "nickname", "display_name"], "the old column stays"
    assert pre.report["data"]["phases"] == {"r2": "pre", "r3": "post"}
    assert release("release", "--phase", "pre").report["outcome"] == "noop"

    post = release("release", "--phase", "post")
    assert post.code == 0, post.stderr
    assert db.revision() == "r3"
    assert columns(db) == ["id", "display_name"]
    # The drop in the post-deploy revision is where it belongs: a warning, not a block.
    (lint,) = [s for s in post.report["steps"] if s["name"] == "preflight"]
    assert "0 blocking" in lint["detail"]
    phases = {r["run_id"]: r["phase"] for r in ledger_rows(db)}
    assert phases[pre.report["run_id"]] == "pre" and phases[post.report["run_id"]] == "post"


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_a_drop_in_a_pre_deploy_revision_is_refused_with_the_way_out(
    db: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    base(project)
    project.add(
        "r2",
        'op.drop_column("users", "nickname")',
        'op.add_column("users", sa.Column("nickname", sa.String(50)))',
    )
    alembic_upgrade(db, project.ini, "r1")
    release = Release(db, project.ini, write_config(tmp_path, {"lint_fail_on": "error"}))
    before = (db.revision(), db.contents())

    refused = release("release")

    assert refused.code == 3, refused.stderr
    findings = refused.report["data"]["lint"]["findings"]
    drop = [f for f in findings if f["rule"] == "ban-drop-column"]
    assert drop and drop[0]["severity"] == "error"
    assert 'slipway_phase = "post"' in drop[0]["hint"]
    assert (db.revision(), db.contents()) == before


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_a_pre_deploy_revision_above_a_post_deploy_one_is_refused(
    db: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    base(project)
    path = project.add(
        "r2",
        'op.drop_column("users", "nickname")',
        'op.add_column("users", sa.Column("nickname", sa.String(50)))',
    )
    path.write_text(path.read_text() + POST)
    project.add(
        "r3",
        'op.add_column("users", sa.Column("display_name", sa.String(80)))',
        'op.drop_column("users", "display_name")',
    )
    alembic_upgrade(db, project.ini, "r1")
    release = Release(db, project.ini, write_config(tmp_path))
    before = (db.revision(), db.contents(), db.schema())

    for phase in ("all", "pre", "post"):
        refused = release("release", "--phase", phase)
        assert refused.code == 3, (phase, refused.stderr)
        error = refused.report["error"]
        assert error["check"] == "phase"
        assert "pre-deploy revision r3 sits above post-deploy revision r2" in error["message"]
        assert (db.revision(), db.contents(), db.schema()) == before


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_a_release_in_separate_steps_keeps_the_phase_it_began_with(
    db: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    """As the Ansible role runs it: preflight --phase pre, then each step by run id."""
    base(project)
    expand_and_contract(project)
    alembic_upgrade(db, project.ini, "r1")
    step = Release(db, project.ini, write_config(tmp_path))

    begun = step("preflight", "--phase", "pre")
    assert begun.code == 0, begun.stderr
    run_id = begun.report["run_id"]
    assert begun.report["to_revision"] == "r2"
    for name in ("claim", "backup", "render", "apply", "verify"):
        done = step(name, "--run-id", run_id)
        assert done.code == 0, (name, done.stderr)
    assert done.report["outcome"] == "applied"
    assert db.revision() == "r2"
    assert columns(db) == ["id", "nickname", "display_name"]
    assert {r["run_id"]: r["phase"] for r in ledger_rows(db)}[run_id] == "pre"

    after = step("preflight", "--phase", "post")
    run_id = after.report["run_id"]
    for name in ("claim", "backup", "render", "apply", "verify"):
        assert step(name, "--run-id", run_id).code == 0, name
    assert db.revision() == "r3" and columns(db) == ["id", "display_name"]
