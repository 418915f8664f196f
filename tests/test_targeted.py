"""backup: targeted — the rows of the tables a release puts at risk, the schema of all.

What is at risk is read from the rendered upgrade SQL; what cannot be read falls back
to a full backup. A release whose downgrade fails is undone table by table in one
transaction: the tables at risk come back with their rows, the schema of the rest as it
was, and the application's writes to the other tables during the release stay.
"""

from __future__ import annotations

import shlex
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import Project, Release, ThrowawayDB, held, slipway, throwaway, write_config

from slipway.targeted import read


def _read(*statements: str) -> tuple[set[str], list[str]]:
    reading = read({"r": ";\n".join(statements) + ";"}, "alembic_version")
    return reading.tables, reading.unreadable


@pytest.mark.parametrize(
    ("statements", "tables"),
    [
        (["UPDATE things SET name = 'x'"], {"things"}),
        (["DELETE FROM public.things WHERE id > 3"], {"things"}),
        (["TRUNCATE TABLE a, b RESTART IDENTITY"], {"a", "b"}),
        (['DROP TABLE IF EXISTS "Orders", things CASCADE'], {"Orders", "things"}),
        (["ALTER TABLE things DROP COLUMN label"], {"things"}),
        (["ALTER TABLE things ALTER COLUMN name TYPE VARCHAR(10)"], {"things"}),
        (["ALTER TABLE things RENAME TO stuff"], {"things"}),
        (["ALTER TABLE things RENAME COLUMN name TO title"], {"things"}),
        (["ALTER TABLE things MODIFY name VARCHAR(10) NOT NULL"], {"things"}),
        (["UPDATE `order` SET `desc` = 'x'"], {"order"}),
        (["INSERT INTO things (id) VALUES (1)"], {"things"}),
        # made by the release itself: nothing of before is at risk
        (["CREATE TABLE audit (id INT)", "INSERT INTO audit VALUES (1)"], set()),
        (
            [
                "ALTER TABLE things ADD COLUMN label VARCHAR(80)",
                "ALTER TABLE things ALTER COLUMN label SET NOT NULL",
                "CREATE INDEX ix ON things (label)",
                "ALTER TABLE things ADD CONSTRAINT uq UNIQUE (label)",
                "ALTER TABLE things DROP FOREIGN KEY fk_1, DROP INDEX ix_2",
                "ALTER TABLE things DROP CONSTRAINT ck_3",
                "CREATE VIEW v AS SELECT 1",
                "UPDATE alembic_version SET version_num='r2' WHERE version_num = 'r1'",
            ],
            set(),
        ),
    ],
)
def test_the_tables_at_risk_are_read_from_the_sql(statements: list[str], tables: set[str]) -> None:
    found, unreadable = _read(*statements)
    assert (found, unreadable) == (tables, [])


@pytest.mark.parametrize(
    "statement",
    [
        "DO $$ BEGIN DELETE FROM things; END $$",
        "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql",
        "ALTER TYPE mood ADD VALUE 'meh'",
        "DROP TYPE mood CASCADE",
        "SELECT purge_old_rows()",
        "ALTER TABLE things SET SCHEMA archive",
        "UPDATE archive.things SET name = 'x'",
        "DROP TABLE things, archive.old_things",
    ],
)
def test_what_cannot_be_read_is_named(statement: str) -> None:
    _, unreadable = _read("UPDATE things SET name = 'x'", statement)
    assert len(unreadable) == 1 and unreadable[0].startswith("revision r: ")


def test_a_live_only_revision_cannot_be_read() -> None:
    reading = read({"r1": "UPDATE a SET b = 1;", "r2": None}, "alembic_version")
    assert reading.unreadable == ["revision r2: its upgrade only runs live"]


