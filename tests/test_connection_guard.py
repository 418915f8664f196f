"""Never the wrong database: an env.py that ignores what slipway hands over and reads
DATABASE_URL itself (pydantic-settings) is stopped before a statement runs whenever it
aims anywhere but the one database the command may touch."""

from __future__ import annotations

from pathlib import Path

from conftest import ThrowawayDB, create_database, drop_database
from corpus_env import CorpusRelease


def snapshot(db: ThrowawayDB) -> tuple[object, ...]:
    return db.revision(), db.schema(), db.contents(skip_ledger=False)


def test_stairway_and_check_never_touch_the_target(db: ThrowawayDB, tmp_path: Path) -> None:
    release = CorpusRelease.make(tmp_path, "settings_env", db)
    release.to_middle_with_rows("c03")
    before = snapshot(db)

    for command in ("stairway", "check"):
        result = release(command, env={"DATABASE_URL": db.url_str})

        assert result.code == 2, (command, result.stderr)
        line = result.stderr.strip()
        assert len(line.splitlines()) == 1 and "env.py connected to" in line, line
        assert db.url.database in line and "config.attributes['connection']" in line
        assert snapshot(db) == before


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


def test_env_py_reading_the_right_url_is_released_where_it_cannot_reach_scratch(
    db: ThrowawayDB, tmp_path: Path
) -> None:
    release = CorpusRelease.make(tmp_path, "settings_env", db)
    url = {"DATABASE_URL": db.url_str}

    # The rehearsal's scratch copy is out of this env.py's reach: refused, untouched.
    refused = release("release", env=url)

    assert refused.code == 2, refused.stderr
    assert "rehearse: never" in refused.stderr
    assert db.revision() is None

    never = CorpusRelease.make(tmp_path / "never", "settings_env", db, rehearse="never")
    result = never("release", env=url)

    assert result.code == 0, result.stderr
    assert db.revision() == "c31"
