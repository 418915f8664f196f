"""The small things a new user trips over: -h, pipes, --quiet, SLIPWAY_* variables,
the development switch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import (
    ROOT,
    Project,
    Release,
    Result,
    ThrowawayDB,
    slipway,
    standard_history,
    write_config,
)


def test_dash_h_and_the_variables_are_shown() -> None:
    result = slipway("db", "status", "-h")
    assert result.code == 0, result.stderr
    for var in ("SLIPWAY_ENV", "SLIPWAY_DB_URL", "SLIPWAY_CONFIG", "SLIPWAY_QUIET"):
        assert var in result.stdout, var
    assert slipway("-h").code == 0
    # Command options too, by click's naming: SLIPWAY_<GROUP>_<COMMAND>_<OPTION>.
    assert "SLIPWAY_DB_HISTORY_LIMIT" in slipway("db", "history", "-h").stdout


def test_a_closed_pipe_is_not_an_error(lite: ThrowawayDB, project: Project, tmp_path: Path) -> None:
    standard_history(project)
    config = write_config(tmp_path)
    argv = [sys.executable, "-m", "slipway", "db", "status", "--env", "test"]
    argv += ["--config", str(config), "--alembic-ini", str(project.ini), "--json"]
    shell = f"TEST_DB_URL={lite.url_str} {' '.join(argv)} | true; echo $?${{PIPESTATUS[0]}}"
    out = subprocess.run(
        ["bash", "-c", shell], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert out.stdout.strip() == "00", out.stderr
    assert "Traceback" not in out.stderr and "Broken pipe" not in out.stderr


def test_a_summary_cut_by_head_is_not_an_error(
    lite: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    """`slipway db status | head -1`: rich's own answer to a closed pipe is exit 1."""
    standard_history(project)
    config = write_config(tmp_path)
    argv = [sys.executable, "-m", "slipway", "db", "status", "--env", "test"]
    argv += ["--config", str(config), "--alembic-ini", str(project.ini)]
    shell = f"TEST_DB_URL={lite.url_str} {' '.join(argv)} | head -1; echo ${{PIPESTATUS[0]}}"
    out = subprocess.run(
        ["bash", "-c", shell], capture_output=True, text=True, cwd=ROOT, check=True
    )
    first, code = out.stdout.splitlines()
    assert first.startswith("noop status on test"), out.stdout
    assert code == "0", out.stdout + out.stderr


