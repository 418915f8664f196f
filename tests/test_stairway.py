"""`slipway db stairway` walks every revision up, down and up again on a throwaway
database, then down to base, and fails naming the revision whose downgrade leaves
something behind. The target database is never touched."""

from __future__ import annotations

import sqlalchemy as sa
from conftest import PG_ADMIN, ROOT, Project, ThrowawayDB, slipway


def stairway(db: ThrowawayDB, ini: str) -> object:
    return slipway(
        "db",
        "stairway",
        "--env",
        "prod",
        "--json",
        "--alembic-ini",
        ini,
        env={"STOREFRONT_DATABASE_URL": db.url_str},
    )


def databases_named_like(name: str) -> set[str]:
    engine = sa.create_engine(PG_ADMIN, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT datname FROM pg_database WHERE datname LIKE :n"), {"n": f"{name}%"}
        )
        found = {r[0] for r in rows}
    engine.dispose()
    return found


def test_storefront_history_passes_the_stairway(db: ThrowawayDB) -> None:
    result = slipway(
        "db",
        "stairway",
        "--env",
        "prod",
        "--json",
        env={"STOREFRONT_DATABASE_URL": db.url_str},
    )

    assert result.code == 0, result.stderr
    steps = [s["name"] for s in result.report["steps"]]
    assert steps == [f"stairway 000{i}" for i in range(1, 7)] + ["stairway base"]
    assert all(s["status"] == "ok" for s in result.report["steps"])
    assert db.tables() == []  # the checks ran on a throwaway database, not this one
    if db.kind == "postgresql":
        assert databases_named_like(f"{db.url.database}_stairway") == set()


def test_a_downgrade_that_forgets_its_enum_type_fails_the_stairway(
    pg: ThrowawayDB, project: Project
) -> None:
    project.add(
        "r1",
        'op.create_table("things", sa.Column("id", sa.Integer, primary_key=True))',
        'op.drop_table("things")',
    )
    project.add(
        "r2",
        """
        op.create_table("moods", sa.Column("id", sa.Integer, primary_key=True),
                        sa.Column("mood", sa.Enum("happy", "sad", name="mood"), nullable=False))
        """,
        'op.drop_table("moods")',  # forgets: op.execute("DROP TYPE mood")
    )

    result = stairway(pg, str(project.ini))

    assert result.code == 3, result.stderr
    error = result.report["error"]
    assert error["check"] == "stairway"
    assert "downgrade of r2" in error["message"]
    assert "enum type" in error["message"] and "mood" in error["message"]
    assert "stairway r1" in [s["name"] for s in result.report["steps"] if s["status"] == "ok"]
    assert "enum type" in result.stderr and result.stderr.count("\n") == 1
    assert databases_named_like(f"{pg.url.database}_stairway") == set()
    assert pg.tables() == []


def test_a_downgrade_that_leaves_a_table_fails_on_every_dialect(
    db: ThrowawayDB, project: Project
) -> None:
    project.add(
        "r1",
        """
        op.create_table("things", sa.Column("id", sa.Integer, primary_key=True))
        op.create_table("audit", sa.Column("id", sa.Integer, primary_key=True))
        """,
        'op.drop_table("things")',
    )

    result = stairway(db, str(project.ini))

    assert result.code == 3, result.stderr
    assert "downgrade of r1" in result.report["error"]["message"]
    assert "table audit left behind" in result.report["error"]["message"]


def test_stairway_points_at_the_default_ini(db: ThrowawayDB) -> None:
    # alembic.ini (development) and alembic_prod.ini are the same history.
    result = stairway(db, str(ROOT / "alembic.ini"))
    assert result.code == 0, result.stderr
