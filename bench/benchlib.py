"""What the benchmarks share: a scratch PostgreSQL database, the results files, pyplot."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa

PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
MARIADB_ADMIN = os.environ.get("BENCH_MARIADB_ADMIN", "mysql+pymysql://root@127.0.0.1:3306/mysql")
ADMIN = {"postgresql": PG_ADMIN, "mariadb": MARIADB_ADMIN}


@contextmanager
def scratch_database(dialect: str = "postgresql") -> Iterator[str]:
    """The URL of a new database on the local server (postgresql or mariadb), dropped
    afterwards."""
    admin = sa.create_engine(ADMIN[dialect], isolation_level="AUTOCOMMIT")
    name = f"bench_{secrets.token_hex(4)}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        force = " WITH (FORCE)" if dialect == "postgresql" else ""
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}{force}")
        admin.dispose()


def command_env(**extra: str) -> dict[str, str]:
    """The environment of a measured command: this one, with Python's default of caching
    bytecode (a shell that sets PYTHONDONTWRITEBYTECODE would have every run compile
    slipway, alembic's revision files and the benchmark's env.py anew, where an install
    by pip and a project in use have theirs compiled), and ``extra``. slipway's own
    modules are compiled first, as pip does when it installs a wheel."""
    import compileall

    import slipway

    compileall.compile_dir(str(Path(slipway.__file__).parent), quiet=1)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, **extra}


def write_results(out: Path, name: str, data: object, lines: list[str]) -> None:
    """``name``.json and ``name``.md (the table, also printed) in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(data, indent=1) + "\n")
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def pyplot() -> ModuleType | None:
    """matplotlib's pyplot for PNG files, or None where matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt
