"""The storefront's migration history under pytest-alembic's default tests, on all three
databases, and a data-migration test of its backfill revision (0005)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from conftest import ROOT, ThrowawayDB
from pytest_alembic import MigrationContext
from pytest_alembic.tests import (  # noqa: F401 - collected as tests of this module
    test_model_definitions_match_ddl,
    test_single_head_revision,
    test_up_down_consistency,
    test_upgrade,
)


@pytest.fixture
def alembic_config() -> dict[str, Any]:
    return {"file": str(ROOT / "alembic.ini")}


@pytest.fixture
def alembic_engine(db: ThrowawayDB) -> sa.Engine:
    return db.engine()


def test_backfill_0005_computes_order_totals_and_downgrade_keeps_the_orders(
    alembic_runner: MigrationContext, db: ThrowawayDB
) -> None:
    """The one revision that rewrites data: totals are quantity x price for every order,
    and going back removes the column without losing an order."""
    alembic_runner.migrate_up_to("0004")
    alembic_runner.insert_into(
        "users",
        [
            {"id": 1, "email": "a@example.org", "name": "Ada", "password": "x"},
            {"id": 2, "email": "b@example.org", "name": "Bo", "password": "y"},
        ],
    )
    alembic_runner.insert_into(
        "items",
        [
            {"id": 1, "sku": "A-1", "name": "Anchor", "price_cents": 1250, "stock": 3},
            {"id": 2, "sku": "R-7", "name": "Rope", "price_cents": 399, "stock": 10},
        ],
    )
    orders = [(1, 1, 1, 2), (2, 2, 2, 5), (3, 1, 2, 1)]
    alembic_runner.insert_into(
        "orders",
        [{"id": o, "user_id": u, "item_id": i, "quantity": q} for o, u, i, q in orders],
    )

    alembic_runner.migrate_up_one()

    assert alembic_runner.current == "0005"
    totals = _rows(db, "SELECT id, total_cents FROM orders ORDER BY id")
    assert totals == [(1, 2500), (2, 1995), (3, 399)]

    alembic_runner.migrate_down_one()

    assert alembic_runner.current == "0004"
    assert _rows(db, "SELECT id, user_id, item_id, quantity FROM orders ORDER BY id") == orders
    with db.engine().connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("orders")}
    assert "total_cents" not in columns


def _rows(db: ThrowawayDB, sql: str) -> list[tuple[Any, ...]]:
    with db.engine().connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(sql)]
