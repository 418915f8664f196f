"""products.attr19

Revision ID: c19
Revises: c18
"""

import sqlalchemy as sa
from alembic import op

revision = "c19"
down_revision = "c18"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("products", sa.Column("attr19", sa.String(30), nullable=True))
    op.execute("UPDATE products SET attr19 = sku")


def downgrade():
    op.drop_column("products", "attr19")
