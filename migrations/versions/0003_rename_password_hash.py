"""rename users.password_hash to users.password

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # existing_* arguments let Alembic emit CHANGE COLUMN on MySQL 5.7-style servers,
    # which lack RENAME COLUMN and need the full column definition.
    op.alter_column(
        "users",
        "password_hash",
        new_column_name="password",
        existing_type=sa.String(255),
        existing_nullable=False,
    )


def downgrade() -> None:
    op.alter_column(
        "users",
        "password",
        new_column_name="password_hash",
        existing_type=sa.String(255),
        existing_nullable=False,
    )
