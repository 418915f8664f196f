"""Targets and steps: ``db rollback --to`` a revision the database is not above is bad
input, refused before the lock with nothing recorded; ``--to -N`` steps down as
Alembic's relative steps do; ``db release --to R`` applies up to R only; an empty
database reads ``base``."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Project, Release, ThrowawayDB, standard_history


@pytest.fixture
def lite_release(lite: ThrowawayDB, project: Project, tmp_path: Path) -> Release:
    from conftest import write_config

    standard_history(project)
    return Release(lite, project.ini, write_config(tmp_path))


def test_release_to_a_revision_applies_up_to_it_only(lite_release: Release) -> None:
    db = lite_release.db
    up_to = lite_release("release", "--to", "r2")
    assert up_to.code == 0, up_to.stderr
    assert (up_to.report["outcome"], up_to.report["to_revision"]) == ("applied", "r2")
    assert db.revision() == "r2"

    again = lite_release("release", "--to", "r2")
    assert (again.code, again.report["outcome"]) == (0, "noop")
    assert lite_release("release").code == 0
    assert db.revision() == "r3"


def test_release_to_an_unknown_or_lower_revision_is_bad_input(lite_release: Release) -> None:
    db = lite_release.db
    assert lite_release("release", "--to", "r2").code == 0
    rows = db.contents()

    unknown = lite_release("release", "--to", "nope")
    below = lite_release("release", "--to", "r1")

    assert unknown.code == 2 and "nope" in unknown.stderr, unknown.stderr
    assert below.code == 2 and "not below r1" in below.stderr, below.stderr
    assert "rollback --to r1" in below.stderr
    assert (db.revision(), db.contents()) == ("r2", rows)


def test_rollback_to_a_revision_the_database_is_not_above_is_bad_input(
    lite_release: Release,
) -> None:
    db = lite_release.db
    assert lite_release("release", "--to", "r1").code == 0
    rows = db.contents()
    runs = lite_release("history").report["data"]["runs"]

    refused = lite_release("rollback", "--to", "r3")

    assert refused.code == 2, refused.stderr
    assert "at r1, which is not above r3" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert (db.revision(), db.contents()) == ("r1", rows)
    assert lite_release("history").report["data"]["runs"] == runs  # nothing recorded
    assert lite_release("release").code == 0  # no needs_attention blocks the next release


def test_rollback_steps_down_relative_to_the_current_revision(lite_release: Release) -> None:
    db = lite_release.db
    assert lite_release("release").code == 0

    one = lite_release("rollback", "--to", "-1")
    assert one.code == 0, one.stderr
    assert db.revision() == "r2"
    two = lite_release("rollback", "--to", "-2")
    assert two.code == 0, two.stderr
    assert db.revision() is None
    assert "things" not in db.tables()

    beyond = lite_release("rollback", "--to", "-1")
    assert beyond.code == 2 and "at base" in beyond.stderr, beyond.stderr


def test_an_empty_database_reads_base(lite_release: Release) -> None:
    status = lite_release("status")
    assert status.code == 0, status.stderr
    refused = lite_release("rollback", "--to", "r1")
    assert refused.code == 2 and "at base" in refused.stderr and "None" not in refused.stderr
