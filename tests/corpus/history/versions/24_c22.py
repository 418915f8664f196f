"""products.attr22

Revision ID: c22
Revises: c21
"""

import sqlalchemy as sa
from alembic import op

revision = "c22"
down_revision = "c21"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("products", sa.Column("attr22", sa.String(30), nullable=True))
    op.execute("UPDATE products SET attr22 = sku")


def downgrade():
    op.drop_column("products", "attr22")
