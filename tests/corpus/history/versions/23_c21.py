"""table t21

Revision ID: c21
Revises: c20
"""

import sqlalchemy as sa
from alembic import op

revision = "c21"
down_revision = "c20"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "t21", sa.Column("id", sa.Integer, primary_key=True), sa.Column("note", sa.String(60))
    )
    op.execute("INSERT INTO t21 (id, note) VALUES (1, 'made by c21')")


def downgrade():
    op.drop_table("t21")
