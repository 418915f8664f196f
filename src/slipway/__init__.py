"""slipway: the guarded database release for Alembic projects.

A library of step functions (``preflight``, ``backup``, ``render``, ``apply``,
``verify``, ``rollback``, ``release``) over a :class:`~slipway.config.Settings`
object; the ``slipway`` CLI is a thin layer on top.
"""

from __future__ import annotations

__version__ = "0.1.0"
