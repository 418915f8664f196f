"""orders"""

import sqlalchemy as sa
from alembic import op

revision = "n02"
down_revision = "n01"


def upgrade():
    op.create_table(
        "purchases",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
    )


def downgrade():
    op.drop_table("purchases")
