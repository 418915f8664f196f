"""data migration: display names computed in Python from rows read with op.get_bind()

Revision ID: c04
Revises: c03
"""

import sqlalchemy as sa
from alembic import op

revision = "c04"
down_revision = "c03"
branch_labels = None
depends_on = None


def upgrade():
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, name FROM users ORDER BY id")).fetchall()
    for user_id, name in rows:
        conn.execute(
            sa.text("UPDATE users SET display_name = :shown WHERE id = :id"),
            {"shown": name.title(), "id": user_id},
        )


def downgrade():
    op.execute("UPDATE users SET display_name = NULL")
