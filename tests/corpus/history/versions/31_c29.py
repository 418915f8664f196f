"""index on products.attr28

Revision ID: c29
Revises: c28
"""

from alembic import op

revision = "c29"
down_revision = "c28"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_products_attr28", "products", ["attr28"])


def downgrade():
    op.drop_index("ix_products_attr28", table_name="products")
