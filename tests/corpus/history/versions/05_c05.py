"""batch mode: display_name becomes NOT NULL (SQLite reflects and rebuilds the table)

Revision ID: c05
Revises: c04
"""

import sqlalchemy as sa
from alembic import op

revision = "c05"
down_revision = "c04"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("UPDATE users SET display_name = name WHERE display_name IS NULL")
    with op.batch_alter_table("users") as batch:
        batch.alter_column("display_name", existing_type=sa.String(80), nullable=False)


def downgrade():
    with op.batch_alter_table("users") as batch:
        batch.alter_column("display_name", existing_type=sa.String(80), nullable=True)
