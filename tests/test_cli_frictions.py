"""The small things a new user trips over: -h, pipes, --quiet, SLIPWAY_* variables,
the development switch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import ROOT, Project, Release, ThrowawayDB, slipway, standard_history, write_config


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
