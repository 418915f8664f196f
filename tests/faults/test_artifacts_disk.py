"""The artifacts disk never decides the outcome. A read-only artifacts folder is found
before anything changes (exit 2, one line); a disk that fills during apply costs the
evidence files, not the release: the database's outcome decides the exit code, and
stderr says so in a line or two, without tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Project, Release, ThrowawayDB, alembic_upgrade, things_table, write_config

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 160 KiB file system of its own."""
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def history(project: Project) -> None:
    things_table(project, 6000)
    # A data migration that reads rows in Python: each UPDATE lands in applied.sql.
    project.add(
        "r2",
        """
        conn = op.get_bind()
        for (i,) in conn.execute(sa.text("SELECT id FROM things")).all():
            conn.execute(sa.text("UPDATE things SET name = :n WHERE id = :i"),
                         {"n": f"renamed thing number {i}", "i": i})
        """,
    )


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_read_only_artifacts_folder_is_refused_before_any_change(
    db: ThrowawayDB, project: Project, small_disk: Path, tmp_path: Path
) -> None:
    history(project)
    alembic_upgrade(db, project.ini, "r1")
    before = db.contents()
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    config = write_config(tmp_path, {"artifacts_dir": str(small_disk / "artifacts")})

    result = Release(db, project.ini, config)()

    assert result.code == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(small_disk / "artifacts") in lines[0], result.stderr
    assert db.revision() == "r1" and db.contents() == before


@pytest.mark.parametrize("db", ["sqlite", "postgresql"], indirect=True)
def test_disk_full_during_apply_does_not_decide_the_outcome(
    db: ThrowawayDB, project: Project, small_disk: Path, tmp_path: Path
) -> None:
    history(project)
    alembic_upgrade(db, project.ini, "r1")
    config = write_config(
        tmp_path, {"artifacts_dir": str(small_disk / "artifacts"), "rehearse": "never"}
    )

    result = Release(db, project.ini, config)()

    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["outcome"] == "applied"
    assert db.revision() == "r2"
    assert db.scalar("SELECT name FROM things WHERE id = 6000") == "renamed thing number 6000"
    assert "Traceback" not in result.stderr
    assert "applied.sql cannot be written" in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 3, result.stderr
    (tmp_path / "elsewhere").mkdir()
    runs = Release(db, project.ini, write_config(tmp_path / "elsewhere"))("history")
    assert runs.report["data"]["runs"][0]["outcome"] == "applied"
