"""On a terminal, a release shows its progress live: each step, and during the backup
how much has been written; the live display is gone at the end, the summary stays."""

from __future__ import annotations

import os
import re
import shutil
import stat
import sys
from pathlib import Path

from conftest import Project, Release, ThrowawayDB, standard_history, write_config
from faults.test_signals import in_terminal, read_all

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def test_a_release_on_a_terminal_shows_the_backup_growing(
    pg: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    standard_history(project)
    # A pg_dump that takes its time after writing: the backup lasts a few seconds.
    folder = tmp_path / "slowbin"
    folder.mkdir()
    slow = folder / "pg_dump"
    slow.write_text(f'#!/bin/sh\n{shutil.which("pg_dump")} "$@" || exit $?\nsleep 3\n')
    slow.chmod(slow.stat().st_mode | stat.S_IXUSR)
    release = Release(pg, project.ini, write_config(tmp_path))
    argv = [sys.executable, "-m", "slipway", "db", "release", "--env", "test"]
    argv += ["--config", str(release.config), "--alembic-ini", str(project.ini)]
    env = {**os.environ, "TEST_DB_URL": pg.url_str, "PATH": f"{folder}:{os.environ['PATH']}"}
    proc, master = in_terminal(argv, env)
    try:
        output = read_all(master, proc)
    finally:
        os.close(master)
    assert proc.returncode == 0, output
    plain = ANSI.sub("", output)
    assert re.search(r"backup: [\d.]+ (B|KB|MB) written in \d+ s", plain), plain
    assert re.search(r"apply +[\d.]+ s", plain), plain
    assert "database: at r3, verified" in plain


def screen(output: str) -> list[str]:
    """The lines a terminal shows at the end: line erasures and cursor-ups applied (the
    live display is drawn, then erased), colours dropped."""
    lines: list[str] = [""]
    row = 0
    for token in re.split(r"(\x1b\[[0-9;?]*[A-Za-z]|\r\n|\n|\r)", output):
        if token in ("\n", "\r\n"):
            row += 1
            if row == len(lines):
                lines.append("")
        elif token == "\r":
            continue
        elif token.startswith("\x1b["):
            if token == "\x1b[2K":
                lines[row] = ""
            elif token == "\x1b[1A":
                row = max(0, row - 1)
        else:
            lines[row] += token
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def test_a_failure_on_a_terminal_is_told_in_ten_lines_ending_in_the_command(
    lite: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    import shlex

    from conftest import slipway

    standard_history(project)
    project.add("r4", 'op.execute("INSERT INTO no_such_table (id) VALUES (1)")')
    release = Release(lite, project.ini, write_config(tmp_path))
    argv = [sys.executable, "-m", "slipway", "db", "release", "--env", "test"]
    argv += ["--config", str(release.config), "--alembic-ini", str(project.ini)]
    proc, master = in_terminal(argv, {**os.environ, "TEST_DB_URL": lite.url_str})
    try:
        output = read_all(master, proc)
    finally:
        os.close(master)

    assert proc.returncode == 4, output
    shown = [line for line in screen(output) if line.strip()]
    assert len(shown) <= 10, "\n".join(shown)
    assert any(line.startswith("failed: revision r4 (versions/r4.py:") for line in shown), shown
    assert shown[-1].startswith("slipway db release --env test"), shown
    again = slipway(*shlex.split(shown[-1])[1:], env={"TEST_DB_URL": lite.url_str})
    assert again.code == 4, "the command runs as shown (the revision still fails)"


def test_a_ci_log_gets_a_progress_line_now_and_then(
    lite: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    """Not a terminal (a CI job's log): while a revision runs for seconds, one line every
    SLIPWAY_PROGRESS_S seconds says which one, how far the apply is, and what runs."""
    project.add(
        "r1",
        'op.create_table("things", sa.Column("id", sa.Integer, primary_key=True))',
        'op.drop_table("things")',
    )
    project.add(
        "r2",
        """
        if not op.get_context().as_sql:
            time.sleep(float(os.environ.get("SLOW_S", "0")))
        op.add_column("things", sa.Column("label", sa.String(80)))
        """,
        'op.drop_column("things", "label")',
    )
    release = Release(lite, project.ini, write_config(tmp_path))

    result = release(child_env={"SLOW_S": "3.5", "SLIPWAY_PROGRESS_S": "1"})

    assert result.code == 0, result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("slipway: apply ")]
    ticks = [ln for ln in lines if "revision r2 (2/2, 50% done)" in ln]
    assert 2 <= len(ticks) <= 5, result.stderr
    assert re.match(r"slipway: apply \d+ s: revision r2", ticks[0]), ticks
    assert re.fullmatch(r"slipway: apply ok after \d+ s", lines[-1]), lines
    # Short steps say nothing; --quiet says nothing at all.
    assert not [ln for ln in result.stderr.splitlines() if ln.startswith("slipway: preflight")]
    lite.execute("DROP TABLE things")
    lite.execute("DELETE FROM alembic_version")
    lite.execute("DELETE FROM slipway_history")
    quiet = release("release", "-q", child_env={"SLOW_S": "2", "SLIPWAY_PROGRESS_S": "1"})
    assert quiet.code == 0 and quiet.stderr == "", quiet.stderr


def test_a_restore_in_a_ci_log_says_how_much_of_the_backup_it_has_read(
    pg: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    project.add(
        "r1",
        """
        op.create_table("things", sa.Column("id", sa.Integer, primary_key=True),
                        sa.Column("body", sa.Text))
        op.execute("INSERT INTO things SELECT g, md5(g::text) || md5((g * 7)::text) "
                   "FROM generate_series(1, 1200000) AS g")
        """,
        'op.drop_table("things")',
    )
    project.add("r2", 'op.add_column("things", sa.Column("note", sa.Text))', "pass")
    release = Release(pg, project.ini, write_config(tmp_path))
    assert release("release", "--to", "r1").code == 0
    done = release("release")
    assert done.code == 0, done.stderr
    backup = done.report["backup"]["path"]

    restored = release(
        "restore", "--backup", backup, "--yes", child_env={"SLIPWAY_PROGRESS_S": "0.3"}
    )

    assert restored.code == 0, restored.stderr
    read = re.findall(r"slipway: restore \d+ s: restore: (\d+)% of [\d.]+ MB read", restored.stderr)
    assert read, restored.stderr
    assert all(0 <= int(p) <= 100 for p in read)
    assert pg.revision() == "r1"
