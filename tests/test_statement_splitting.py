"""Lint reads rendered SQL statement by statement. Split along Alembic's writes (the fast
path: a write holding one plain statement is taken as it is), the statements and their
lines are exactly those of sqlparse's splitter over the whole script, whatever the
writes hold: comments, strings with semicolons, a trigger or a function body."""

from __future__ import annotations

from slipway.sqlrules import split

WRITES = [
    "-- Running upgrade  -> r1\n\n",
    "BEGIN;\n\n",
    "CREATE TABLE things (\n    id INTEGER NOT NULL,\n    note VARCHAR(50),\n"
    "    PRIMARY KEY (id)\n);\n\n",
    *(f"INSERT INTO things (id, note) VALUES ({i}, 'n{i}');\n\n" for i in range(50)),
    "INSERT INTO things (id, note) VALUES (99, 'a;b -- not a comment');\n\n",
    "UPDATE things SET note = 'x' /* why */ WHERE id = 1;\n\n",
    "CREATE TRIGGER audit AFTER INSERT ON things FOR EACH ROW\nBEGIN\n"
    "    INSERT INTO log VALUES (NEW.id);\n    UPDATE counts SET n = n + 1;\nEND;\n\n",
    "CREATE FUNCTION f() RETURNS trigger AS $$\nBEGIN\n    RETURN NEW;\nEND;\n"
    "$$ LANGUAGE plpgsql;\n\n",
    "-- Running upgrade r1 -> r2\n\n",
    "ALTER TABLE things ADD COLUMN size INTEGER;\n\n",
    "UPDATE alembic_version SET version_num='r2' WHERE alembic_version.version_num = 'r1';\n\n",
    "COMMIT;\n\n",
]


def test_splitting_along_alembic_writes_gives_the_statements_of_the_whole_script() -> None:
    sql = "".join(WRITES)
    offsets = [sum(len(w) for w in WRITES[:i]) for i in range(len(WRITES))]

    whole = split(sql)
    along = split(sql, offsets)

    assert along == whole
    texts = [s.text for s in whole]
    assert "INSERT INTO things (id, note) VALUES (99, 'a;b -- not a comment')" in texts
    assert sum(t.startswith("CREATE TRIGGER audit") for t in texts) == 1
    assert sum(t.startswith("CREATE FUNCTION f()") for t in texts) == 1
    first = whole[0]
    assert first.text == "BEGIN" and first.first_line == 0  # its leading comment's line
