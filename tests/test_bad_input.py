"""Bad input: one clear line on stderr, exit 2, no traceback, no database touched."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import (
    ROOT,
    Project,
    Result,
    ThrowawayDB,
    alembic_upgrade,
    slipway,
    standard_history,
    write_config,
)


def assert_bad_input(result: Result, needle: str) -> None:
    assert result.code == 2, (result.stdout, result.stderr)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("slipway: error: ")
    assert needle in lines[0]
    assert "Traceback" not in result.stdout + result.stderr


@pytest.fixture
def seeded(db: ThrowawayDB, project: Project) -> ThrowawayDB:
    standard_history(project)
    alembic_upgrade(db, project.ini, "r1")
    return db


def release(tmp_path: Path, *args: str, env: str = "test", url: str = "") -> Result:
    """slipway db release with the test's own config, and these extra arguments."""
    return slipway(
        "db",
        "release",
        "--env",
        env,
        "--config",
        str(write_config(tmp_path)),
        *args,
        env={"TEST_DB_URL": url},
    )


def state(db: ThrowawayDB) -> tuple[object, ...]:
    return db.revision(), db.tables(), db.contents(skip_ledger=False)


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "postgresql+psycopg://app:Sekr3t@127.0.0.1:notaport/app",
        "oracle://x@y/z",
        "postgresql+psycopg://app:Sekr3t@127.0.0.1:5432/app%00?port=1",
        "mysql+pymysql://app:Sekr3t@127.0.0.1/app?charset=utf8%0A",
    ],
)
def test_malformed_url(url: str, tmp_path: Path) -> None:
    result = release(tmp_path, "--db-url", url)
    assert_bad_input(result, "--db-url")
    assert "Sekr3t" not in result.stdout + result.stderr


@pytest.mark.parametrize("kind", ["postgresql+psycopg", "mysql+pymysql"])
def test_unreachable_host(kind: str, tmp_path: Path, project: Project) -> None:
    standard_history(project)
    result = release(
        tmp_path,
        "--alembic-ini",
        str(project.ini),
        "--db-url",
        f"{kind}://app:Sekr3t@127.0.0.1:1/app",
    )
    assert_bad_input(result, "cannot reach database")
    assert "Sekr3t" not in result.stdout + result.stderr


def test_missing_ini(seeded: ThrowawayDB, tmp_path: Path) -> None:
    before = state(seeded)
    result = release(tmp_path, "--alembic-ini", str(tmp_path / "nope.ini"), url=seeded.url_str)
    assert_bad_input(result, "nope.ini")
    assert state(seeded) == before


def test_unknown_environment(seeded: ThrowawayDB, project: Project, tmp_path: Path) -> None:
    before = state(seeded)
    result = release(tmp_path, "--alembic-ini", str(project.ini), env="qa", url=seeded.url_str)
    assert_bad_input(result, "unknown environment 'qa'")
    assert state(seeded) == before


def test_empty_migrations_folder(db: ThrowawayDB, project: Project, tmp_path: Path) -> None:
    db.execute("CREATE TABLE keep (id INTEGER PRIMARY KEY)", "INSERT INTO keep VALUES (7)")
    before = state(db)
    result = release(tmp_path, "--alembic-ini", str(project.ini), url=db.url_str)
    assert_bad_input(result, "no migrations in")
    assert state(db) == before


def test_password_in_config_file_is_refused(tmp_path: Path) -> None:
    config = write_config(tmp_path, prod={"database_url": "postgresql://app:Sekr3t@db/app"})
    result = slipway(
        "db",
        "status",
        "--env",
        "prod",
        "--config",
        str(config),
        "--alembic-ini",
        str(ROOT / "alembic_prod.ini"),
    )
    assert_bad_input(result, "has a password in")
    assert "Sekr3t" not in result.stdout + result.stderr


def test_unset_url_variable(tmp_path: Path) -> None:
    result = slipway(
        "db",
        "status",
        "--env",
        "test",
        "--config",
        str(write_config(tmp_path)),
        "--alembic-ini",
        str(ROOT / "alembic_prod.ini"),
        env={"TEST_DB_URL": ""},
    )
    assert_bad_input(result, "$TEST_DB_URL")


