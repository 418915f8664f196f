"""table t27

Revision ID: c27
Revises: c26
"""

import sqlalchemy as sa
from alembic import op

revision = "c27"
down_revision = "c26"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "t27", sa.Column("id", sa.Integer, primary_key=True), sa.Column("note", sa.String(60))
    )
    op.execute("INSERT INTO t27 (id, note) VALUES (1, 'made by c27')")


def downgrade():
    op.drop_table("t27")
