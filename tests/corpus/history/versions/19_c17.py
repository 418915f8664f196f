"""index on products.attr16

Revision ID: c17
Revises: c16
"""

from alembic import op

revision = "c17"
down_revision = "c16"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_products_attr16", "products", ["attr16"])


def downgrade():
    op.drop_index("ix_products_attr16", table_name="products")
