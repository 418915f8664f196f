"""index on products.attr25

Revision ID: c26
Revises: c25
"""

from alembic import op

revision = "c26"
down_revision = "c25"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_products_attr25", "products", ["attr25"])


def downgrade():
    op.drop_index("ix_products_attr25", table_name="products")
