"""slipway installs into any project: its wheel beside a team's own pins (the lowest
versions it claims), nothing extra along, with pipx, on Python 3.10 to 3.13. Each
install then releases a stock ``alembic init`` project on SQLite with the installed
``slipway``: the smoke subset."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import ROOT

# The lowest versions pyproject.toml claims, as a team that pins old ones would have.
LOWEST = [
    "alembic==1.13.3",
    "SQLAlchemy==2.0.36",
    "click==8.1.7",
    "rich==13.7.1",
    "PyYAML==6.0.1",
    "pydantic==2.6.4",
    "sqlparse==0.4.4",
]
WEB_STACK = ("fastapi", "uvicorn", "gunicorn", "supervisor", "storefront", "starlette")

FIRST_REVISION = """
def upgrade():
    op.create_table("users", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("name", sa.String(50)))
    op.execute("INSERT INTO users (id, name) VALUES (1, 'Ada')")


def downgrade():
    op.drop_table("users")
"""
# Syntax whose ast.dump differs between Pythons: a class, keyword arguments, None.
SECOND_REVISION = """
class Labels:
    \"\"\"Labels of users.\"\"\"

    default = None


def upgrade(*, engine_name: str = "") -> None:
    op.add_column("users", sa.Column("label", sa.String(20), nullable=True, default=None))


def downgrade(*, engine_name: str = "") -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("label")
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (found,) = out.glob("slipway_release-*.whl")
    return found


def python(version: str) -> str:
    prefix = subprocess.run(
        ["pyenv", "prefix", version], capture_output=True, text=True, check=False
    ).stdout.strip()
    exe = Path(prefix) / "bin" / "python3"
    if not exe.is_file():
        pytest.fail(f"Python {version} is not installed (pyenv install {version})")
    return str(exe)


