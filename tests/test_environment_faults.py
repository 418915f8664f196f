"""Faults of the machine, injected from outside: a full disk for the backups, a client
tool missing from PATH. The release refuses before it changes anything."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Project, Release, ThrowawayDB, alembic_upgrade, standard_history, write_config


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs mounted where the backups go."""
    mount = tmp_path / "backups"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def big_database(db: ThrowawayDB, project: Project) -> None:
    standard_history(project)
    alembic_upgrade(db, project.ini, "r1")
    filler = "x" * 1000
    db.execute(
        *(f"INSERT INTO things (id, name) VALUES ({i}, '{filler[:50]}')" for i in range(100, 110))
    )
    db.execute("CREATE TABLE ballast (id INTEGER PRIMARY KEY, body TEXT)")
    # Random text, so that compressed dumps stay large too.
    db.execute(
        *(
            f"INSERT INTO ballast (id, body) VALUES ({i}, '{secrets.token_hex(500)}')"
            for i in range(1500)
        )
    )


def state(db: ThrowawayDB) -> tuple[object, ...]:
    """The service's schema and data (slipway's ledger records the refused run)."""
    return db.revision(), [t for t in db.tables() if not t.startswith("slipway_")], db.contents()


@pytest.mark.parametrize("db", ["sqlite", "postgresql"], indirect=True)
def test_backup_disk_too_small_is_refused_in_preflight(
    db: ThrowawayDB, project: Project, tmp_path: Path, small_disk: Path
) -> None:
    big_database(db, project)
    before = state(db)
    release = Release(db, project.ini, write_config(tmp_path))

    result = release()

    assert result.code == 3, result.stderr
    assert result.report["error"]["check"] == "backup_room"
    assert state(db) == before


@pytest.mark.parametrize("db", ["sqlite", "postgresql", "mariadb"], indirect=True)
def test_disk_filling_up_during_backup_is_refused_and_cleaned(
    db: ThrowawayDB, project: Project, tmp_path: Path, small_disk: Path
) -> None:
    big_database(db, project)
    before = state(db)
    # The room check believes there is space (ratio 0); the disk fills up anyway.
    release = Release(db, project.ini, write_config(tmp_path, {"backup_min_free_ratio": 0}))

    result = release()

    assert result.code == 3, result.stderr
    assert result.report["error"]["check"] == "backup"
    assert state(db) == before
    assert not [p for p in small_disk.rglob("*") if p.is_file()], "partial backup removed"
    runs = release("history").report["data"]["runs"]
    assert [(r["run_id"], r["outcome"]) for r in runs] == [(result.report["run_id"], "refused")]


@pytest.mark.parametrize("db", ["postgresql", "mariadb"], indirect=True)
def test_missing_dump_tool_is_refused_in_preflight(
    db: ThrowawayDB, project: Project, release: Release, tmp_path: Path
) -> None:
    standard_history(project)
    alembic_upgrade(db, project.ini, "r1")
    before = state(db)
    empty = tmp_path / "empty-path"
    empty.mkdir()

    result = release(child_env={"PATH": str(empty)})

    assert result.code == 3, result.stderr
    assert result.report["error"]["check"] == "tools"
    assert "not found on PATH" in result.stderr
    assert state(db) == before
