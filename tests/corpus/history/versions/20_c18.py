"""table t18

Revision ID: c18
Revises: c17
"""

import sqlalchemy as sa
from alembic import op

revision = "c18"
down_revision = "c17"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "t18", sa.Column("id", sa.Integer, primary_key=True), sa.Column("note", sa.String(60))
    )
    op.execute("INSERT INTO t18 (id, note) VALUES (1, 'made by c18')")


def downgrade():
    op.drop_table("t18")
