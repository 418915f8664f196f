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
# Lint findings this revision accepts (slipway db lint), with the reason review agreed to.
slipway_accept = {
    "renaming-column": "the storefront stops its service for this release (0.1 to 0.2): "
    "no running code reads users.password_hash while it is renamed",
}


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
