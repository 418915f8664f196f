"""The database password appears nowhere: not in output, reports, SQL, logs, nor in the
argv of the client tools slipway starts."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest
from conftest import (
    Project,
    Release,
    ThrowawayDB,
    alembic_upgrade,
    write_config,
)

TOOLS = ("pg_dump", "pg_restore", "psql", "mariadb-dump", "mysqldump", "mariadb", "mysql")


@pytest.fixture
def spy_path(tmp_path: Path) -> tuple[Path, Path]:
    """A PATH folder whose client tools record their argv, then run the real ones."""
    folder = tmp_path / "spybin"
    folder.mkdir()
    log = tmp_path / "argv.log"
    for tool in TOOLS:
        real = shutil.which(tool)
        if real is None:
            continue
        spy = folder / tool
        spy.write_text(f'#!/bin/sh\nprintf "%s\\n" "{tool} $*" >> {log}\nexec {real} "$@"\n')
        spy.chmod(spy.stat().st_mode | stat.S_IXUSR)
    return folder, log


def test_password_never_leaks(
    protected: ThrowawayDB, project: Project, tmp_path: Path, spy_path: tuple[Path, Path]
) -> None:
    password = str(protected.url.password)
    folder, argv_log = spy_path
    project.add(
        "r1",
        """
        t = op.create_table("things", sa.Column("id", sa.Integer, primary_key=True))
        op.bulk_insert(t, [{"id": 1}])
    """,
        'op.drop_table("things")',
    )
    alembic_upgrade(protected, project.ini, "r1")
    project.add(
        "r2",
        'op.add_column("things", sa.Column("x", sa.Integer))',
        'op.execute("SELECT * FROM no_such_table")',
    )
    project.add("r3", 'op.execute("INSERT INTO no_such_table (id) VALUES (1)")')
    release = Release(protected, project.ini, write_config(tmp_path))
    path_env = {"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}

    # Backup, render, apply, failed rollback, restore: every client tool gets used.
    failed = release(child_env=path_env)
    assert failed.code == 5, failed.stderr
    assert protected.revision() == "r1"
    human = release("status", child_env=path_env)
    assert human.code == 0

    seen = [failed.stdout, failed.stderr, human.stdout, human.stderr]
    for path in (tmp_path / "artifacts").rglob("*"):
        if path.is_file():
            seen.append(path.read_text(encoding="utf-8", errors="replace"))
    calls = argv_log.read_text()
    assert "dump" in calls and ("psql" in calls or "mariadb" in calls), calls
    seen.append(calls)
    for text in seen:
        assert password not in text
    for folder_ in (tmp_path / "artifacts", tmp_path / "backups"):
        assert not list(folder_.rglob("*.cnf")), "option files are removed after use"
