"""data migration through an ORM Session: every order without a status is new

Revision ID: c08
Revises: c07
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class Base(DeclarativeBase):
    pass


class Order(Base):
    # The table as this revision knows it, not as the application's models are today.
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str | None] = mapped_column(
        sa.Enum("new", "paid", "shipped", name="order_status", create_type=False)
    )


revision = "c08"
down_revision = "c07"
branch_labels = None
depends_on = None


def upgrade():
    session = Session(bind=op.get_bind())
    for order in session.scalars(sa.select(Order).where(Order.status.is_(None))):
        order.status = "new"
    session.flush()


def downgrade():
    op.execute("UPDATE orders SET status = NULL")
