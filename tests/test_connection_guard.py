"""Never the wrong database: an env.py that ignores what slipway hands over and reads
DATABASE_URL itself (pydantic-settings) is pointed at the scratch copy when it aims at
the target during stairway, check and the rehearsal (and proven there), and stopped
before a statement runs whenever it aims at any third database."""

from __future__ import annotations

from pathlib import Path

from conftest import ThrowawayDB, create_database, drop_database
from corpus_env import CorpusRelease


def snapshot(db: ThrowawayDB) -> tuple[object, ...]:
    return db.revision(), db.schema(), db.contents(skip_ledger=False)


def test_stairway_and_check_run_on_scratch_whatever_url_env_py_reads(
    db: ThrowawayDB, tmp_path: Path
) -> None:
    release = CorpusRelease.make(tmp_path, "settings_env", db)
    release.to_middle_with_rows("c03")
    before = snapshot(db)

    stairway = release("stairway", env={"DATABASE_URL": db.url_str})
    check = release("check", env={"DATABASE_URL": db.url_str})

    assert stairway.code == 0, stairway.stderr
    # check upgraded the scratch copy through this env.py; it has no models to compare
    assert check.code == 2 and "target_metadata" in check.stderr, check.stderr
    assert snapshot(db) == before


def test_stairway_refuses_an_env_py_that_reaches_a_third_database(
    db: ThrowawayDB, tmp_path: Path
) -> None:
    other = create_database(db.kind, tmp_path)
    try:
        other.execute("CREATE TABLE keep (id INTEGER PRIMARY KEY)")
        release = CorpusRelease.make(tmp_path, "settings_env", db)
        release.to_middle_with_rows("c03")
        before, other_before = snapshot(db), snapshot(other)

        result = release("stairway", env={"DATABASE_URL": other.url_str})

        assert result.code == 2, result.stderr
        line = result.stderr.strip()
        assert len(line.splitlines()) == 1 and "env.py connected to" in line, line
        assert snapshot(db) == before
        assert snapshot(other) == other_before
    finally:
        drop_database(other)


def test_release_of_one_database_never_migrates_the_one_env_py_reaches(
    db: ThrowawayDB, tmp_path: Path
) -> None:
    other = create_database(db.kind, tmp_path / "other" if db.kind == "sqlite" else tmp_path)
    try:
        if db.kind == "sqlite":
            (tmp_path / "other").mkdir(exist_ok=True)
            other.execute("CREATE TABLE keep (id INTEGER PRIMARY KEY)")
        release = CorpusRelease.make(tmp_path, "settings_env", db)
        release.to_middle_with_rows("c03")
        before, other_before = snapshot(db), other.tables()

        result = release("release", env={"DATABASE_URL": other.url_str})

        assert result.code == 2, result.stderr
        assert "env.py connected to" in result.stderr
        assert snapshot(db) == before
        assert other.tables() == other_before
    finally:
        drop_database(other)


def test_env_py_reading_its_own_url_is_rehearsed_on_the_scratch_copy(
    db: ThrowawayDB, tmp_path: Path
) -> None:
    release = CorpusRelease.make(tmp_path, "settings_env", db)
    release.to_middle_with_rows("c03")
    rows = db.contents()
    # A revision that fails on the copy: the target must not see any of the run.
    (release.corpus / "history" / "versions" / "99_c32.py").write_text(
        "from alembic import op\n\nrevision = 'c32'\ndown_revision = 'c31'\n\n\n"
        "def upgrade():\n    op.execute('UPDATE no_such_table SET x = 1')\n\n\n"
        "def downgrade():\n    pass\n",
        encoding="utf-8",
    )

    refused = release("release", env={"DATABASE_URL": db.url_str})

    assert refused.code == 3, refused.stderr
    assert refused.report["error"]["check"] == "rehearsal"
    assert (db.revision(), db.contents()) == ("c03", rows)
    rehearsal = Path(refused.report["sql"]["rehearsal"]["path"]).read_text()
    assert "UPDATE users SET display_name" in rehearsal  # c04 ran, on the copy

    (release.corpus / "history" / "versions" / "99_c32.py").unlink()
    result = release("release", env={"DATABASE_URL": db.url_str})

    assert result.code == 0, result.stderr
    assert [s["status"] for s in result.report["steps"] if s["name"] == "rehearse"] == ["ok"]
    assert db.revision() == "c31"
