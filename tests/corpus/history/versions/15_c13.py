"""products.attr13

Revision ID: c13
Revises: c12
"""

import sqlalchemy as sa
from alembic import op

revision = "c13"
down_revision = "c12"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("products", sa.Column("attr13", sa.String(30), nullable=True))
    op.execute("UPDATE products SET attr13 = sku")


def downgrade():
    op.drop_column("products", "attr13")
