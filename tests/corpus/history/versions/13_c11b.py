"""branch b: audit entries name a tag (needs branch a's tags table)

Revision ID: c11b
Revises: c10b
"""

import sqlalchemy as sa
from alembic import op

revision = "c11b"
down_revision = "c10b"
branch_labels = None
depends_on = "c10a"


def upgrade():
    op.add_column("audit_log", sa.Column("tag_id", sa.Integer, nullable=True))
    op.execute("INSERT INTO audit_log (action, tag_id) SELECT 'tagged', id FROM tags")


def downgrade():
    op.execute("DELETE FROM audit_log WHERE action = 'tagged'")
    op.drop_column("audit_log", "tag_id")
