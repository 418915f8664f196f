"""index on products.attr22

Revision ID: c23
Revises: c22
"""

from alembic import op

revision = "c23"
down_revision = "c22"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_products_attr22", "products", ["attr22"])


def downgrade():
    op.drop_index("ix_products_attr22", table_name="products")
