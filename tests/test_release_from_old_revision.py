"""A release takes a database at an old revision to head, with a restorable backup and
rendered SQL that is the SQL that ran."""

from __future__ import annotations

import hashlib
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import (
    RELEASE_STEPS,
    ROOT,
    Project,
    Release,
    ThrowawayDB,
    alembic_upgrade,
    create_database,
    drop_database,
    write_config,
)

STOREFRONT_INI = ROOT / "alembic_prod.ini"


def seed_storefront(db: ThrowawayDB) -> None:
    db.execute(
        "INSERT INTO users (id, email, name, password_hash, created_at) VALUES "
        "(1, 'ada@example.com', 'Ada', 'x1', '2026-01-02 03:04:05'), "
        "(2, 'bob@example.com', 'Bob', 'x2', '2026-01-02 03:04:06')",
        "INSERT INTO items (id, sku, name, price_cents, stock) VALUES "
        "(1, 'A-1', 'Anchor', 1250, 3), (2, 'B-2', 'Buoy', 400, 0)",
        "INSERT INTO orders (id, user_id, item_id, quantity, created_at) VALUES "
        "(1, 1, 1, 2, '2026-02-01 10:00:00'), (2, 2, 2, 5, '2026-02-01 11:00:00')",
    )


def run_sql_file(db: ThrowawayDB, path: Path) -> None:
    """Apply a rendered script with the database's own command-line client."""
    if db.kind == "postgresql":
        argv = [
            "psql",
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            str(db.url.database),
            "-f",
            str(path),
        ]
        subprocess.run(argv, check=True, capture_output=True)
    elif db.kind == "mariadb":
        with path.open("rb") as fh:
            subprocess.run(
                ["mariadb", "-h", "127.0.0.1", "-uroot", str(db.url.database)],
                stdin=fh,
                check=True,
                capture_output=True,
            )
    else:
        with path.open("rb") as fh:
            subprocess.run(
                ["sqlite3", "-bail", str(db.url.database)],
                stdin=fh,
                check=True,
                capture_output=True,
            )


def restore_natively(db: ThrowawayDB, backup: Path) -> None:
    if db.kind == "postgresql":
        subprocess.run(
            [
                "pg_restore",
                "--exit-on-error",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                str(db.url.database),
                str(backup),
            ],
            check=True,
            capture_output=True,
        )
    elif db.kind == "mariadb":
        run_sql_file(db, backup)
    else:
        shutil.copyfile(backup, str(db.url.database))


def test_release_takes_old_database_to_head_with_backup_and_matching_sql(
    db: ThrowawayDB, tmp_path: Path
) -> None:
    alembic_upgrade(db, STOREFRONT_INI, "0002")
    seed_storefront(db)
    before_rows = db.contents()
    before_schema = db.schema()
    release = Release(db, STOREFRONT_INI, write_config(tmp_path))

    result = release()

    assert result.code == 0, result.stderr
    report = result.report
    assert report["outcome"] == "applied"
    assert (report["from_revision"], report["to_revision"]) == ("0002", "0006")
    assert db.revision() == "0006"
    assert [s["name"] for s in report["steps"]] == RELEASE_STEPS
    # The backfill ran: totals are quantity * price.
    assert db.scalar("SELECT total_cents FROM orders WHERE id = 1") == 2500

    # The backup: there, private, as recorded, and restorable to the old state.
    backup = Path(report["backup"]["path"])
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert hashlib.sha256(backup.read_bytes()).hexdigest() == report["backup"]["sha256"]
    assert backup.stat().st_size == report["backup"]["bytes"]
    copy = (
        create_database(db.kind, tmp_path / "restored")
        if db.kind != "sqlite"
        else create_database(db.kind, tmp_path)
    )
    try:
        restore_natively(copy, backup)
        assert copy.revision() == "0002"
        assert copy.contents() == before_rows
    finally:
        drop_database(copy)

    # The rendered SQL: UTF-8, and running it elsewhere gives the same schema.
    up = Path(report["sql"]["upgrade"]["path"])
    down = Path(report["sql"]["downgrade"]["path"])
    for path in (up, down):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        path.read_bytes().decode("utf-8")
    assert hashlib.sha256(up.read_bytes()).hexdigest() == report["sql"]["upgrade"]["sha256"]
    twin = create_database(db.kind, tmp_path)
    try:
        alembic_upgrade(twin, STOREFRONT_INI, "0002")
        seed_storefront(twin)
        run_sql_file(twin, up)
        assert twin.revision() == "0006"
        assert twin.schema() == db.schema()
        assert twin.contents() == db.contents()
        run_sql_file(twin, down)
        assert twin.revision() == "0002"
        assert twin.schema() == before_schema
    finally:
        drop_database(twin)

    # The ledger has the run, with the checksums of what it wrote.
    with db.engine().connect() as conn:
        row = (
            conn.execute(
                sa.text("SELECT * FROM slipway_history WHERE run_id = :r"), {"r": report["run_id"]}
            )
            .mappings()
            .one()
        )
        applied = dict(conn.execute(sa.text("SELECT revision, how FROM slipway_checksum")).all())
    assert row["outcome"] == "applied"
    assert (row["from_revision"], row["to_revision"]) == ("0002", "0006")
    assert row["upgrade_sql_sha256"] == report["sql"]["upgrade"]["sha256"]
    assert row["backup_sha256"] == report["backup"]["sha256"]
    assert applied == {
        "0001": "baseline",
        "0002": "baseline",
        "0003": "applied",
        "0004": "applied",
        "0005": "applied",
        "0006": "applied",
    }

    again = release()
    assert again.code == 0 and again.report["outcome"] == "noop"


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_rendered_sql_is_utf8(release: Release, project: Project) -> None:
    project.add(
        "u1",
        """
        op.create_table("notes", sa.Column("id", sa.Integer, primary_key=True),
                        sa.Column("body", sa.String(50)))
        op.execute("INSERT INTO notes (id, body) VALUES (1, 'café ☕ Grüße')")
    """,
        'op.drop_table("notes")',
    )

    result = release()

    assert result.code == 0, result.stderr
    text = Path(result.report["sql"]["upgrade"]["path"]).read_bytes().decode("utf-8")
    assert "café ☕ Grüße" in text
    assert release.db.scalar("SELECT body FROM notes") == "café ☕ Grüße"
