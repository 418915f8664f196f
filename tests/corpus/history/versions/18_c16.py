"""products.attr16

Revision ID: c16
Revises: c15
"""

import sqlalchemy as sa
from alembic import op

revision = "c16"
down_revision = "c15"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("products", sa.Column("attr16", sa.String(30), nullable=True))
    op.execute("UPDATE products SET attr16 = sku")


def downgrade():
    op.drop_column("products", "attr16")
