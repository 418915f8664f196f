"""A fresh clone: `make release` runs the guarded release against the embedded SQLite
default and ends `applied`; the second run is `noop`."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

from conftest import ROOT


def fresh_copy(dest: Path) -> Path:
    """The project's files as a clone has them (tracked and new, nothing ignored)."""
    files = (
        subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, files):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def make_release(clone: Path) -> subprocess.CompletedProcess[str]:
    # The clone reuses this checkout's virtualenv: installing is `make setup`'s job,
    # and it is already proven by the run that got us here. `-o` keeps make from
    # reinstalling that virtualenv from the clone.
    venv = ROOT / ".venv"
    return subprocess.run(
        ["make", "-o", f"{venv}/.installed", "release", f"VENV={venv}"],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def latest_report(clone: Path) -> dict[str, object]:
    runs = sorted((clone / "artifacts").iterdir())
    return json.loads((runs[-1] / "report.json").read_text())


def test_make_release_applies_then_is_noop(tmp_path: Path) -> None:
    clone = fresh_copy(tmp_path / "clone")
    assert not (clone / "var").exists()

    first = make_release(clone)

    assert first.returncode == 0, first.stdout + first.stderr
    assert "applied" in first.stdout
    report = latest_report(clone)
    assert report["outcome"] == "applied"
    db = sqlite3.connect(clone / "var" / "storefront.db")
    head = db.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    db.close()
    assert head == report["to_revision"] == "0006"

    second = make_release(clone)

    assert second.returncode == 0, second.stdout + second.stderr
    assert latest_report(clone)["outcome"] == "noop"