def _history(project: Project) -> None:
    project.add(
        "r1",
        """
        t = op.create_table("things", sa.Column("id", sa.Integer, primary_key=True),
                            sa.Column("name", sa.String(50), nullable=False))
        op.bulk_insert(t, [{"id": i, "name": f"thing {i}"} for i in range(1, 6)])
        op.create_table("orders", sa.Column("id", sa.Integer, primary_key=True),
                        sa.Column("thing_id", sa.Integer, sa.ForeignKey("things.id")),
                        sa.Column("note", sa.String(50), server_default="new"))
        op.create_index("ix_orders_thing", "orders", ["thing_id"])
        op.execute("INSERT INTO orders (thing_id, note) VALUES (1, 'first'), (2, 'second')")
        op.execute("CREATE VIEW thing_names AS SELECT name FROM things")
        s = op.create_table("settings", sa.Column("id", sa.Integer, primary_key=True),
                            sa.Column("v", sa.Integer))
        op.bulk_insert(s, [{"id": 1, "v": 1}])
        """,
        """
        op.drop_table("settings")
        op.execute("DROP VIEW thing_names")
        op.drop_table("orders")
        op.drop_table("things")
        """,
    )
    project.add(
        "r2",
        """
        op.add_column("things", sa.Column("label", sa.String(80), nullable=True))
        op.execute("UPDATE things SET label = name, name = 'renamed'")
        op.add_column("orders", sa.Column("extra", sa.Integer, nullable=True))
        op.create_index("ix_orders_extra", "orders", ["extra"])
        op.alter_column("orders", "note", server_default="changed")
        a = op.create_table("audit", sa.Column("id", sa.Integer, primary_key=True))
        op.bulk_insert(a, [{"id": 1}])
        """,
        'raise RuntimeError("this downgrade cannot run")',
    )
    # Renders, and fails on the database: every row breaks the check.
    project.add("r3", 'op.execute("ALTER TABLE things ADD CONSTRAINT neg CHECK (id < 0)")')


def _without_r3(project: Project) -> None:
    (project.root / "versions" / "r3.py").unlink()
    project.revisions.remove("r3")


class Writer:
    """The application: inserts into ``orders`` every few milliseconds, and keeps the id
    of every insert that committed."""

    def __init__(self, db: ThrowawayDB) -> None:
        self.engine = sa.create_engine(db.url, poolclass=sa.pool.NullPool)
        self.committed: list[int] = []
        self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            try:
                with self.engine.begin() as conn:
                    if conn.dialect.name == "postgresql":
                        conn.exec_driver_sql("SET lock_timeout = '20s'")
                    else:
                        conn.exec_driver_sql("SET SESSION lock_wait_timeout = 20")
                    # No thing: a foreign key check on things would wait for the
                    # release's lock on things while holding orders, which the release
                    # needs next (a deadlock the server breaks by failing either).
                    new = conn.exec_driver_sql(
                        f"INSERT INTO orders (note) VALUES ('app {n}') RETURNING id"
                    ).scalar_one()
                self.committed.append(new)
            except sa.exc.DBAPIError:
                self.failed += 1
            time.sleep(0.01)

    def __enter__(self) -> Writer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)
        self.engine.dispose()


