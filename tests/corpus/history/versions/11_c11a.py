"""branch a: products get a tag

Revision ID: c11a
Revises: c10a
"""

import sqlalchemy as sa
from alembic import op

revision = "c11a"
down_revision = "c10a"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("products", sa.Column("tag_id", sa.Integer, nullable=True))


def downgrade():
    op.drop_column("products", "tag_id")
