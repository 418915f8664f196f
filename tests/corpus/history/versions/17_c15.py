"""table t15

Revision ID: c15
Revises: c14
"""

import sqlalchemy as sa
from alembic import op

revision = "c15"
down_revision = "c14"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "t15", sa.Column("id", sa.Integer, primary_key=True), sa.Column("note", sa.String(60))
    )
    op.execute("INSERT INTO t15 (id, note) VALUES (1, 'made by c15')")


def downgrade():
    op.drop_table("t15")