def test_a_read_only_command_does_not_guess_the_revision(
    lite: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    standard_history(project)
    release = Release(lite, project.ini, write_config(tmp_path))
    assert release().code == 0
    argv = ["db", "sequences", "--env", "test", "--config", str(release.config)]
    shown = slipway(*argv, "--alembic-ini", str(project.ini), env={"TEST_DB_URL": lite.url_str})
    assert shown.code == 0, shown.stderr
    assert "at base" not in shown.stdout, shown.stdout


def test_quiet_prints_nothing_but_the_error(
    lite: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    standard_history(project)
    release = Release(lite, project.ini, write_config(tmp_path))
    argv = ["--env", "test", "--config", str(release.config)]
    argv += ["--alembic-ini", str(project.ini), "--quiet"]
    env = {"TEST_DB_URL": lite.url_str}
    ok = slipway("db", "release", *argv, env=env)
    assert ok.code == 0 and ok.stdout == "" and ok.stderr == "", (ok.stdout, ok.stderr)
    project.add("r4", 'raise RuntimeError("r4 is broken")')
    failed = slipway("db", "release", *argv, env=env)
    assert failed.code == 3 and failed.stdout == ""
    assert len(failed.stderr.strip().splitlines()) == 1, failed.stderr
    assert "r4 is broken" in failed.stderr


def test_development_logs_debug(lite: ThrowawayDB, project: Project, tmp_path: Path) -> None:
    standard_history(project)
    config = write_config(tmp_path, dev={"database_url_env": "TEST_DB_URL", "development": True})
    result = slipway(
        "db",
        "release",
        "--env",
        "dev",
        "--config",
        str(config),
        "--alembic-ini",
        str(project.ini),
        env={"TEST_DB_URL": lite.url_str},
    )
    assert result.code == 0, result.stderr
    assert " DEBUG " in result.stderr, result.stderr
    # Every command, the read-only ones too.
    for command in ("status", "history", "preflight", "render", "lint", "sequences"):
        shown = slipway(
            *("db", command, "--env", "dev", "--config", str(config)),
            *("--alembic-ini", str(project.ini)),
            env={"TEST_DB_URL": lite.url_str},
        )
        assert shown.code == 0, (command, shown.stderr)
        assert " DEBUG " in shown.stderr, (command, shown.stderr)


def test_render_from_does_not_claim_where_the_database_is(
    lite: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    from conftest import alembic_upgrade

    standard_history(project)
    alembic_upgrade(lite, project.ini, "r2")
    result = slipway(
        "db",
        "render",
        "--from",
        "base",
        "--env",
        "test",
        "--config",
        str(write_config(tmp_path)),
        "--alembic-ini",
        str(project.ini),
        env={"TEST_DB_URL": lite.url_str},
    )
    assert result.code == 0, result.stderr
    assert "database: not read (rendered offline from base to r3)" in result.stdout
    assert "at base" not in result.stdout


def test_quiet_is_quiet_with_a_stock_env_py(tmp_path: Path) -> None:
    """`alembic init`'s env.py calls fileConfig(): Alembic's INFO lines on stderr."""
    project = tmp_path / "stock"
    project.mkdir()
    alembic = Path(sys.executable).parent / "alembic"
    subprocess.run([str(alembic), "init", "alembic"], cwd=project, check=True, capture_output=True)
    subprocess.run(
        [str(alembic), "revision", "-m", "one"], cwd=project, check=True, capture_output=True
    )
    (project / "slipway.yml").write_text(
        "environments:\n  local:\n    database_url: sqlite:///app.db\n"
    )
    for command in ("release", "status", "release"):
        result = slipway("db", command, "-q", cwd=project)
        assert result.code == 0, result.stderr
        assert result.stderr == "" and result.stdout == "", (command, result.stderr)
    failed = slipway("db", "release", "-q", "--to", "nowhere", cwd=project)
    assert failed.code == 2
    assert failed.stderr.count("\n") == 1 and "nowhere" in failed.stderr


def test_the_verbs_of_other_tools_name_slipways_command() -> None:
    expected = {
        ("db", "undo"): "db rollback",
        ("db", "revert"): "db rollback",
        ("db", "migrate"): "db release",
        ("db", "deploy"): "db release",
        ("db", "info"): "db status",
        ("db", "baseline"): "db adopt",
        ("db", "log"): "db history",
        ("migrate",): "db release",
        ("info",): "db status",
        ("status",): "db status",
    }
    for args, ours in expected.items():
        result = slipway(*args)
        assert result.code == 2, (args, result.stderr)
        assert result.stdout == ""
        (line,) = result.stderr.splitlines()
        assert f"'{ours}'" in line or f"'slipway {ours}'" in line, (args, line)
        assert "unlock" not in line and "render" not in line, line
    # A typo of slipway's own command still gets the nearest spelling.
    assert "Did you mean 'status'" in slipway("db", "statsu").stderr


def rollback_in_a_terminal(release: Release, answer: str, *extra: str) -> Result:
    """``db rollback --to r1`` with its stdin a terminal that answers ``answer``."""
    leader, follower = os.openpty()
    try:
        os.write(leader, answer.encode())
        proc = subprocess.run(
            [
                *(sys.executable, "-m", "slipway", "db", "rollback", "--to", "r1"),
                *("--env", "test", "--config", str(release.config)),
                *("--alembic-ini", str(release.project_ini), "--json", *extra),
            ],
            stdin=follower,
            capture_output=True,
            text=True,
            env={**os.environ, "TEST_DB_URL": release.db.url_str},
            cwd=ROOT,
            timeout=180,
            check=False,
        )
    finally:
        os.close(leader)
        os.close(follower)
    return Result(proc.returncode, proc.stdout, proc.stderr, proc.args)


def test_rollback_in_a_terminal_says_what_it_undoes_and_asks_first(
    lite: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    standard_history(project)
    release = Release(lite, project.ini, write_config(tmp_path))
    assert release().code == 0
    before = (lite.revision(), lite.tables(), lite.contents())

    declined = rollback_in_a_terminal(release, "n\n")
    assert declined.code == 3, declined.stderr
    assert "undoes 2 revision(s): r3 (" in declined.stderr and "; r2 (" in declined.stderr
    assert "Go on? [y/N]" in declined.stderr
    assert declined.report["error"]["check"] == "confirm"
    assert declined.report["data"]["undoing"] == ["r3", "r2"]
    assert (lite.revision(), lite.tables(), lite.contents()) == before
    assert not list((tmp_path / "backups").rglob("*.db*")), "nothing was backed up either"

    confirmed = rollback_in_a_terminal(release, "y\n")
    assert confirmed.code == 0, confirmed.stderr
    assert lite.revision() == "r1"
    assert confirmed.report["backup"], "backed up first"

    assert release().code == 0
    unasked = rollback_in_a_terminal(release, "", "--yes")
    assert unasked.code == 0, unasked.stderr
    assert "Go on?" not in unasked.stderr and lite.revision() == "r1"
