"""Tortoise ORM's configuration: the database from DATABASE_URL, as the service runs."""

import os

TORTOISE_ORM = {
    "connections": {"default": os.environ.get("DATABASE_URL", "sqlite://tasklist.sqlite3")},
    "apps": {
        "models": {
            "models": ["tasklist.models", "aerich.models"],
            "default_connection": "default",
        },
    },
}
