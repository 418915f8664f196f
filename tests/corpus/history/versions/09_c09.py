"""index on orders.created_at, built CONCURRENTLY on PostgreSQL

Revision ID: c09
Revises: c08
"""

from alembic import op

revision = "c09"
down_revision = "c08"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_context().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.create_index(
                "ix_orders_created_at", "orders", ["created_at"], postgresql_concurrently=True
            )
    else:
        op.create_index("ix_orders_created_at", "orders", ["created_at"])


def downgrade():
    if op.get_context().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.drop_index("ix_orders_created_at", table_name="orders", postgresql_concurrently=True)
    else:
        op.drop_index("ix_orders_created_at", table_name="orders")
