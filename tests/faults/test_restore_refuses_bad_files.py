"""`db restore` cannot destroy: it loads only a backup slipway took of this database
(its sha256 is in the ledger or a run report) and that its dialect's check accepts.
/etc/passwd, a dump cut at a statement boundary, a corrupted copy and a valid backup of
another database are refused with one line, exit 2, the database unchanged. A good
backup restores all at once, with the run history and, on PostgreSQL, schema public's
owner and privileges kept."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from conftest import (
    Project,
    Release,
    ThrowawayDB,
    create_database,
    drop_database,
    standard_history,
)


def public_schema(db: ThrowawayDB) -> Any:
    if db.kind != "postgresql":
        return None
    with db.engine().connect() as conn:
        return conn.exec_driver_sql(
            "SELECT nspowner::regrole::text, nspacl::text FROM pg_namespace "
            "WHERE nspname = 'public'"
        ).one()


def cut_at_statement(source: Path, target: Path) -> None:
    """The first half of the file, ending where a statement (or a line) ends."""
    data = source.read_bytes()
    half = data[: len(data) // 2]
    end = half.rfind(b";\n")
    target.write_bytes(half[: end + 2] if end > 0 else half)


def corrupt(source: Path, target: Path) -> None:
    """16 bytes flipped at the start of every 4 KiB page after the first (SQLite's page
    headers, pg_dump's compressed blocks, a SQL dump's statements)."""
    data = bytearray(source.read_bytes())
    for at in range(4096, len(data), 4096):
        data[at : at + 16] = bytes((b ^ 0x5A) for b in data[at : at + 16])
    target.write_bytes(bytes(data))


def test_restore_refuses_what_slipway_did_not_take_of_this_database(
    db: ThrowawayDB, project: Project, release: Release, tmp_path: Path
) -> None:
    standard_history(project)
    assert release().code == 0
    taken = release("backup")
    assert taken.code == 0, taken.stderr
    backup = Path(taken.report["backup"]["path"])
    # A backup of another database of the same kind, taken by slipway too.
    other = create_database(db.kind, tmp_path)
    try:
        # Same settings: its report lands in the same artifacts folder as this one's.
        foreign = Release(other, project.ini, release.config)
        assert foreign("release").code == 0
        foreign_backup = Path(str(foreign("backup").report["backup"]["path"]))
    finally:
        drop_database(other)
    db.execute("INSERT INTO things (id, name) VALUES (100, 'written after the backup')")
    rows, schema, public = db.contents(), db.schema(), public_schema(db)
    runs_before = len(release("history").report["data"]["runs"])

    bad = tmp_path / "bad"
    bad.mkdir()
    cut_at_statement(backup, bad / f"cut{backup.suffix}")
    corrupt(backup, bad / f"corrupt{backup.suffix}")
    # A file slipway wrote, changed on disk afterwards: same path, other content.
    shutil.copyfile(backup, bad / "original")
    cut_at_statement(bad / "original", backup)
    candidates = {
        "/etc/passwd": Path("/etc/passwd"),
        "cut": bad / f"cut{backup.suffix}",
        "corrupt": bad / f"corrupt{backup.suffix}",
        "changed in place": backup,
        "another database's": foreign_backup,
    }
    for what, path in candidates.items():
        refused = release("restore", "--backup", str(path), "--yes")
        assert refused.code == 2, (what, refused.stderr)
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in refused.stderr, (what, refused.stderr)
        assert str(path) in lines[0], (what, lines[0])
        assert db.contents() == rows and db.schema() == schema, what
        assert public_schema(db) == public, what
    # Even on purpose, a file that is not a whole backup is refused before any change.
    # (Not the corrupted copy: flipped bytes may land in a comment of a SQL dump, and
    # then it is a whole backup; without --foreign-backup its sha256 refuses it above.)
    for name in ("/etc/passwd", "cut"):
        path = candidates[name]
        refused = release("restore", "--backup", str(path), "--yes", "--foreign-backup")
        if name == "/etc/passwd":
            assert refused.code == 2, (name, refused.stderr)
        assert refused.code != 0, (name, refused.stdout)
        assert db.contents() == rows and db.schema() == schema, name

    shutil.copyfile(bad / "original", backup)
    restored = release("restore", "--backup", str(backup), "--yes")

    assert restored.code == 0, restored.stderr
    assert db.revision() == "r3"
    assert "written after the backup" not in str(db.contents())
    assert public_schema(db) == public
    runs = release("history", "--limit", "100").report["data"]["runs"]
    assert len(runs) > runs_before  # every run so far, the refused ones not among them
    assert {r["command"] for r in runs} >= {"release", "restore"}
