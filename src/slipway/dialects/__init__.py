"""What differs between PostgreSQL, MySQL/MariaDB and SQLite, behind one small interface.

Each dialect knows how to hold the release lock, bound a migration's waiting time,
back up, validate and restore its database, and which client tools that needs.
Passwords reach client tools only through the environment (PostgreSQL) or a 0600
option file (MySQL), never through argv. One module per dialect; each registers itself
(:mod:`slipway.dialects.base`), so the rest of slipway asks :func:`dialect_for`.
"""

from __future__ import annotations

from slipway.dialects import mysql, postgresql, sqlite
from slipway.dialects.base import (
    CONNECT_TIMEOUT_S,
    LOOPBACK,
    Counter,
    Dialect,
    LockWaitTimeout,
    ToolFailed,
    ToolGroup,
    dialect_class,
    dialect_for,
    dialect_named,
    in_group,
    lock_key,
    supported,
)
from slipway.dialects.mysql import MySQL
from slipway.dialects.postgresql import PostgreSQL
from slipway.dialects.sqlite import SQLite

__all__ = [
    "CONNECT_TIMEOUT_S",
    "LOOPBACK",
    "Counter",
    "Dialect",
    "LockWaitTimeout",
    "MySQL",
    "PostgreSQL",
    "SQLite",
    "ToolFailed",
    "ToolGroup",
    "dialect_class",
    "dialect_for",
    "dialect_named",
    "in_group",
    "lock_key",
    "mysql",
    "postgresql",
    "sqlite",
    "supported",
]
