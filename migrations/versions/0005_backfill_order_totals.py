"""add orders.total_cents and backfill it from item prices

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("total_cents", sa.Integer(), nullable=True))
    # Plain SQL, so that the backfill also appears in the rendered --sql script.
    op.execute(
        "UPDATE orders SET total_cents = quantity * "
        "(SELECT items.price_cents FROM items WHERE items.id = orders.item_id)"
    )


def downgrade() -> None:
    op.drop_column("orders", "total_cents")
