"""An `alembic init -t async` project (an async engine, asyncio.run, the URL from a
settings object) is released with async URLs on every database kind: asyncpg,
aiomysql and aiosqlite. slipway's own connections use the sync driver of the same
database; env.py gets the URL as given."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_real_alembic_projects import run_corpus_project


@pytest.mark.parametrize("kind", ["postgresql", "mariadb", "sqlite"])
def test_async_project_is_released_stairwayed_and_rolled_back(kind: str, tmp_path: Path) -> None:
    run_corpus_project(tmp_path, "async_env", kind, use_async=True)
