"""order status as an enum (a PostgreSQL type of its own)

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None
STATUSES = ("pending", "paid", "shipped", "cancelled")


def _is_postgresql() -> bool:
    return op.get_context().dialect.name == "postgresql"


def upgrade() -> None:
    if _is_postgresql():
        values = ", ".join(f"'{s}'" for s in STATUSES)
        op.execute(f"CREATE TYPE order_status AS ENUM ({values})")
        status_type: sa.types.TypeEngine[str] = postgresql.ENUM(
            *STATUSES, name="order_status", create_type=False
        )
    else:
        status_type = sa.Enum(*STATUSES, name="order_status")
    op.add_column(
        "orders",
        sa.Column("status", status_type, server_default="pending", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("orders", "status")
    if _is_postgresql():
        # Left behind, the type would make a later upgrade fail with "already exists".
        op.execute("DROP TYPE order_status")
