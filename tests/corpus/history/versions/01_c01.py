"""users

Revision ID: c01
Revises: None
"""

import sqlalchemy as sa
from alembic import op

revision = "c01"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    users = op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(120), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
    )
    op.create_index("ix_users_email", "users", ["email"], unique=True)
    op.bulk_insert(users, [{"id": 1, "email": "ada@example.org", "name": "ada lovelace"}])


def downgrade():
    op.drop_index("ix_users_email", table_name="users")
    op.drop_table("users")