def venv(folder: Path, interpreter: str, *packages: str) -> Path:
    subprocess.run([interpreter, "-m", "venv", str(folder)], check=True)
    pip = [str(folder / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    result = subprocess.run([*pip, *packages], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return folder / "bin"


def smoke(bin_dir: Path, alembic: Path, work: Path) -> None:
    """A stock `alembic init` project, one revision, released and put back."""
    project = work / "service"
    project.mkdir()
    run = {"cwd": project, "capture_output": True, "text": True, "check": False}
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    env.pop("SLIPWAY_CONFIG", None)
    assert subprocess.run([str(alembic), "init", "migrations"], env=env, **run).returncode == 0
    made = subprocess.run([str(alembic), "revision", "-m", "first"], env=env, **run)
    assert made.returncode == 0, made.stderr
    (path,) = (project / "migrations" / "versions").glob("*first.py")
    text = path.read_text()
    head = text.split("def upgrade()")[0]
    path.write_text(head + FIRST_REVISION)
    (project / "slipway.yml").write_text(
        "environments:\n  local:\n"
        "    database_url: sqlite:///app.db\n    alembic_ini: alembic.ini\n"
    )
    slipway = str(bin_dir / "slipway")

    released = subprocess.run([slipway, "db", "release", "--json"], env=env, **run)
    assert released.returncode == 0, released.stdout + released.stderr
    status = subprocess.run([slipway, "db", "status", "--json"], env=env, **run)
    assert status.returncode == 0 and '"applied"' in status.stdout, status.stderr
    back = subprocess.run([slipway, "db", "rollback", "--to", "base"], env=env, **run)
    assert back.returncode == 0, back.stderr


def test_installs_beside_old_pins_and_brings_nothing_extra(wheel: Path, tmp_path: Path) -> None:
    bin_dir = venv(tmp_path / "venv", sys.executable, *LOWEST, str(wheel))
    listed = subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.lower()
    assert "sqlalchemy==2.0.36" in listed and "alembic==1.13.3" in listed, listed
    assert not [p for p in WEB_STACK if f"\n{p}==" in f"\n{listed}"], listed
    smoke(bin_dir, bin_dir / "alembic", tmp_path)


@pytest.fixture(scope="module")
def on_python(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """The bin folder of a venv of Python ``version`` with the wheel installed, made once
    per version for this module."""
    made: dict[str, Path] = {}

    def get(version: str) -> Path:
        if version not in made:
            folder = tmp_path_factory.mktemp(f"venv-{version}")
            made[version] = venv(folder / "venv", python(version), str(wheel))
        return made[version]

    return get


@pytest.mark.parametrize("version", ["3.10", "3.12"])
def test_smoke_on_other_pythons(
    version: str, on_python: Callable[[str], Path], tmp_path: Path
) -> None:
    bin_dir = on_python(version)
    smoke(bin_dir, bin_dir / "alembic", tmp_path)


def test_pipx_install_on_python_3_13(wheel: Path, tmp_path: Path) -> None:
    """pipx gives a working `slipway` (on Python 3.13: the fourth version)."""
    tools = venv(tmp_path / "pipx", sys.executable, "pipx")
    home, bin_dir = tmp_path / "pipx-home", tmp_path / "pipx-bin"
    env = {**os.environ, "PIPX_HOME": str(home), "PIPX_BIN_DIR": str(bin_dir)}
    installed = subprocess.run(
        [str(tools / "pipx"), "install", "--python", python("3.13"), str(wheel)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    assert (bin_dir / "slipway").exists()
    # alembic lives in the same pipx environment; `alembic init` is run from there.
    alembic = next((home / "venvs" / "slipway-release" / "bin").glob("alembic"))
    smoke(bin_dir, alembic, tmp_path)
    assert shutil.which("slipway", path=str(bin_dir))


def test_a_release_applied_on_python_3_10_is_a_noop_on_3_13(
    on_python: Callable[[str], Path], tmp_path: Path
) -> None:
    """Upgrading the host's Python does not make applied revisions look edited: the
    checksums 3.10 recorded match what 3.13 computes."""
    old, new = on_python("3.10"), on_python("3.13")
    env = {**os.environ, "PATH": f"{old}:{os.environ['PATH']}"}
    env.pop("SLIPWAY_CONFIG", None)
    project = tmp_path / "service"
    project.mkdir()
    run = {"cwd": project, "capture_output": True, "text": True, "check": False, "env": env}
    assert subprocess.run([str(old / "alembic"), "init", "migrations"], **run).returncode == 0
    for n, name in enumerate(("first", "second")):
        made = subprocess.run([str(old / "alembic"), "revision", "-m", name], **run)
        assert made.returncode == 0, made.stderr
        (path,) = (project / "migrations" / "versions").glob(f"*{name}.py")
        head = path.read_text().split("def upgrade()")[0]
        body = FIRST_REVISION if n == 0 else SECOND_REVISION
        path.write_text(head + body)
    (project / "slipway.yml").write_text(
        "environments:\n  local:\n"
        "    database_url: sqlite:///app.db\n    alembic_ini: alembic.ini\n"
    )

    applied = subprocess.run([str(old / "slipway"), "db", "release", "--json"], **run)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert json.loads(applied.stdout)["outcome"] == "applied"

    again = subprocess.run([str(new / "slipway"), "db", "release", "--json"], **run)
    assert again.returncode == 0, again.stdout + again.stderr
    assert json.loads(again.stdout)["outcome"] == "noop"


def test_the_distribution_name_is_the_one_the_docs_install(wheel: Path) -> None:
    """The built metadata's name is what the README, the CI components and the bundle
    install; not 'slipway', which the package index gives to another project."""
    import re
    import zipfile

    with zipfile.ZipFile(wheel) as zf:
        (meta,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        name = re.search(r"^Name: (.+)$", zf.read(meta).decode(), re.M).group(1).strip()  # type: ignore[union-attr]
    assert name == "slipway-release"
    requirement = re.compile(r"^'?([A-Za-z0-9_.-]+)")
    installs = []
    for line in (ROOT / "README.md").read_text().splitlines():
        found = re.match(r"^pipx? install (.+?)\s*(#.*)?$", line.strip())
        if found and "slipway" in line:
            installs.append(requirement.match(found.group(1)).group(1))  # type: ignore[union-attr]
    for component in ("slipway.yml", "slipway-deploy.yml"):
        text = (ROOT / "templates" / component).read_text()
        installs += re.findall(r'default: "([a-z_-]+)\[', text)
    bundle_script = (ROOT / "scripts" / "build-bundle.sh").read_text()
    installs += re.findall(r"printf '([a-z_-]+)\[postgresql", bundle_script)
    assert len(installs) >= 8, installs
    assert set(installs) == {name}, installs
