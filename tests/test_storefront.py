"""The sample service answers its health check with the schema's revision, and its
models match what the migrations build."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, ThrowawayDB, alembic_upgrade
from fastapi.testclient import TestClient


@pytest.fixture
def client(lite: ThrowawayDB, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    from storefront import app as app_module

    alembic_upgrade(lite, ROOT / "alembic_prod.ini", "head")
    lite.execute("INSERT INTO items (id, sku, name, price_cents) VALUES (1, 'A-1', 'Anchor', 1250)")
    monkeypatch.setenv("STOREFRONT_DATABASE_URL", lite.url_str)
    app_module.get_engine.cache_clear()
    with TestClient(app_module.app) as c:
        yield c
    app_module.get_engine.cache_clear()


def test_health_reports_the_schema_revision(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "revision": "0006", "release": None}


def test_items_are_served_with_their_stock_default(client: TestClient) -> None:
    assert client.get("/items").json() == [
        {"id": 1, "sku": "A-1", "name": "Anchor", "price_cents": 1250, "stock": 0}
    ]


def test_health_is_503_without_a_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from storefront import app as app_module

    monkeypatch.setenv("STOREFRONT_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    app_module.get_engine.cache_clear()
    with TestClient(app_module.app) as c:
        assert c.get("/health").status_code == 503
    app_module.get_engine.cache_clear()


def test_models_match_the_migrated_schema(db: ThrowawayDB) -> None:
    """No drift between storefront.models and migrations/ on every dialect."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from storefront.models import Base

    alembic_upgrade(db, ROOT / "alembic_prod.ini", "head")
    with db.engine().connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def test_the_dev_switch_of_the_checkout_makes_the_console_debug(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import logging
    import shutil
    import subprocess
    import sys

    from storefront import settings

    monkeypatch.delenv(settings.LOG_LEVEL_ENV, raising=False)
    here = ROOT / "examples" / "storefront" / "src" / "storefront" / "settings.py"
    assert settings.project_settings(here)["DEV"] is True  # this checkout: development
    assert settings.Settings.from_env({"DEV": True}).console_level == logging.DEBUG
    assert settings.Settings.from_env({"DEV": False}).console_level == logging.INFO
    monkeypatch.setenv(settings.LOG_LEVEL_ENV, "warning")
    assert settings.Settings.from_env({"DEV": False}).console_level == logging.WARNING
    assert settings.Settings.from_env({"DEV": True}).console_level == logging.DEBUG
    with pytest.raises(ValueError, match="DEV must be true or false"):
        settings.Settings.from_env({"DEV": "yes"})
    # Installed (no pyproject.toml of the project above the code): the configured level.
    installed = tmp_path / "site-packages" / "storefront"
    installed.mkdir(parents=True)
    shutil.copy(here, installed / "settings.py")
    assert settings.project_settings(installed / "settings.py") == {}

    # The service itself, from the checkout: its console says DEBUG.
    started = subprocess.run(
        [sys.executable, "-c", "import storefront.app"],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != settings.LOG_LEVEL_ENV},
        check=False,
    )
    assert started.returncode == 0, started.stderr
    assert "DEBUG storefront console log at DEBUG" in started.stderr
