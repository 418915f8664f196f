"""For a project's env.py: keep slipway's ledger out of ``alembic revision --autogenerate``.

slipway keeps its run history and checksum ledger in tables of the target database.
They are not the service's schema, so autogenerate must not offer to drop them::

    from slipway.autogenerate import include_object

    context.configure(..., include_object=include_object)

A project with a filter of its own wraps it: ``include_object=without_ledger(mine)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slipway.ledger import checksums, history

LEDGER_TABLES = frozenset({history.name, checksums.name})

IncludeObject = Callable[[Any, str | None, str, bool, Any], bool]


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """False for slipway's ledger tables (and their indexes), True for everything else."""
    if type_ == "table":
        return name not in LEDGER_TABLES
    table = getattr(obj, "table", None)
    return getattr(table, "name", None) not in LEDGER_TABLES


def without_ledger(inner: IncludeObject) -> IncludeObject:
    """``inner``, with slipway's ledger tables left out first."""

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        return include_object(obj, name, type_, reflected, compare_to) and inner(
            obj, name, type_, reflected, compare_to
        )

    return include
