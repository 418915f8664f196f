"""slipway releases Alembic projects written the way other teams write them (tests/corpus):
33 revisions with data migrations that read rows in Python, SQLite batch mode, a
PostgreSQL enum, a CONCURRENTLY index in autocommit_block, two branches, a depends_on
and a merge; env.py files that use the handed-over connection or build their own engine.
Each is released from empty and from a middle revision with rows, stairwayed, and given
a failing revision on top, which rolls back with the rows unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ThrowawayDB, alembic_upgrade
from corpus_env import HEAD, LIVE_ON_EVERY_DIALECT, CorpusRelease, add_revision

CASES = [
    ("handed_over", "sqlite"),
    ("handed_over", "postgresql"),
    ("handed_over", "mariadb"),
    ("own_engine", "postgresql"),
]


@pytest.fixture(params=CASES, ids=[f"{p}-{d}" for p, d in CASES])
def case(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    return request.param  # type: ignore[no-any-return]


def run_corpus_project(tmp_path: Path, project: str, make_db: object, *, use_async: bool) -> None:
    """The whole promise for one project on one database kind (shared with the async file)."""
    from conftest import create_database, drop_database

    kind = make_db
    assert isinstance(kind, str)
    empty, middle = create_database(kind, tmp_path), create_database(kind, tmp_path)
    try:
        _from_empty(tmp_path / "a", project, empty, use_async)
        _from_middle_then_failing_revision(tmp_path / "b", project, middle, use_async)
    finally:
        drop_database(empty)
        drop_database(middle)


def _from_empty(tmp: Path, project: str, db: ThrowawayDB, use_async: bool) -> None:
    tmp.mkdir()
    release = CorpusRelease.make(tmp, project, db, use_async=use_async)
    result = release("release")
    assert result.code == 0, result.stderr
    assert result.report["outcome"] == "applied"
    assert db.revision() == HEAD
    # c01's row went through both data migrations that read rows in Python
    assert db.scalar("SELECT display_name FROM users WHERE id = 1") == "Ada Lovelace"

    stairway = release("stairway")
    assert stairway.code == 0, stairway.stderr
    assert db.revision() == HEAD  # the target was not the stairway's database


def _from_middle_then_failing_revision(
    tmp: Path, project: str, db: ThrowawayDB, use_async: bool
) -> None:
    tmp.mkdir()
    release = CorpusRelease.make(tmp, project, db, use_async=use_async)
    release.to_middle_with_rows("c03")

    result = release("release")

    assert result.code == 0, result.stderr
    report = result.report
    assert db.revision() == HEAD
    with db.engine().connect() as conn:
        shown = dict(conn.exec_driver_sql("SELECT id, display_name FROM users").all())
    assert shown == {1: "Ada Lovelace", 2: "Grace Hopper", 3: "Alan Turing"}
    assert db.scalar("SELECT COUNT(*) FROM orders WHERE status = 'new'") == 3
    assert db.scalar("SELECT order_count FROM users WHERE id = 2") == 2
    # reviewers read what really ran: the data migration's UPDATEs, with their values
    assert set(report["data"]["live_only"]) >= LIVE_ON_EVERY_DIALECT
    upgrade_sql = Path(report["sql"]["upgrade"]["path"]).read_text()
    assert "revision c04" in upgrade_sql and "live-only" in upgrade_sql
    for kind in ("rehearsal", "applied"):
        text = Path(report["sql"][kind]["path"]).read_text()
        assert "UPDATE users SET display_name" in text, kind
        assert "Grace Hopper" in text, kind
    assert [s["status"] for s in report["steps"] if s["name"] == "rehearse"] == ["ok"]

    rows = db.contents()
    add_revision(
        release.corpus,
        "c32",
        HEAD,
        'op.add_column("products", sa.Column("c32", sa.Integer))',
        'op.drop_column("products", "c32")',
    )
    add_revision(release.corpus, "c33", "c32", 'op.execute("UPDATE no_such_table SET x = 1")')

    failed = release("release")

    assert failed.code == 4, failed.stderr
    assert failed.report["outcome"] == "rolled_back"
    assert db.revision() == HEAD
    assert db.contents() == rows


def test_corpus_project_is_released_stairwayed_and_rolled_back(
    case: tuple[str, str], tmp_path: Path
) -> None:
    project, kind = case
    run_corpus_project(tmp_path, project, kind, use_async=False)


def test_failed_rehearsal_refuses_the_release_with_the_target_untouched(
    db: ThrowawayDB, tmp_path: Path
) -> None:
    release = CorpusRelease.make(tmp_path, "handed_over", db)
    release.to_middle_with_rows("c03")
    rows, schema = db.contents(), db.schema()
    add_revision(release.corpus, "c32", HEAD, 'op.execute("UPDATE no_such_table SET x = 1")')

    refused = release("release")

    assert refused.code == 3, refused.stderr
    assert refused.report["error"]["check"] == "rehearsal"
    assert "c32" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert (db.revision(), db.contents(), db.schema()) == ("c03", rows, schema)
    rehearsal = Path(refused.report["sql"]["rehearsal"]["path"]).read_text()
    assert "UPDATE users SET display_name" in rehearsal


def test_concurrent_index_in_autocommit_block_applies_and_a_later_failure_rolls_back(
    pg: ThrowawayDB, tmp_path: Path
) -> None:
    # no rehearsal: the failure must happen on the target, after c09 committed its index
    release = CorpusRelease.make(tmp_path, "handed_over", pg, rehearse="never")
    release.to_middle_with_rows("c03")
    alembic_upgrade(pg, release.corpus / "handed_over" / "alembic.ini", "c08")
    add_revision(release.corpus, "c32", HEAD, 'op.execute("UPDATE no_such_table SET x = 1")')

    failed = release("release")

    assert failed.code == 4, failed.stderr
    assert pg.revision() == "c08"
    assert "ix_orders_created_at" not in str(pg.schema())
    (release.corpus / "history" / "versions" / "99_c32.py").unlink()
    assert release("release").code == 0
    assert pg.scalar(
        "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE c.relname = 'ix_orders_created_at'"
    )
