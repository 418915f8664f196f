"""The README's first release, run as written on brand-new `alembic init` projects (sync
and async, stock env.py): adopt, status, lint, release and history all succeed, the
release ends `applied`, and slipway finds the project from any folder inside it."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT

BIN = ROOT / ".venv" / "bin"
REVISION = '''"""add things"""
import sqlalchemy as sa
from alembic import op

revision = "a1"
down_revision = None


def upgrade() -> None:
    op.create_table("things", sa.Column("id", sa.Integer, primary_key=True))


def downgrade() -> None:
    op.drop_table("things")
'''


def first_release_snippet() -> str:
    """The first sh block under "A first release of your own project"."""
    text = (ROOT / "README.md").read_text()
    section = text.split("### A first release of your own project", 1)[1]
    found = re.search(r"```sh\n(.*?)```", section, re.S)
    assert found, "the section has an sh block"
    return found.group(1)


def new_project(folder: Path, template: str) -> Path:
    """``alembic init`` as a team starts, one revision, in a git repository."""
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    folder.mkdir(parents=True)
    init = ["alembic", "init", *(["-t", "async"] if template == "async" else []), "alembic"]
    subprocess.run(init, cwd=folder, env=env, check=True, capture_output=True)
    (folder / "alembic" / "versions" / "a1_add_things.py").write_text(REVISION)
    subprocess.run(["git", "init", "-q"], cwd=folder, check=True)
    return folder


@pytest.mark.parametrize("template", ["generic", "async"])
def test_the_readme_first_release_runs_as_written(tmp_path: Path, template: str) -> None:
    project = new_project(tmp_path / "my-service", template)
    script = tmp_path / "walkthrough.sh"
    script.write_text("set -euo pipefail\n" + first_release_snippet())
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")},
        "PATH": f"{BIN}:{os.environ['PATH']}",
    }

    ran = subprocess.run(
        ["bash", str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )

    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert "applied release on local" in ran.stdout, ran.stdout
    assert (project / "slipway-baseline.yml").is_file()
    with sqlite3.connect(project / "app.db") as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("a1",)]
        assert conn.execute("SELECT count(*) FROM things").fetchone() == (0,)
    staged = subprocess.run(
        ["git", "diff", "--cached", "--name-only"], cwd=project, capture_output=True, text=True
    )
    assert set(staged.stdout.split()) == {"slipway.yml", "slipway-baseline.yml"}

    # From a folder inside the project (a stock, relative script_location).
    inside = subprocess.run(
        ["slipway", "db", "status", "--json"],
        cwd=project / "alembic" / "versions",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert inside.returncode == 0, inside.stderr
    assert json.loads(inside.stdout)["current_revision"] == "a1"
