"""A release begins its dump before the revision graph is read, where a revision looks
pending (a file other than the current revision's names it): the dump runs beside the
revision files. A guess that proves wrong leaves nothing behind; a right one is the
release's backup, of the database as the run found it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import Project, Release, ThrowawayDB, standard_history, write_config


def backups(folder: Path) -> list[str]:
    return sorted(p.name for p in (folder / "backups").rglob("*") if p.is_file())


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_a_wrong_guess_leaves_nothing_and_a_right_one_is_the_backup(
    db: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    standard_history(project)
    release = Release(db, project.ini, write_config(tmp_path))
    assert release("release", "--to", "r2").code == 0
    after_first = backups(tmp_path)
    # A module beside the revisions that names the current revision: the guess says a
    # revision follows it, the graph says none is pending (release --to r2 again).
    (project.root / "notes.py").write_text("# r2 added the label column\n")

    noop = release("release", "--to", "r2")

    assert noop.code == 0, noop.stderr
    assert noop.report["outcome"] == "noop"
    log = (tmp_path / "artifacts" / noop.report["run_id"] / "run.log").read_text()
    assert "backup begun under the lock" in log  # the guess was taken, then dropped
    assert backups(tmp_path) == after_first  # no dump, no partial file left

    applied = release("release")

    assert applied.code == 0, applied.stderr
    assert applied.report["outcome"] == "applied" and db.revision() == "r3"
    log = (tmp_path / "artifacts" / applied.report["run_id"] / "run.log").read_text()
    assert "backup begun under the lock" in log
    dump = Path(applied.report["backup"]["path"])
    assert dump.name in backups(tmp_path)
    # The backup holds the rows as the run found them (at r2).
    listed = subprocess.run(
        ["pg_restore", "--data-only", "--table=things", "--file=-", str(dump)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "renamed" in listed and "thing 3" in listed, listed
