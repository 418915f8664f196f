"""Both ini files work with plain Alembic, online and offline; production's has no URL."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT


def alembic(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STOREFRONT_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "alembic", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("ini", ["alembic.ini", "alembic_prod.ini"])
def test_ini_upgrades_online_and_renders_offline(ini: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sf.db'}"
    online = alembic("-c", ini, "upgrade", "head", url=url)
    assert online.returncode == 0, online.stderr
    assert alembic("-c", ini, "current", url=url).stdout.strip().startswith("0006")
    offline = alembic(
        "-c", ini, "upgrade", "head", "--sql", url="postgresql+psycopg://app@db.invalid/app"
    )
    assert offline.returncode == 0, offline.stderr
    assert "CREATE TYPE order_status AS ENUM" in offline.stdout
    assert (
        "DROP TYPE order_status"
        in alembic(
            "-c", ini, "downgrade", "0006:0005", "--sql", url="postgresql+psycopg://app@x/app"
        ).stdout
    )


def test_production_ini_holds_no_url_and_writes_utf8() -> None:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "alembic_prod.ini")
    assert not parser.has_option("alembic", "sqlalchemy.url")
    assert parser.get("alembic", "output_encoding") == "utf-8"
