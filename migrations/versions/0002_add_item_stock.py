"""add items.stock with a server default

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A server default lets existing rows get a value without rewriting them in Python.
    op.add_column("items", sa.Column("stock", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    op.drop_column("items", "stock")