def test_revision_file_that_does_not_import(
    seeded: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    (project.root / "versions" / "broken.py").write_text("this is not python(\n")
    before = state(seeded)
    result = release(tmp_path, "--alembic-ini", str(project.ini), url=seeded.url_str)
    assert_bad_input(result, "cannot be loaded: SyntaxError")
    assert state(seeded) == before


@pytest.mark.parametrize(
    ("setting", "value", "needle"),
    [
        ("restore_on_failed_rollback", "false", "restore_on_failed_rollback"),
        ("development", "yes", "development"),
        ("statement_timeout_s", -5, "statement_timeout_s"),
        ("lock_timeouts_s", [0], "lock_timeouts_s"),
        ("lock_timeouts_s", [], "lock_timeouts_s"),
        ("backup_keep", 0, "backup_keep"),
        ("backup_jobs", "4", "backup_jobs"),
        ("rehearse", "sometimes", "rehearse"),
        ("lint_rules", {"ban-drop-column": "loud"}, "lint_rules"),
        ("lock_timeout_s", [2], "unknown setting 'lock_timeout_s'"),
    ],
)
def test_settings_are_read_strictly(
    setting: str, value: object, needle: str, lite: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    """A quoted boolean, a number out of bounds, a misspelt key: exit 2 naming the key
    and the file, and the database untouched."""
    standard_history(project)
    alembic_upgrade(lite, project.ini, "r1")
    before = state(lite)
    config = write_config(
        tmp_path,
        test={"database_url_env": "TEST_DB_URL", "alembic_ini": str(project.ini), setting: value},
    )
    result = slipway(
        "db", "release", "--env", "test", "--config", str(config), env={"TEST_DB_URL": lite.url_str}
    )
    assert_bad_input(result, needle)
    assert str(config) in result.stderr
    assert state(lite) == before


def test_a_server_that_accepts_but_never_answers(tmp_path: Path, project: Project) -> None:
    """A MariaDB port that accepts connections and never says a word: the handshake is
    timed out like a refused connection (exit 2, one line), not waited for forever."""
    import socket
    import threading

    standard_history(project)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    port = server.getsockname()[1]
    try:
        result = release(
            tmp_path,
            "--alembic-ini",
            str(project.ini),
            "--db-url",
            f"mysql+pymysql://app:Sekr3t@127.0.0.1:{port}/app",
        )
    finally:
        server.close()
        for conn in held:
            conn.close()
    assert_bad_input(result, "cannot reach database")
    assert "Sekr3t" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["rollback", "--to", ""], "--to"),
        (["rollback", "--to", "zzzz"], "zzzz"),
        (["verify", "--revision", "zzzz"], "zzzz"),
        (["unlock", "no-such-run"], "no-such-run"),
        (["restore", "--backup", "/nonexistent/backup.dump", "--yes"], "does not exist"),
        (["restore", "--backup", "/etc/hostname"], "--yes"),
        (["release", "--lint-fail-on", "loud"], "lint"),
        (["release", "--lint-rule", "ban-drop-column"], "RULE=LEVEL"),
        (["ledger", "repair", "--revision", "r1", "--reason", " "], "--reason"),
        (["history", "--limit", "-1"], "--limit"),
        (["render", "--from", "zzzz"], "zzzz"),
        (["lint", "--server-version", "oracle-9"], "oracle-9"),
        (["render", "--from", "r1", "--run-id", "x"], "exclude"),
        (["status", "--config", "/nonexistent/slipway.yml"], "slipway.yml"),
        (["status", "--db-url", "postgresql+nosuchdriver://u@127.0.0.1/app"], "nosuchdriver"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_bad_arguments(
    args: list[str], needle: str, lite: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    standard_history(project)
    alembic_upgrade(lite, project.ini, "r2")
    before = state(lite)
    command, rest = (args[:2], args[2:]) if args[0] == "ledger" else (args[:1], args[1:])
    result = slipway(
        "db",
        *command,
        "--env",
        "test",
        "--config",
        str(write_config(tmp_path)),
        "--alembic-ini",
        str(project.ini),
        *rest,
        env={"TEST_DB_URL": lite.url_str},
    )
    assert_bad_input(result, needle)
    assert state(lite) == before


@pytest.mark.parametrize("what", ["folder", "text file"])
def test_sqlite_url_that_is_not_a_database(what: str, project: Project, tmp_path: Path) -> None:
    standard_history(project)
    target = tmp_path / "target"
    if what == "folder":
        target.mkdir()
    else:
        target.write_text("not a database\n" * 100)
    before = target.read_text() if target.is_file() else None
    result = release(tmp_path, "--alembic-ini", str(project.ini), "--db-url", f"sqlite:///{target}")
    assert_bad_input(result, str(target))
    assert (target.read_text() if target.is_file() else None) == before


def test_revision_file_that_is_not_utf8(
    seeded: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    (project.root / "versions" / "latin.py").write_bytes(
        b'"""caf\xe9"""\nrevision = "r9"\ndown_revision = "r3"\n'
    )
    before = state(seeded)
    result = release(tmp_path, "--alembic-ini", str(project.ini), url=seeded.url_str)
    assert_bad_input(result, "latin.py")
    assert state(seeded) == before


@pytest.mark.parametrize("where", ["config", "flag"])
def test_an_unknown_lint_rule_name_is_bad_input(where: str, tmp_path: Path) -> None:
    """A misspelt rule would otherwise stay on (or off) without a word."""
    extra: dict[str, Any] = (
        {"lint_rules": {"ban-drop-colum": "warning"}} if where == "config" else {}
    )
    config = write_config(tmp_path, extra)
    flag = ["--lint-rule", "ban-drop-colum=warning"] if where == "flag" else []
    result = slipway(
        "db",
        "lint",
        "--env",
        "test",
        "--config",
        str(config),
        "--alembic-ini",
        str(ROOT / "alembic.ini"),
        *flag,
        env={"TEST_DB_URL": "sqlite:////nonexistent/never.db"},
    )
    assert_bad_input(result, "ban-drop-colum")
