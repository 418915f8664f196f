"""The benchmarks keep working: each runs at a tiny size and writes its results (the
numbers that matter come from `make bench` on a quiet machine, never from here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT


@pytest.mark.parametrize(
    ("script", "args", "name"),
    [
        ("release_scaling.py", ["--sizes", "3", "6", "9", "--runs", "1"], "release_scaling"),
        ("status_speed.py", ["--revisions", "3", "--runs", "1"], "status_speed"),
        ("backup_cost.py", ["--size-mb", "2", "--runs", "1"], "backup_cost"),
        ("restore_memory.py", ["--size-mb", "2", "--runs", "1"], "restore_memory"),
        ("lock_latency.py", ["--hold-s", "2"], "lock_latency"),
        (
            "backup_methods.py",
            ["--sizes-mb", "15", "--at-risk-mb", "2", "--runs", "1"],
            "backup_methods",
        ),
        (
            "adopted_history.py",
            [
                *("--histories", "warehouse", "synthetic", "--dialects", "sqlite", "postgresql"),
                *("--size", "6", "--linear", "3", "6", "--runs", "1"),
            ],
            "adopted_history",
        ),
    ],
)
def test_benchmark_runs_small(tmp_path: Path, script: str, args: list[str], name: str) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args, "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads((tmp_path / f"{name}.json").read_text())
    assert data, data
    table = (tmp_path / f"{name}.md").read_text()
    assert table.count("|") > 8, table


def test_rolling_deploy_benchmark_runs_on_one_host(tmp_path: Path, bundle: Path) -> None:
    """The rolling-deploy benchmark at its smallest: one host, the first install only,
    from the bundle the Ansible tests build."""
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "rolling_deploy.py"),
            *("--hosts", "1", "--releases", "1", "--bundle", str(bundle)),
            *("--out", str(tmp_path)),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (row,) = json.loads((tmp_path / "rolling_deploy.json").read_text())
    assert row["hosts"] == 1 and float(row["install_s"]) > 0
    assert "| 1 |" in (tmp_path / "rolling_deploy.md").read_text()
