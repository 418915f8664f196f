"""A release id changes with the content of what the bundle takes: a clean tree is named
by its commit; a tree with changes or untracked files there gets a digest of that
difference, the same for the same content and another for any other."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from conftest import ROOT


def release_id(repo: Path) -> str:
    return subprocess.run(
        ["scripts/release-id.sh"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def test_the_release_id_follows_the_content(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "release-id.sh", repo / "scripts")
    (repo / "migrations" / "versions").mkdir(parents=True)
    (repo / "migrations" / "versions" / "0001_a.py").write_text("revision = '0001'\n")
    (repo / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")

    clean = release_id(repo)
    assert "-dirty" not in clean

    untracked = repo / "migrations" / "versions" / "0002_b.py"
    untracked.write_text("revision = '0002'\n")
    first = release_id(repo)
    assert first.startswith(clean + "-dirty-")
    assert release_id(repo) == first, "the same content, the same id"

    untracked.write_text("revision = '0002'  # changed\n")
    second = release_id(repo)
    assert second.startswith(clean + "-dirty-") and second != first

    untracked.unlink()
    (repo / "pyproject.toml").write_text("[project]\nname = 'y'\n")
    third = release_id(repo)
    assert third.startswith(clean + "-dirty-") and third not in (first, second)

    (repo / "notes.txt").write_text("not in the bundle\n")
    assert release_id(repo) == third, "files the bundle does not take do not count"
