"""branch b: audit log

Revision ID: c10b
Revises: c09
"""

import sqlalchemy as sa
from alembic import op

revision = "c10b"
down_revision = "c09"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("action", sa.String(40), nullable=False),
    )


def downgrade():
    op.drop_table("audit_log")
