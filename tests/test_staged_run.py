"""A release whose steps run as separate processes (as Ansible runs them) is one run:
one report, one history row, one claim that keeps every other release out until the
run has ended, and a rollback that ends it where it began."""

from __future__ import annotations

import shlex
import time
from pathlib import Path

import pytest
from conftest import Project, Release, ThrowawayDB, alembic_upgrade, slipway, write_config


def history(project: Project) -> Project:
    project.add(
        "r1",
        """
        t = op.create_table("things", sa.Column("id", sa.Integer, primary_key=True),
                            sa.Column("name", sa.String(20)))
        op.bulk_insert(t, [{"id": 1, "name": "one"}, {"id": 2, "name": "two"}])
    """,
        'op.drop_table("things")',
    )
    project.add(
        "r2",
        'op.add_column("things", sa.Column("colour", sa.String(10)))',
        'op.drop_column("things", "colour")',
    )
    return project


def test_failed_apply_keeps_the_claim_until_rollback_ends_the_run(
    db: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    history(project)
    alembic_upgrade(db, project.ini, "r1")
    project.add("r3", 'op.execute("UPDATE no_such_table SET x = 1")')
    before = db.contents()
    step = Release(db, project.ini, write_config(tmp_path))

    begun = step("preflight")
    assert begun.code == 0, begun.stderr
    run_id = begun.report["run_id"]
    for name in ("claim", "backup", "render"):
        result = step(name, "--run-id", run_id)
        assert result.code == 0, (name, result.stderr)
        assert result.report["outcome"] == "running"
    failed = step("apply", "--run-id", run_id)

    # The database changed and the run is not over: exit 6, the rollback named, and
    # every other release refused while the claim is open.
    assert failed.code == 6, failed.stderr
    assert f"slipway db rollback --run-id {run_id} --env test" in failed.report["next_command"]
    other = step("release")
    assert other.code == 3, other.stderr
    assert run_id in other.report["error"]["message"]

    # The named command, run verbatim.
    argv = shlex.split(failed.report["next_command"])
    ended = slipway(*argv[1:], "--json", env={"TEST_DB_URL": db.url_str})

    assert ended.code == 4, ended.stderr
    assert ended.report["run_id"] == run_id
    assert [s["name"] for s in ended.report["steps"]] == [
        "preflight",
        "lock",
        "backup",
        "render",
        "rehearse",
        "apply",
        "rollback",
    ]
    assert db.revision() == "r1"
    assert db.contents() == before
    # It says where the database went, and names no further command: the run is over.
    assert ended.report["current_revision"] == "r1"
    assert ended.report["next_command"] is None
    runs = step("history").report["data"]["runs"]
    assert [(r["run_id"], r["outcome"]) for r in runs if r["run_id"] == run_id] == [
        (run_id, "rolled_back")
    ]
    # Ended is ended: the rollback again changes nothing and repeats the outcome.
    again = step("rollback", "--run-id", run_id)
    assert again.code == 4 and db.revision() == "r1"


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_steps_of_a_run_go_in_order_and_verify_ends_it_applied(
    db: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    history(project)
    step = Release(db, project.ini, write_config(tmp_path))
    run_id = step("claim").report["run_id"]

    early = step("apply", "--run-id", run_id)
    assert early.code == 3 and "backup" in early.report["error"]["message"]
    assert db.revision() is None
    for name in ("backup", "render", "apply"):
        assert step(name, "--run-id", run_id).code == 0
    done = step("verify", "--run-id", run_id)

    assert done.code == 0 and done.report["outcome"] == "applied"
    assert db.revision() == "r2"
    assert step("release").report["outcome"] == "noop"
    unknown = step("backup", "--run-id", "20990101T000000.000Z-000000")
    assert unknown.code == 2


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_a_run_whose_lease_ran_out_is_refused_until_unlocked(
    db: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    history(project)
    step = Release(db, project.ini, write_config(tmp_path, {"claim_lease_s": 0.01}))
    run_id = step("claim").report["run_id"]

    # The controller died after the claim: nothing renews the lease.
    time.sleep(1.1)  # the ledger keeps whole seconds
    blocked = step("release")
    assert blocked.code == 3
    error = blocked.report["error"]
    assert "lease ran out" in error["message"]
    assert f"slipway db unlock {run_id}" in error["hint"]
    assert f"slipway db unlock {run_id}" in blocked.stderr

    assert step("unlock", run_id).code == 0
    assert step("release").report["outcome"] == "applied"
    assert db.revision() == "r2"
