"""products.attr25

Revision ID: c25
Revises: c24
"""

import sqlalchemy as sa
from alembic import op

revision = "c25"
down_revision = "c24"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("products", sa.Column("attr25", sa.String(30), nullable=True))
    op.execute("UPDATE products SET attr25 = sku")


def downgrade():
    op.drop_column("products", "attr25")
