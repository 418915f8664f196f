"""Never the wrong database: an env.py that ignores what slipway hands over and reads
DATABASE_URL itself (pydantic-settings) is pointed at the scratch copy when it aims at
the target during stairway, check and the rehearsal (and proven there), and stopped
before a statement runs whenever it aims at any third database."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ThrowawayDB, create_database, drop_database
from corpus_env import CorpusRelease, url_for


def snapshot(db: ThrowawayDB) -> tuple[object, ...]:
    return db.revision(), db.schema(), db.contents(skip_ledger=False)


def _aimed_at_target(shape: str, release: CorpusRelease) -> dict[str, str]:
    """Point this env.py shape at the target the way its deployment would: the
    environment variable its settings read, or its own ini key."""
    if shape == "custom_key":
        ini = release.ini.read_text().replace(
            "sqlite:///set-by-the-deployment.db", release.db.url_str.replace("%", "%%")
        )
        release.ini.write_text(ini)
        return {}
    if shape == "async_env":
        return {"DATABASE_URL": url_for(release.db, use_async=True)}
    return {"DATABASE_URL": release.db.url_str}


@pytest.mark.parametrize("shape", ["settings_env", "async_env", "custom_key", "module_engine"])
def test_env_py_reading_its_own_url_is_stairwayed_and_rehearsed_on_scratch(
    shape: str, db: ThrowawayDB, tmp_path: Path
) -> None:
    """stairway and the rehearsal run this env.py as it is: its connections to the
    target go to the scratch copy; the target is unchanged byte for byte until the
    release itself applies."""
    release = CorpusRelease.make(tmp_path, shape, db, rehearse="always")
    release.to_middle_with_rows("c03")
    env = _aimed_at_target(shape, release)
    before = snapshot(db)

    stairway = release("stairway", env=env)

    assert stairway.code == 0, stairway.stderr
    assert snapshot(db) == before

    result = release("release", env=env)

    assert result.code == 0, result.stderr
    assert [s["status"] for s in result.report["steps"] if s["name"] == "rehearse"] == ["ok"]
    rehearsal = Path(result.report["sql"]["rehearsal"]["path"]).read_text()
    assert "UPDATE users SET display_name" in rehearsal  # c04 ran on the copy first
    assert db.revision() == "c31"


def test_check_runs_on_scratch_whatever_url_env_py_reads(db: ThrowawayDB, tmp_path: Path) -> None:
    release = CorpusRelease.make(tmp_path, "settings_env", db)
    release.to_middle_with_rows("c03")
    before = snapshot(db)

    check = release("check", env={"DATABASE_URL": db.url_str})

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


SHAPES = [
    "handed_over",
    "own_engine",
    "settings_env",
    "async_env",
    "env_placed",
    "custom_key",
    "module_engine",
]


@pytest.mark.parametrize("shape", SHAPES)
def test_every_corpus_env_py_is_stairwayed_on_scratch_with_the_target_unchanged(
    shape: str, lite: ThrowawayDB, tmp_path: Path
) -> None:
    """Each env.py shape of tests/corpus, aimed at the target as its deployment aims it:
    the stairway runs on its scratch copy; the target keeps its schema and rows, byte
    for byte."""
    release = CorpusRelease.make(tmp_path, shape, lite, use_async=shape == "async_env")
    release.to_middle_with_rows("c03")
    aimed = ("settings_env", "custom_key", "module_engine")
    env = _aimed_at_target(shape, release) if shape in aimed else {}
    before = snapshot(lite)
    database = Path(str(lite.url.database))
    files = sorted(p.name for p in database.parent.glob(database.name + "*"))

    stairway = release("stairway", env=env)

    assert stairway.code == 0, stairway.stderr
    assert snapshot(lite) == before
    # no journal or copy of the target left beside it
    assert sorted(p.name for p in database.parent.glob(database.name + "*")) == files


def test_the_same_server_named_otherwise_is_still_pointed_at_scratch(
    db: ThrowawayDB, tmp_path: Path
) -> None:
    """env.py's own URL names the target's server as `localhost` without a port, where
    slipway was given 127.0.0.1 and the port: the same database, redirected all the same."""
    if db.kind == "sqlite":
        pytest.skip("a file has no server")
    release = CorpusRelease.make(tmp_path, "settings_env", db)
    release.to_middle_with_rows("c03")
    assert db.url.host == "127.0.0.1" and db.url.port, db.url
    other_name = db.url._replace(host="localhost", port=None).render_as_string(hide_password=False)
    assert ":" not in other_name.split("@")[1], other_name
    before = snapshot(db)

    stairway = release("stairway", env={"DATABASE_URL": other_name})

    assert stairway.code == 0, stairway.stderr
    assert snapshot(db) == before
