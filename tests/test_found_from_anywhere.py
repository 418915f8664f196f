"""slipway finds its project from any folder inside it, as git does: the nearest
slipway.yml, or pyproject.toml with [tool.slipway]; outside any, it says where it
looked."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Project, slipway, standard_history


@pytest.mark.parametrize("kind", ["slipway.yml", "pyproject.toml"])
def test_status_from_a_sub_folder(kind: str, project: Project, tmp_path: Path) -> None:
    standard_history(project)
    root = tmp_path / "service"
    deep = root / "src" / "service" / "api"
    deep.mkdir(parents=True)
    ini = project.ini.relative_to(tmp_path)
    if kind == "slipway.yml":
        (root / "slipway.yml").write_text(
            "environments:\n"
            "  local:\n"
            "    database_url: sqlite:///app.db\n"
            f"    alembic_ini: ../{ini}\n"
            "    artifacts_dir: artifacts\n",
            encoding="utf-8",
        )
    else:
        (root / "pyproject.toml").write_text(
            '[project]\nname = "service"\n\n'
            "[tool.slipway.environments.local]\n"
            'database_url = "sqlite:///app.db"\n'
            f'alembic_ini = "../{ini}"\n'
            'artifacts_dir = "artifacts"\n',
            encoding="utf-8",
        )

    status = slipway("db", "status", "--json", cwd=deep)
    assert status.code == 0, status.stderr
    assert status.report["pending"] == ["r1", "r2", "r3"]

    released = slipway("db", "release", "--json", cwd=deep)
    assert released.code == 0, released.stderr
    assert (root / "app.db").is_file(), "relative paths are the config file's"
    assert (root / "artifacts").is_dir()


def test_outside_any_project_it_says_where_it_looked(tmp_path: Path) -> None:
    result = slipway("db", "status", cwd=tmp_path, env={"SLIPWAY_CONFIG": ""})
    assert result.code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(tmp_path) in lines[0] and "any folder above" in lines[0]
