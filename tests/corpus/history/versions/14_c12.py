"""merge the two branches

Revision ID: c12
Revises: ('c11a', 'c11b')
"""

revision = "c12"
down_revision = ("c11a", "c11b")
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
