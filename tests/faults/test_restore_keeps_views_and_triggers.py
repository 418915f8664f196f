"""A restore brings back the whole schema: views and triggers too. On MariaDB the swap
moves base tables only (RENAME TABLE moves neither a view nor a table with triggers
across databases), so they are taken from the loaded copy and created again."""

from __future__ import annotations

from pathlib import Path

from conftest import Project, Release, ThrowawayDB

UPGRADE = """
t = op.create_table("things", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("label", sa.String(20)))
op.bulk_insert(t, [{"id": i, "label": f"thing {i}"} for i in range(1, 4)])
op.execute("CREATE VIEW labelled AS SELECT id, label FROM things WHERE label IS NOT NULL")
op.execute("CREATE VIEW labelled_count AS SELECT COUNT(*) AS n FROM labelled")
name = op.get_context().dialect.name
if name == "postgresql":
    op.execute(
        "CREATE FUNCTION things_default() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN NEW.label := COALESCE(NEW.label, 'auto'); RETURN NEW; END $$"
    )
    op.execute("CREATE TRIGGER things_default BEFORE INSERT ON things "
               "FOR EACH ROW EXECUTE FUNCTION things_default()")
elif name == "sqlite":
    op.execute("CREATE TRIGGER things_default AFTER INSERT ON things WHEN NEW.label IS NULL "
               "BEGIN UPDATE things SET label = 'auto' WHERE id = NEW.id; END")
else:
    op.execute("CREATE TRIGGER things_default BEFORE INSERT ON things FOR EACH ROW "
               "SET NEW.label = COALESCE(NEW.label, 'auto')")
"""


def test_restore_brings_back_views_and_triggers(
    db: ThrowawayDB, project: Project, release: Release, tmp_path: Path
) -> None:
    project.add("r1", UPGRADE, 'op.execute("SELECT 1")')
    assert release().code == 0
    schema = db.schema()
    assert len(schema["views"]) == 2 and schema["triggers"] == ["things.things_default"]
    taken = release("backup")
    assert taken.code == 0, taken.stderr
    db.execute("DELETE FROM things WHERE id > 1")

    restored = release("restore", "--backup", taken.report["backup"]["path"], "--yes")

    assert restored.code == 0, restored.stderr
    assert db.schema() == schema
    assert db.scalar("SELECT n FROM labelled_count") == 3
    db.execute("INSERT INTO things (id) VALUES (9)")
    assert db.scalar("SELECT label FROM things WHERE id = 9") == "auto", "the trigger fires"
    assert db.revision() == "r1"
