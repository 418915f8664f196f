"""products

Revision ID: c06
Revises: c05
"""

import sqlalchemy as sa
from alembic import op

revision = "c06"
down_revision = "c05"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "products",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sku", sa.String(40), nullable=False, unique=True),
        sa.Column("price", sa.Numeric(10, 2), nullable=False),
    )


def downgrade():
    op.drop_table("products")
