"""index on products.attr13

Revision ID: c14
Revises: c13
"""

from alembic import op

revision = "c14"
down_revision = "c13"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_products_attr13", "products", ["attr13"])


def downgrade():
    op.drop_index("ix_products_attr13", table_name="products")
