"""Runtime settings of the storefront service, read from the environment, and from the
project's pyproject.toml in development.

``[tool.storefront]`` in pyproject.toml holds ``DEV``: true on a developer's checkout
makes the console log DEBUG. An installed release has no pyproject.toml beside its
code, so it logs at the configured level (``STOREFRONT_LOG_LEVEL``, default INFO)
whatever the checkout it was built from said.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DATABASE_URL_ENV = "STOREFRONT_DATABASE_URL"
RELEASE_ENV = "STOREFRONT_RELEASE"
LOG_LEVEL_ENV = "STOREFRONT_LOG_LEVEL"
DEFAULT_DATABASE_URL = "sqlite:///var/storefront.db"


def project_settings(start: Path | None = None) -> dict[str, Any]:
    """``[tool.storefront]`` of the pyproject.toml of the checkout this code runs from
    (the nearest one above the package whose project is storefront); {} when installed."""
    here = (start or Path(__file__)).resolve()
    for folder in here.parents:
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
            if data.get("project", {}).get("name") == "storefront":
                found: dict[str, Any] = data.get("tool", {}).get("storefront", {})
                return found
    return {}


@dataclass(frozen=True)
class Settings:
    database_url: str
    dev: bool = False
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, project: dict[str, Any] | None = None) -> Settings:
        tool = project_settings() if project is None else project
        dev = tool.get("DEV", False)
        if not isinstance(dev, bool):
            raise ValueError(f"[tool.storefront] DEV must be true or false, not {dev!r}")
        level = os.environ.get(LOG_LEVEL_ENV, str(tool.get("log_level", "INFO"))).upper()
        if not isinstance(logging.getLevelName(level), int):
            raise ValueError(f"{LOG_LEVEL_ENV}={level!r} is not a logging level")
        return cls(
            database_url=os.environ.get(DATABASE_URL_ENV, DEFAULT_DATABASE_URL),
            dev=dev,
            log_level=level,
        )

    @property
    def console_level(self) -> int:
        """DEBUG in development, the configured level otherwise."""
        return logging.DEBUG if self.dev else int(logging.getLevelName(self.log_level))


def configure_logging(settings: Settings) -> logging.Logger:
    """The service's console log (stderr) at the settings' level."""
    logger = logging.getLogger("storefront")
    logger.setLevel(settings.console_level)
    if not any(getattr(h, "_storefront", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        handler._storefront = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    for each in logger.handlers:
        each.setLevel(settings.console_level)
    logger.debug("console log at DEBUG: DEV is true in pyproject.toml (development)")
    return logger
