"""Which URL and paths an environment resolves to."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT, write_config

from slipway.config import load_settings
from slipway.errors import BadInput


def test_db_url_flag_wins_over_the_environment_variable(tmp_path: Path) -> None:
    settings = load_settings(
        "test",
        config=write_config(tmp_path),
        db_url="sqlite:///flag.db",
        alembic_ini=ROOT / "alembic.ini",
        environ={"TEST_DB_URL": "sqlite:///env.db"},
    )
    assert settings.url_source == "--db-url"
    assert settings.url.database == str(tmp_path / "flag.db")


def test_relative_sqlite_path_is_relative_to_the_config_file(tmp_path: Path) -> None:
    config = write_config(tmp_path, local={"database_url": "sqlite:///var/app.db"})
    settings = load_settings("local", config=config, alembic_ini=ROOT / "alembic.ini", environ={})
    assert settings.url.database == str(tmp_path / "var" / "app.db")
    assert settings.backup_dir == tmp_path / "backups" / "local"


def test_password_is_masked_when_the_url_is_shown(tmp_path: Path) -> None:
    settings = load_settings(
        "test",
        config=write_config(tmp_path),
        alembic_ini=ROOT / "alembic.ini",
        environ={"TEST_DB_URL": "postgresql://app:Sekr3t@db/app"},
    )
    assert "Sekr3t" not in settings.safe_url()
    assert "Sekr3t" not in repr(settings)
    assert settings.secrets == ("Sekr3t",)


def test_unknown_setting_is_bad_input(tmp_path: Path) -> None:
    config = write_config(tmp_path, test={"database_url_env": "X", "lock_timeout": 3})
    with pytest.raises(BadInput, match="unknown setting"):
        load_settings(
            "test", config=config, alembic_ini=ROOT / "alembic.ini", environ={"X": "sqlite:///a.db"}
        )
