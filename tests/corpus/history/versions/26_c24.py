"""table t24

Revision ID: c24
Revises: c23
"""

import sqlalchemy as sa
from alembic import op

revision = "c24"
down_revision = "c23"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "t24", sa.Column("id", sa.Integer, primary_key=True), sa.Column("note", sa.String(60))
    )
    op.execute("INSERT INTO t24 (id, note) VALUES (1, 'made by c24')")


def downgrade():
    op.drop_table("t24")
