"""The URL under a key of the project's own in alembic.ini (`[app] database`), written
there by the deployment; sqlalchemy.url and the caller's connection are not asked."""

from alembic import context
from sqlalchemy import create_engine, pool

config = context.config
url = config.get_section_option("app", "database")


def run_migrations_offline() -> None:
    context.configure(url=url, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
