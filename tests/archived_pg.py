"""A private PostgreSQL whose WAL pgBackRest archives: what restore points need. Shared
by tests/test_restore_point.py and bench/backup_methods.py."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

STANZA = "slipway"


def bindir() -> Path:
    out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def as_postgres(*cmd: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["runuser", "-u", "postgres", "--", *map(str, cmd)],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if check and done.returncode:
        raise AssertionError(f"{cmd}: {done.stdout}{done.stderr}")
    return done


@dataclass
class Archived:
    """A private PostgreSQL server, archiving its WAL to a pgBackRest repository."""

    base: Path
    port: int
    config: Path
    data: Path

    def url(self, database: str) -> sa.URL:
        return sa.URL.create(
            "postgresql+psycopg",
            username="postgres",
            host="127.0.0.1",
            port=self.port,
            database=database,
        )

    def execute(self, *statements: str, database: str = "postgres") -> None:
        engine = sa.create_engine(self.url(database), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                for stmt in statements:
                    conn.exec_driver_sql(stmt)
        finally:
            engine.dispose()

    def scalar(self, sql: str, database: str = "postgres") -> object:
        engine = sa.create_engine(self.url(database), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                return conn.exec_driver_sql(sql).scalar()
        finally:
            engine.dispose()


@contextmanager
def archived_server() -> Iterator[Archived]:
    """A new PostgreSQL cluster in a temporary folder, on a free loopback port, its WAL
    archived by pgBackRest (stanza created, a first full backup taken); stopped and
    removed afterwards."""
    if shutil.which("pgbackrest") is None:
        raise RuntimeError("pgbackrest is not installed: run make services")
    user = pwd.getpwnam("postgres")
    base = Path(tempfile.mkdtemp(prefix="slipway-pitr-"))
    os.chown(base, user.pw_uid, user.pw_gid)
    data, repo, sock = base / "data", base / "repo", base / "sock"
    for folder in (repo, sock, base / "log", base / "lock"):
        folder.mkdir()
        os.chown(folder, user.pw_uid, user.pw_gid)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = base / "pgbackrest.conf"
    config.write_text(
        f"[global]\nrepo1-path={repo}\nlog-path={base / 'log'}\nlock-path={base / 'lock'}\n"
        "start-fast=y\narchive-timeout=30\n\n"
        f"[{STANZA}]\npg1-path={data}\npg1-port={port}\npg1-socket-path={sock}\n"
    )
    os.chown(config, user.pw_uid, user.pw_gid)
    bin_dir = bindir()
    as_postgres(bin_dir / "initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync")
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(
            f"\nport = {port}\nlisten_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{sock}'\nwal_level = replica\narchive_mode = on\n"
            f"archive_command = 'pgbackrest --config={config} --stanza={STANZA} "
            "archive-push %p'\nfsync = off\n"
        )
    as_postgres(bin_dir / "pg_ctl", "start", "-D", data, "-l", base / "server.log", "-w")
    try:
        as_postgres("pgbackrest", f"--config={config}", f"--stanza={STANZA}", "stanza-create")
        as_postgres("pgbackrest", f"--config={config}", f"--stanza={STANZA}", "backup")
        yield Archived(base, port, config, data)
    finally:
        as_postgres(bin_dir / "pg_ctl", "stop", "-D", data, "-m", "immediate", check=False)
        shutil.rmtree(base, ignore_errors=True)
