"""slipway works on an Alembic project it knows nothing of: a stock env.py that opens its
own connection and reconfigures logging, pointed at with --db-url and --alembic-ini,
with no slipway.yml anywhere."""

from __future__ import annotations

from pathlib import Path

from conftest import ThrowawayDB, slipway

STOCK_ENV = """
from logging.config import fileConfig

from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name)


def run_migrations_offline():
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with connectable.connect() as connection:
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
"""

INI = """[alembic]
script_location = %(here)s/alembic
sqlalchemy.url = sqlite:///nowhere.db

[loggers]
keys = root,alembic

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console

[logger_alembic]
level = INFO
handlers =
qualname = alembic

[handler_console]
class = StreamHandler
args = (sys.stderr,)
formatter = generic

[formatter_generic]
format = %(levelname)s %(message)s
"""

REV = """
import sqlalchemy as sa
from alembic import op

revision = "{rev}"
down_revision = {down!r}


def upgrade():
    op.create_table("{table}", sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    op.drop_table("{table}")
"""


def test_stock_project_is_released_and_fully_logged(lite: ThrowawayDB, tmp_path: Path) -> None:
    proj = tmp_path / "elsewhere"
    (proj / "alembic" / "versions").mkdir(parents=True)
    (proj / "alembic" / "env.py").write_text(STOCK_ENV)
    (proj / "alembic.ini").write_text(INI)
    (proj / "alembic" / "versions" / "a1.py").write_text(REV.format(rev="a1", down=None, table="a"))
    (proj / "alembic" / "versions" / "b2.py").write_text(REV.format(rev="b2", down="a1", table="b"))
    work = tmp_path / "work"
    work.mkdir()

    result = slipway(
        "db",
        "release",
        "--db-url",
        lite.url_str,
        "--alembic-ini",
        str(proj / "alembic.ini"),
        "--json",
        cwd=work,
    )

    assert result.code == 0, result.stderr
    assert result.report["outcome"] == "applied"
    assert lite.revision() == "b2"
    assert lite.tables() == ["a", "alembic_version", "b", "slipway_checksum", "slipway_history"]
    run_log = (work / "artifacts" / result.report["run_id"] / "run.log").read_text()
    assert "one run of env.py for a1, b2" in run_log and "applied b2 in" in run_log
    assert "ended: applied" in run_log
