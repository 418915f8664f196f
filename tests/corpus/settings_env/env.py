"""The FastAPI way: the URL comes from the application's settings, read from the
environment by pydantic-settings; alembic.ini and the caller are not asked."""

from alembic import context
from pydantic_settings import BaseSettings
from sqlalchemy import create_engine, pool


class AppSettings(BaseSettings):
    database_url: str


settings = AppSettings()
config = context.config


def run_migrations_offline() -> None:
    context.configure(url=settings.database_url, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(settings.database_url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
