"""data migration: order counts per user, computed in Python

Revision ID: c30
Revises: c29
"""

import sqlalchemy as sa
from alembic import op

revision = "c30"
down_revision = "c29"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("order_count", sa.Integer, nullable=False, server_default="0"))
    conn = op.get_bind()
    counts = conn.execute(
        sa.text("SELECT user_id, COUNT(*) FROM orders GROUP BY user_id ORDER BY user_id")
    ).fetchall()
    for user_id, count in counts:
        conn.execute(
            sa.text("UPDATE users SET order_count = :n WHERE id = :id"), {"n": count, "id": user_id}
        )


def downgrade():
    op.drop_column("users", "order_count")
