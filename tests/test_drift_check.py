"""`slipway db check` compares the models with a throwaway database upgraded to head:
the storefront's models match; a model the migrations never built is named."""

from __future__ import annotations

from conftest import Project, ThrowawayDB, slipway

ENV_WITH_MODELS = """
import sqlalchemy as sa
from alembic import context

metadata = sa.MetaData()
sa.Table("things", metadata, sa.Column("id", sa.Integer, primary_key=True),
         sa.Column("name", sa.String(50), nullable=True),
         sa.Column("colour", sa.String(20), nullable=True))  # no revision adds this
config = context.config
context.configure(connection=config.attributes["connection"], target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
"""


def test_storefront_models_match_its_migrations(db: ThrowawayDB) -> None:
    result = slipway(
        "db", "check", "--env", "prod", "--json", env={"STOREFRONT_DATABASE_URL": db.url_str}
    )

    assert result.code == 0, result.stderr
    assert result.report["data"]["drift"] == []
    assert db.tables() == []


def test_a_model_change_without_a_revision_is_named(db: ThrowawayDB, project: Project) -> None:
    (project.root / "env.py").write_text(ENV_WITH_MODELS)
    project.add(
        "r1",
        'op.create_table("things", sa.Column("id", sa.Integer, primary_key=True), '
        'sa.Column("name", sa.String(50), nullable=True))',
        'op.drop_table("things")',
    )

    result = slipway(
        "db",
        "check",
        "--env",
        "prod",
        "--json",
        "--alembic-ini",
        str(project.ini),
        env={"STOREFRONT_DATABASE_URL": db.url_str},
    )

    assert result.code == 3, result.stderr
    assert result.report["error"]["check"] == "drift"
    assert any("add_column" in d and "colour" in d for d in result.report["data"]["drift"])
    assert "colour" in result.stderr
    assert db.tables() == []
