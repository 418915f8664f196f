"""branch a: tags

Revision ID: c10a
Revises: c09
"""

import sqlalchemy as sa
from alembic import op

revision = "c10a"
down_revision = "c09"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "tags", sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(40))
    )


def downgrade():
    op.drop_table("tags")
