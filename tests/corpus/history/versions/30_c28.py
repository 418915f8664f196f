"""products.attr28

Revision ID: c28
Revises: c27
"""

import sqlalchemy as sa
from alembic import op

revision = "c28"
down_revision = "c27"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("products", sa.Column("attr28", sa.String(30), nullable=True))
    op.execute("UPDATE products SET attr28 = sku")


def downgrade():
    op.drop_column("products", "attr28")