@pytest.fixture(params=["postgresql", "mariadb"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ThrowawayDB]:
    yield from throwaway(request.param, tmp_path)


def test_a_failed_rollback_restores_the_tables_at_risk_and_keeps_the_applications_writes(
    server: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    pg = server
    _history(project)
    # r3 fails wherever it runs: a rehearsal would refuse it before the target.
    config = write_config(tmp_path, {"backup": "targeted", "rehearse": "never"})
    release = Release(pg, project.ini, config)
    first = release("release", "--to", "r1")
    assert first.code == 0, first.stderr
    schema_before = pg.schema()
    things_before = pg.contents()["things"]

    with Writer(pg) as app:
        time.sleep(0.3)
        during = len(app.committed)
        failed = release()
        time.sleep(0.3)
    written = set(app.committed)

    assert failed.code == 5, failed.stderr
    report = failed.report
    assert report["outcome"] == "restored"
    assert report["data"]["targeted"]["tables"] == ["things"]
    assert report["backup"]["path"].endswith(".tables")
    assert pg.revision() == "r1"
    assert pg.schema() == schema_before
    assert pg.contents()["things"] == things_before
    assert "audit" not in pg.tables()
    # Every write the application committed, before, during and after the undo, is there.
    assert len(written) > during + 5, "the application wrote nothing during the release"
    with pg.engine().connect() as conn:
        kept = set(conn.exec_driver_sql("SELECT id FROM orders").scalars())
    assert written <= kept
    assert kept - written == {1, 2}  # r1's own rows
    assert pg.scalar("SELECT note FROM orders WHERE id = 1") == "first"
    # The restored table's view, default and foreign key are back, and work.
    assert pg.scalar("SELECT count(*) FROM thing_names") == 5
    pg.execute("INSERT INTO orders (thing_id) VALUES (3)")
    assert pg.scalar("SELECT note FROM orders ORDER BY id DESC LIMIT 1") == "new"
    with pytest.raises(sa.exc.IntegrityError):
        pg.execute("INSERT INTO orders (thing_id) VALUES (99)")
    pg.dispose()


def test_sql_that_cannot_be_read_takes_a_full_backup(
    pg: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    _history(project)
    project.add("r4", "op.execute(\"DO $$ BEGIN UPDATE orders SET note = 'x'; END $$\")")
    release = Release(pg, project.ini, write_config(tmp_path, {"backup": "targeted"}))
    assert release("release", "--to", "r1").code == 0
    _without_r3(project)
    (project.root / "versions" / "r4.py").write_text(
        (project.root / "versions" / "r4.py").read_text().replace("'r3'", "'r2'")
    )

    done = release()

    assert done.code == 0, done.stderr
    backup = next(s for s in done.report["steps"] if s["name"] == "backup")
    assert backup["detail"].startswith("full instead of targeted (revision r4: cannot read 'DO $$")
    assert done.report["backup"]["path"].endswith(".dump")
    pg.dispose()


def test_targeted_on_sqlite_is_bad_input(
    lite: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    _history(project)
    release = Release(lite, project.ini, write_config(tmp_path, {"backup": "targeted"}))

    refused = release()

    assert refused.code == 2, refused.stderr
    assert "backup: targeted is for PostgreSQL and MariaDB/MySQL" in refused.stderr
    assert lite.tables() == []


def test_the_rehearsal_runs_on_the_targeted_copy(
    pg: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    _history(project)
    _without_r3(project)
    config = write_config(tmp_path, {"backup": "targeted", "rehearse": "always"})
    release = Release(pg, project.ini, config)
    assert release("release", "--to", "r1").code == 0

    done = release()

    assert done.code == 0, done.stderr
    rehearsal = done.report["data"]["rehearsal"]
    assert rehearsal["copy"] == "targeted"
    # r2's downgrade raised on the copy (things' rows were there for r2 to rewrite):
    # the release goes on and would roll back by restoring the targeted backup.
    assert rehearsal["rolls_back_by_restore"]["revision"] == "r2"
    assert pg.revision() == "r2"
    assert pg.scalar("SELECT count(*) FROM things WHERE name = 'renamed'") == 5
    pg.dispose()


def test_dropped_tables_and_columns_come_back_with_their_rows(
    server: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    db = server
    project.add(
        "r1",
        """
        t = op.create_table("things", sa.Column("id", sa.Integer, primary_key=True),
                            sa.Column("name", sa.String(50)), sa.Column("size", sa.Integer))
        op.bulk_insert(t, [{"name": f"thing {i}", "size": i} for i in range(1, 51)])
        g = op.create_table("tags", sa.Column("id", sa.Integer, primary_key=True),
                            sa.Column("thing_id", sa.Integer, sa.ForeignKey("things.id")))
        op.bulk_insert(g, [{"id": i, "thing_id": i} for i in range(1, 21)])
        n = op.create_table("notes", sa.Column("id", sa.Integer, primary_key=True),
                            sa.Column("tag_id", sa.Integer,
                                      sa.ForeignKey("tags.id", name="notes_tag_fk")))
        op.bulk_insert(n, [{"id": i, "tag_id": i} for i in range(1, 11)])
        if op.get_bind().dialect.name == "postgresql":
            op.execute("GRANT SELECT ON tags TO PUBLIC")
        """,
    )
    project.add(
        "r2",
        """
        op.drop_constraint("notes_tag_fk", "notes", type_="foreignkey")
        op.drop_table("tags")
        op.drop_column("things", "size")
        mood = sa.Enum("happy", "sad", name="mood")
        if op.get_bind().dialect.name == "postgresql":
            mood.create(op.get_bind())
        op.add_column("notes", sa.Column("mood", mood, nullable=True))
        op.create_unique_constraint("uq_notes_mood", "notes", ["id", "mood"])
        op.create_foreign_key("notes_thing_fk", "notes", "things", ["id"], ["id"])
        """,
        'raise RuntimeError("this downgrade cannot run")',
    )
    project.add("r3", 'op.execute("ALTER TABLE things ADD CONSTRAINT neg CHECK (id < 0)")')
    config = write_config(tmp_path, {"backup": "targeted", "rehearse": "never"})
    release = Release(db, project.ini, config)
    assert release("release", "--to", "r1").code == 0
    before = (db.schema(), db.contents())
    grants = (
        "SELECT count(*) FROM information_schema.role_table_grants "
        "WHERE grantee = 'PUBLIC' AND table_schema = 'public'"
    )
    granted = db.scalar(grants) if db.kind == "postgresql" else 1

    failed = release()

    assert failed.code == 5, failed.stderr
    assert sorted(failed.report["data"]["targeted"]["tables"]) == ["tags", "things"]
    assert (db.schema(), db.contents()) == before
    assert db.revision() == "r1"
    if db.kind == "postgresql":
        assert db.scalar(grants) == granted == 1
    # The key goes on where it was, and the foreign keys hold again.
    db.execute("INSERT INTO things (name) VALUES ('new')")
    assert db.scalar("SELECT max(id) FROM things") == 51
    with pytest.raises(sa.exc.IntegrityError):
        db.execute("INSERT INTO notes (id, tag_id) VALUES (99, 99)")
    db.dispose()


def test_an_undo_that_cannot_get_its_locks_changes_nothing_and_names_the_restore(
    server: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    db = server
    _history(project)
    _without_r3(project)
    # r3 rewrites settings, and waits for the application's row lock until it gives up.
    project.add("r3", 'op.execute("UPDATE settings SET v = 3")')
    config = write_config(
        tmp_path, {"backup": "targeted", "rehearse": "never", "lock_timeouts_s": [1]}
    )
    release = Release(db, project.ini, config)
    assert release("release", "--to", "r1").code == 0
    before = (db.schema(), db.contents())

    with held(db, "SELECT * FROM settings WHERE id = 1 FOR UPDATE"):
        failed = release()
        assert failed.code == 6, failed.stderr
        assert failed.report["outcome"] == "needs_attention"
        assert sorted(failed.report["data"]["targeted"]["tables"]) == ["settings", "things"]
        restore = next(s for s in failed.report["steps"] if s["name"] == "restore")
        assert restore["status"] == "failed" and "gave up waiting" in restore["detail"]
        # Nothing of the undo happened: the database is as the failed rollback left it.
        assert db.revision() == "r2"
        assert "audit" in db.tables()
    command = failed.report["next_command"]
    assert command.startswith("slipway db restore --backup ") and ".tables --yes" in command

    done = slipway(*shlex.split(command)[1:], "--json", env={"TEST_DB_URL": db.url_str})

    assert done.code == 0, done.stderr
    assert db.revision() == "r1"
    assert (db.schema(), db.contents()) == before
    db.dispose()


def test_a_staged_release_backs_up_and_restores_the_tables_at_risk(
    pg: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    """Steps as separate processes (as the Ansible role runs them): the backup step
    reads what is at risk itself, and the rollback of the run restores it."""
    _history(project)
    config = write_config(tmp_path, {"backup": "targeted", "rehearse": "never"})
    step = Release(pg, project.ini, config)
    assert step("release", "--to", "r1").code == 0
    before = (pg.schema(), pg.contents())

    run_id = step("preflight").report["run_id"]
    for name in ("claim", "backup", "render"):
        result = step(name, "--run-id", run_id)
        assert result.code == 0, (name, result.stderr)
    assert step("apply", "--run-id", run_id).code == 6
    pg.execute("INSERT INTO orders (thing_id, note) VALUES (2, 'while it was down')")
    ended = step("rollback", "--run-id", run_id)

    assert ended.code == 5, ended.stderr
    assert ended.report["backup"]["path"].endswith(".tables")
    assert pg.revision() == "r1"
    assert pg.schema() == before[0]
    assert pg.contents()["things"] == before[1]["things"]
    assert pg.scalar("SELECT count(*) FROM orders WHERE note = 'while it was down'") == 1
    pg.dispose()


def test_a_partitioned_table_at_risk_comes_back_with_every_partitions_rows(
    pg: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    project.add(
        "r1",
        """
        op.execute("CREATE TABLE readings (id int, at date NOT NULL, v int) "
                   "PARTITION BY RANGE (at)")
        for year in (2025, 2026):
            op.execute(f"CREATE TABLE readings_{year} PARTITION OF readings "
                       f"FOR VALUES FROM ('{year}-01-01') TO ('{year + 1}-01-01')")
        op.execute("CREATE INDEX ix_readings_at ON readings (at)")
        op.execute("INSERT INTO readings SELECT i, DATE '2025-06-01' + i, i "
                   "FROM generate_series(1, 400) i")
        """,
    )
    project.add(
        "r2",
        'op.execute("UPDATE readings SET v = -v")',
        'raise RuntimeError("this downgrade cannot run")',
    )
    project.add("r3", 'op.execute("ALTER TABLE readings ADD CONSTRAINT neg CHECK (v > 0)")')
    config = write_config(tmp_path, {"backup": "targeted", "rehearse": "never"})
    release = Release(pg, project.ini, config)
    assert release("release", "--to", "r1").code == 0
    before = (pg.schema(), pg.contents())

    failed = release()

    assert failed.code == 5, failed.stderr
    assert failed.report["data"]["targeted"]["tables"] == ["readings"]
    assert (pg.schema(), pg.contents()) == before
    assert pg.scalar("SELECT count(*) FROM readings WHERE v > 0") == 400
    pg.dispose()
