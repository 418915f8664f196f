"""env.py that borrows the application's engine (appdb.engine, made at import with a
connection pool, URL from DATABASE_URL): the module, and its pooled connections, outlive
one run of env.py within a process."""

import appdb
from alembic import context


def run_migrations_offline() -> None:
    context.configure(url=appdb.engine.url, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    with appdb.engine.connect() as connection:
        context.configure(connection=connection, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
