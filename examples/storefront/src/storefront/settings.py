"""Runtime settings of the storefront service, read from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass

DATABASE_URL_ENV = "STOREFRONT_DATABASE_URL"
RELEASE_ENV = "STOREFRONT_RELEASE"
DEFAULT_DATABASE_URL = "sqlite:///var/storefront.db"


@dataclass(frozen=True)
class Settings:
    database_url: str

    @classmethod
    def from_env(cls) -> Settings:
        return cls(database_url=os.environ.get(DATABASE_URL_ENV, DEFAULT_DATABASE_URL))
