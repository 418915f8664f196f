"""A private MariaDB with binary logging and a mariadb-backup base backup: what restore
points need on MariaDB. Used by tests/test_restore_point_mariadb.py."""

from __future__ import annotations

import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa


def run(*cmd: str | Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        list(map(str, cmd)), capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL
    )
    if done.returncode:
        raise AssertionError(f"{cmd}: {done.stdout}{done.stderr}")
    return done


@dataclass
class Binlogged:
    """A private MariaDB server writing binary logs, with a base backup taken."""

    base: Path
    port: int

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def socket(self) -> Path:
        return self.base / "sock"

    @property
    def backup(self) -> Path:
        return self.base / "base-backup"

    @property
    def start_command(self) -> str:
        """The server, started in the background (as the mysql user)."""
        b = self.base
        return (
            shlex.join(
                [
                    "setsid",
                    "-f",
                    "/usr/sbin/mariadbd",
                    "--no-defaults",
                    f"--datadir={self.data}",
                    f"--socket={self.socket}",
                    f"--port={self.port}",
                    "--bind-address=127.0.0.1",
                    f"--log-bin={self.data}/binlog",
                    "--server-id=1",
                    "--user=mysql",
                    f"--pid-file={b}/server.pid",
                    f"--log-error={b}/server.log",
                    "--innodb-flush-log-at-trx-commit=2",
                    "--innodb-buffer-pool-size=32M",
                ]
            )
            + " </dev/null >/dev/null 2>&1"
        )

    @property
    def stop_command(self) -> str:
        return f"mariadb-admin --socket={self.socket} shutdown"

    def url(self, database: str) -> sa.URL:
        return sa.URL.create(
            "mysql+pymysql", username="slipway", host="127.0.0.1", port=self.port, database=database
        )

    def admin(self, sql: str) -> str:
        """Run ``sql`` as root, through the socket."""
        return run("mariadb", f"--socket={self.socket}", "-N", "-e", sql).stdout

    def wait(self) -> None:
        deadline = time.monotonic() + 60
        while subprocess.run(
            ["mariadb-admin", f"--socket={self.socket}", "ping"], capture_output=True, check=False
        ).returncode:
            assert time.monotonic() < deadline, (self.base / "server.log").read_text()
            time.sleep(0.2)


@contextmanager
def binlogged_server() -> Iterator[Binlogged]:
    """A new MariaDB in a temporary folder, on a free loopback port, writing binary logs,
    a user 'slipway' with every privilege from 127.0.0.1, and a base backup taken by
    mariadb-backup; stopped and removed afterwards."""
    if shutil.which("mariadb-backup") is None:
        raise RuntimeError("mariadb-backup is not installed: run make services")
    base = Path(tempfile.mkdtemp(prefix="slipway-binlog-"))
    base.chmod(0o755)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = Binlogged(base, port)
    server.data.mkdir()
    shutil.chown(server.data, "mysql", "mysql")
    shutil.chown(base, "mysql", "mysql")
    run(
        "mariadb-install-db",
        "--no-defaults",
        f"--datadir={server.data}",
        "--user=mysql",
        "--auth-root-authentication-method=socket",
        "--skip-test-db",
    )
    run("sh", "-c", server.start_command)
    try:
        server.wait()
        server.admin(
            "CREATE USER slipway@'127.0.0.1'; "
            "GRANT ALL PRIVILEGES ON *.* TO slipway@'127.0.0.1' WITH GRANT OPTION"
        )
        run(
            "mariadb-backup",
            "--backup",
            f"--target-dir={server.backup}",
            f"--socket={server.socket}",
            "--user=root",
        )
        yield server
    finally:
        subprocess.run(["sh", "-c", server.stop_command], capture_output=True, check=False)
        shutil.rmtree(base, ignore_errors=True)
