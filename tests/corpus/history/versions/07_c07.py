"""order status: a PostgreSQL enum type created with checkfirst

Revision ID: c07
Revises: c06
"""

import sqlalchemy as sa
from alembic import op

revision = "c07"
down_revision = "c06"
branch_labels = None
depends_on = None


def upgrade():
    status = sa.Enum("new", "paid", "shipped", name="order_status")
    status.create(op.get_bind(), checkfirst=True)
    op.add_column("orders", sa.Column("status", status, nullable=True))


def downgrade():
    op.drop_column("orders", "status")
    sa.Enum(name="order_status").drop(op.get_bind(), checkfirst=True)
