"""invoices (an add-on's own folder)"""

import sqlalchemy as sa
from alembic import op

revision = "n03"
down_revision = "n02"


def upgrade():
    op.create_table(
        "invoices",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("purchase_id", sa.Integer, sa.ForeignKey("purchases.id"), nullable=False),
    )


def downgrade():
    op.drop_table("invoices")
