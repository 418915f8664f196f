"""The migration tools slipway releases with, one module each, chosen by ``backend:``.

Everything that knows a tool lives in its module; the steps, the report, the guard and
the CLI speak to :class:`~slipway.backends._base.Backend`. A tool's module is imported
only when an environment names it, so a project without Django never imports it.
"""

from __future__ import annotations

import importlib

from slipway.backends._base import (
    ACCEPT_ATTRIBUTE,
    BASELINE_FILE,
    Backend,
    Rendered,
    Revision,
)
from slipway.config import BACKEND_NAMES, Settings

__all__ = [
    "ACCEPT_ATTRIBUTE",
    "BASELINE_FILE",
    "Backend",
    "Rendered",
    "Revision",
    "backend_class",
    "get_backend",
]

# backend: name -> the module whose Project answers for it.
_MODULES = {
    "alembic": "slipway.backends.alembic",
    "django": "slipway.backends.django",
    "aerich": "slipway.backends.aerich",
}
assert set(_MODULES) == set(BACKEND_NAMES)


def backend_class(name: str) -> type[Backend]:
    cls: type[Backend] = importlib.import_module(_MODULES[name]).Project
    return cls


def get_backend(settings: Settings, *, run_revisions: bool = True) -> Backend:
    """The project of ``settings``, read by its environment's migration tool."""
    return backend_class(settings.options.backend)(settings, run_revisions=run_revisions)
