"""The catalog digest stands in for a schema read only while it is a superset of it:
every kind of change the schema description sees changes the digest too, on every
dialect; slipway's own tables and the version table do not."""

from __future__ import annotations

import pytest
from conftest import ThrowawayDB

from slipway import schema

BASE = [
    "CREATE TABLE parent (id INTEGER PRIMARY KEY, code VARCHAR(20))",
    "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER, note VARCHAR(50))",
]

# Each: statements that change what schema.describe reports.
CHANGES = {
    "column added": ["ALTER TABLE child ADD COLUMN extra INTEGER"],
    "index": ["CREATE INDEX ix_child_note ON child (note)"],
    "unique index": ["CREATE UNIQUE INDEX ux_parent_code ON parent (code)"],
    "view": ["CREATE VIEW v_parent AS SELECT id FROM parent"],
    "table": ["CREATE TABLE more_things (id INTEGER PRIMARY KEY)"],
}
NOT_SQLITE = {
    "column type": {
        "postgresql": ["ALTER TABLE child ALTER COLUMN note TYPE VARCHAR(60)"],
        "mariadb": ["ALTER TABLE child MODIFY note VARCHAR(60)"],
    },
    "nullability": {
        "postgresql": ["ALTER TABLE child ALTER COLUMN note SET NOT NULL"],
        "mariadb": ["ALTER TABLE child MODIFY note VARCHAR(50) NOT NULL"],
    },
    "default": {
        "postgresql": ["ALTER TABLE child ALTER COLUMN note SET DEFAULT 'x'"],
        "mariadb": ["ALTER TABLE child ALTER COLUMN note SET DEFAULT 'x'"],
    },
    "foreign key": {
        "postgresql": [
            "ALTER TABLE child ADD CONSTRAINT fk_parent FOREIGN KEY (parent_id) "
            "REFERENCES parent (id)"
        ],
        "mariadb": [
            "ALTER TABLE child ADD CONSTRAINT fk_parent FOREIGN KEY (parent_id) "
            "REFERENCES parent (id)"
        ],
    },
    "unique constraint": {
        "postgresql": ["ALTER TABLE parent ADD CONSTRAINT uq_code UNIQUE (code)"],
        "mariadb": ["ALTER TABLE parent ADD CONSTRAINT uq_code UNIQUE (code)"],
    },
    "trigger": {
        "postgresql": [
            "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RETURN NEW; END $$",
            "CREATE TRIGGER t_touch BEFORE UPDATE ON child FOR EACH ROW EXECUTE FUNCTION touch()",
        ],
        "mariadb": [
            "CREATE TRIGGER t_touch BEFORE UPDATE ON child FOR EACH ROW SET NEW.note = 'x'"
        ],
    },
    "enum": {"postgresql": ["CREATE TYPE mood AS ENUM ('sad', 'ok')"]},
    "sequence": {"postgresql": ["CREATE SEQUENCE counter_seq"]},
}
SQLITE_ONLY = {
    "trigger": [
        "CREATE TRIGGER t_touch AFTER UPDATE ON child BEGIN "
        "UPDATE child SET note = 'x' WHERE id = NEW.id; END"
    ],
    "column default (table rebuilt)": [
        "CREATE TABLE child_new (id INTEGER PRIMARY KEY, parent_id INTEGER, "
        "note VARCHAR(50) DEFAULT 'x')",
        "DROP TABLE child",
        "ALTER TABLE child_new RENAME TO child",
    ],
}


def _cases(dialect: str) -> list[tuple[str, list[str]]]:
    cases = list(CHANGES.items())
    if dialect == "sqlite":
        return cases + list(SQLITE_ONLY.items())
    return cases + [(k, v[dialect]) for k, v in NOT_SQLITE.items() if dialect in v]


def _read(db: ThrowawayDB) -> tuple[str | None, str]:
    with db.engine().connect() as conn:
        return schema.catalog(conn), schema.fingerprint(conn)


@pytest.mark.parametrize("db", ["postgresql", "mariadb", "sqlite"], indirect=True)
def test_each_change_the_description_sees_changes_the_digest(db: ThrowawayDB) -> None:
    dialect = db.kind
    for name, statements in _cases(dialect):
        db.execute(*[f"DROP TABLE IF EXISTS {t}" for t in ("more_things", "child", "parent")])
        for extra in (
            "DROP VIEW IF EXISTS v_parent",
            "DROP TYPE IF EXISTS mood",
            "DROP SEQUENCE IF EXISTS counter_seq",
            "DROP FUNCTION IF EXISTS touch",
        ):
            if dialect == "postgresql" or "VIEW" in extra:
                db.execute(extra)
        db.execute(*BASE)
        digest, described = _read(db)
        assert digest is not None
        db.execute(*statements)
        after, described_after = _read(db)
        assert described_after != described, f"{name}: the description did not see it"
        assert after != digest, f"{dialect}: {name} changed the schema, not the digest"
        db.execute("DROP VIEW IF EXISTS v_parent")


@pytest.mark.parametrize("db", ["postgresql", "mariadb", "sqlite"], indirect=True)
def test_slipway_tables_and_the_version_table_are_not_in_the_digest(db: ThrowawayDB) -> None:
    db.execute(*BASE)
    digest, _ = _read(db)
    db.execute(
        "CREATE TABLE slipway_history_extra (id INTEGER PRIMARY KEY)",
        "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)",
        "CREATE INDEX ix_slipway_extra ON slipway_history_extra (id)",
    )
    assert _read(db)[0] == digest
