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
# Lint findings this revision accepts (slipway db lint), with the reason review agreed to.
slipway_accept = {
    "require-concurrent-index-creation": "orders holds a few thousand rows at this release: "
    "the plain build blocks writes for milliseconds, well under lock_timeout",
    "require-online-index-creation": "the same on MariaDB: a few thousand rows, built in "
    "milliseconds",
}


def upgrade() -> None:
    op.create_index("ix_orders_user_id_created_at", "orders", ["user_id", "created_at"])


def downgrade() -> None:
    if op.get_context().dialect.name == "mysql":
        # InnoDB let the new index serve the user_id foreign key and dropped the key's own
        # index, so MySQL refuses to drop this one alone (error 1553). Re-adding the
        # foreign key brings back its implicit index, exactly as before the upgrade (an
        # explicit index instead would outlive the next upgrade).
        op.drop_constraint("fk_orders_user_id_users", "orders", type_="foreignkey")
        op.drop_index("ix_orders_user_id_created_at", table_name="orders")
        op.create_foreign_key("fk_orders_user_id_users", "orders", "users", ["user_id"], ["id"])
        return
    op.drop_index("ix_orders_user_id_created_at", table_name="orders")
