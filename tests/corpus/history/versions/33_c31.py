"""last: products.note

Revision ID: c31
Revises: c30
"""

import sqlalchemy as sa
from alembic import op

revision = "c31"
down_revision = "c30"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("products", sa.Column("note", sa.String(200), nullable=True))


def downgrade():
    op.drop_column("products", "note")
