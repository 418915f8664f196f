"""index orders by user and time

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_orders_user_id_created_at", "orders", ["user_id", "created_at"])


def downgrade() -> None:
    if op.get_context().dialect.name == "mysql":
        # InnoDB let the new index serve the user_id foreign key and dropped the key's own
        # index; put that one back first, or MySQL refuses to drop this one (error 1553).
        op.create_index("fk_orders_user_id_users", "orders", ["user_id"])
    op.drop_index("ix_orders_user_id_created_at", table_name="orders")
