"""display name

Revision ID: c03
Revises: c02
"""

import sqlalchemy as sa
from alembic import op

revision = "c03"
down_revision = "c02"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("display_name", sa.String(80), nullable=True))


def downgrade():
    op.drop_column("users", "display_name")
