"""slipway reads a project's revisions where Alembic reads them: version locations that
env.py sets (``context.script.version_locations``, with ``revision_environment``), and
several locations joined by ``path_separator`` with revisions in sub-folders
(``recursive_version_locations``). Each project is released, rendered, stairwayed and
reported at the head plain Alembic reaches."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import alembic_upgrade, create_database
from corpus_env import HEAD, CorpusRelease

PROJECTS = {"env_placed": HEAD, "nested": "n03"}


@pytest.mark.parametrize("project", sorted(PROJECTS))
def test_revisions_are_found_where_alembic_finds_them(project: str, tmp_path: Path) -> None:
    head = PROJECTS[project]
    plain = create_database("sqlite", tmp_path)
    db = create_database("sqlite", tmp_path)
    release = CorpusRelease.make(tmp_path, project, db)
    alembic_upgrade(plain, release.ini, "head")
    assert plain.revision() == head

    render = release("render")
    assert render.code == 0, render.stderr
    upgrade_sql = Path(render.report["sql"]["upgrade"]["path"]).read_text()
    assert f"revision {head}" in upgrade_sql

    result = release("release")
    assert result.code == 0, result.stderr
    assert result.report["outcome"] == "applied"
    assert result.report["to_revision"] == head
    assert db.revision() == head
    assert [t for t in db.tables() if not t.startswith("slipway_")] == plain.tables()

    status = release("status")
    assert status.code == 0, status.stderr
    stairway = release("stairway")
    assert stairway.code == 0, stairway.stderr
    assert db.revision() == head
