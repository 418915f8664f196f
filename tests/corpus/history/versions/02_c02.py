"""orders, indexed the way autogenerate writes it

Revision ID: c02
Revises: c01
"""

import sqlalchemy as sa
from alembic import op

revision = "c02"
down_revision = "c01"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", name="fk_orders_user"), nullable=False
        ),
        sa.Column("total", sa.Numeric(10, 2), nullable=False),
        sa.Column(
            "created_at", sa.DateTime, nullable=False, server_default=sa.text("CURRENT_TIMESTAMP")
        ),
    )
    op.create_index("ix_orders_user_id", "orders", ["user_id"])


def downgrade():
    # the index goes with the table (MySQL refuses to drop it first: the foreign key needs it)
    op.drop_table("orders")
