"""index on products.attr19

Revision ID: c20
Revises: c19
"""

from alembic import op

revision = "c20"
down_revision = "c19"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_products_attr19", "products", ["attr19"])


def downgrade():
    op.drop_index("ix_products_attr19", table_name="products")
