"""Alembic environment of the storefront service.

Where the database URL comes from, first match wins:
1. a connection handed over by the caller in ``config.attributes["connection"]``
   (slipway does this so it can set per-revision timeouts on the same session), or an
   engine there (as pytest-alembic does);
2. ``sqlalchemy.url`` in the ini file or set by the caller;
3. the ``STOREFRONT_DATABASE_URL`` environment variable (production: alembic_prod.ini
   carries no URL, so no password ever sits in a file).
"""

from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection, Engine, engine_from_config, pool

from slipway.autogenerate import include_object  # slipway's ledger is not the service's
from storefront.models import Base
from storefront.settings import DATABASE_URL_ENV, DEFAULT_DATABASE_URL

config = context.config

# A caller that runs migrations in-process keeps its own logging set-up.
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def database_url() -> str:
    return (
        config.get_main_option("sqlalchemy.url")
        or os.environ.get(DATABASE_URL_ENV)
        or DEFAULT_DATABASE_URL
    )


def run_migrations_offline() -> None:
    context.configure(
        url=database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        include_object=include_object,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
        transaction_per_migration=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if isinstance(connectable, Engine):  # pytest-alembic hands over an engine
        with connectable.connect() as conn:
            do_run_migrations(conn)
        return
    if connectable is not None:
        do_run_migrations(connectable)
        return
    section = config.get_section(config.config_ini_section, {})
    section["sqlalchemy.url"] = database_url()
    engine = engine_from_config(section, prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as conn:
        do_run_migrations(conn)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
