"""A whole release over real SSH to three loopback hosts, each with its own nginx and its
own supervisord running gunicorn in two slots: v1, then v2 with a migration (rolled out
host by host while requests keep flowing, none dropped), then v3 that fails its health
check on the second host (everything goes back to v2), then playbooks/rollback.yml back
to v1."""

from __future__ import annotations

import contextlib
import grp
import http.client
import itertools
import json
import os
import pwd
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from ansible_env import (
    ADDRESSES,
    DEPLOY_USER,
    Inventory,
    SshHosts,
    build_bundle,
    derive_bundle,
    release_answering,
    worker_port,
    write_inventory,
)
from conftest import ThrowawayDB, alembic_upgrade, protected_database
from test_install import python
from test_release_from_old_revision import STOREFRONT_INI, seed_storefront

HOSTS = ("web1", "web2", "web3")
V1 = "storefront-20260101T000000Z-v1"
V2 = "storefront-20260201T000000Z-v2"
V3 = "storefront-20260301T000000Z-v3"

REVISION = '''"""{doc}

Revision ID: {rev}
Revises: {down}
"""
import sqlalchemy as sa
from alembic import op

revision = "{rev}"
down_revision = "{down}"


def upgrade():
    {up}


def downgrade():
    {down_body}
'''
V2_REVISION = REVISION.format(
    doc="users.nickname",
    rev="0007",
    down="0006",
    up='op.add_column("users", sa.Column("nickname", sa.String(40), nullable=True))',
    down_body='op.drop_column("users", "nickname")',
)
V3_REVISION = REVISION.format(
    doc="gift cards",
    rev="0008",
    down="0007",
    up='op.create_table("gift_cards", sa.Column("id", sa.Integer, primary_key=True))',
    down_body='op.drop_table("gift_cards")',
)
# v3 needs a payments endpoint in its environment; web2's inventory has none.
V3_APP = (
    '    return {"status": "ok", "revision": revision, "release": os.environ.get(RELEASE_ENV)}',
    '    if not os.environ.get("STOREFRONT_PAYMENTS_URL"):\n'
    '        raise HTTPException(status_code=503, detail="no payments endpoint configured")\n'
    '    return {"status": "ok", "revision": revision, "release": os.environ.get(RELEASE_ENV)}',
)


def owner(path: Path) -> str:
    return pwd.getpwuid(path.stat().st_uid).pw_name


def group(path: Path) -> str:
    return grp.getgrgid(path.stat().st_gid).gr_name


def users_in(folder: Path) -> set[str]:
    """The users of the processes working in ``folder`` (the service's gunicorn)."""
    found = set()
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and Path(os.readlink(proc / "cwd")).is_relative_to(folder):
                found.add(pwd.getpwuid(proc.stat().st_uid).pw_name)
        except OSError:
            continue
    return found


def process_users(pid: int, *, children: bool = False) -> set[str]:
    """The user of process ``pid``, or of its children (nginx's workers)."""
    selector = ["--ppid", str(pid)] if children else ["-p", str(pid)]
    listing = subprocess.run(
        ["ps", *selector, "-o", "user:32="], capture_output=True, text=True, check=False
    ).stdout
    return set(listing.split())


def http_port() -> int:
    return worker_port(8100)


def get(
    host: str, path: str, *, source: str = "127.0.0.1", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(host, http_port(), timeout=3, source_address=(source, 0))
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


@dataclass
class Traffic:
    """Requests to every host's /health through its nginx, round after round, while a
    rollout runs; each answer names the release that gave it, so a host's switch shows."""

    # (time, host, the release that answered, or None for a failed request)
    samples: list[tuple[float, str, str | None]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        deadline = time.monotonic() + 600
        while not self.stop.is_set() and time.monotonic() < deadline:
            for name, address in zip(HOSTS, ADDRESSES, strict=True):
                release = release_answering(address, http_port())
                self.samples.append((time.monotonic(), name, release))
            time.sleep(0.05)

    def switch_windows(self, old: str, new: str) -> dict[str, tuple[float, float]]:
        """Per host: from its last answer by ``old`` to its first answer by ``new``."""
        windows = {}
        for host in HOSTS:
            answers = [(t, r) for t, h, r in self.samples if h == host]
            last_old = max(t for t, r in answers if r == old)
            first_new = min(t for t, r in answers if r == new)
            assert last_old < first_new, f"{host} answered {old} after {new}"
            windows[host] = (last_old, first_new)
        return windows

    def failures(self) -> list[tuple[float, str]]:
        return [(t, h) for t, h, r in self.samples if r is None]

    @contextlib.contextmanager
    def running(self) -> Iterator[Traffic]:
        thread = threading.Thread(target=self.run)
        thread.start()
        try:
            yield self
        finally:
            self.stop.set()
            thread.join()


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    dist = tmp_path_factory.mktemp("releases")
    base = build_bundle(dist / "base", pythons=("3.10", "3.11", "3.12"))
    return {
        "base": base,
        "v1": derive_bundle(base, dist, V1),
        "v2": derive_bundle(base, dist, V2, revisions={"0007_nickname.py": V2_REVISION}),
        "v3": derive_bundle(
            base,
            dist,
            V3,
            revisions={"0007_nickname.py": V2_REVISION, "0008_gift_cards.py": V3_REVISION},
            app_patch=V3_APP,
        ),
    }


@pytest.fixture
def site(tmp_path: Path, ssh_hosts: SshHosts) -> Iterator[tuple[ThrowawayDB, Path, SshHosts]]:
    with protected_database("postgresql", tmp_path) as db:
        alembic_upgrade(db, STOREFRONT_INI, "0002")
        seed_storefront(db)
        yield db, tmp_path, ssh_hosts


def site_inventory(
    site: tuple[ThrowawayDB, Path, SshHosts],
    bundle: Path,
    extra_vars: dict[str, object],
    host_vars: dict[str, dict[str, object]] | None = None,
) -> Inventory:
    """The three web hosts, web1 migrating, each with its own nginx on this worker's port."""
    db, tmp, ssh = site
    return write_inventory(
        tmp / "inventory",
        ssh,
        env="stage",
        database_url=db.url_str,
        bundle=bundle,
        web=HOSTS,
        migrator="web1",
        extra_vars=extra_vars,
        host_vars=host_vars,
        http_port=http_port(),
    )


@pytest.fixture
def inventory(
    site: tuple[ThrowawayDB, Path, SshHosts], releases: dict[str, Path]
) -> Iterator[Inventory]:
    payments = {"slipway_app_env": {"STOREFRONT_PAYMENTS_URL": "https://pay.example.org"}}
    inv = site_inventory(
        site,
        releases["v1"],
        {
            "slipway_app_serial": 1,
            "slipway_app_max_fail_percentage": 0,
            "slipway_app_health_retries": 15,
            # This environment says: a failed rollout takes the database back too.
            "slipway_app_undo_migration": True,
        },
        host_vars={
            # web1 migrates on the machine's Python; web2 and web3 run 3.12 and 3.10.
            "web1": payments,
            "web2": {"slipway_db_python": python("3.12")},
            "web3": {**payments, "slipway_db_python": python("3.10")},
        },
    )
    try:
        yield inv
    finally:
        inv.stop_services()


def history_rows(db: ThrowawayDB) -> list[tuple[str, str, str]]:
    with db.engine().connect() as conn:
        return [
            tuple(r)
            for r in conn.exec_driver_sql(
                "SELECT command, outcome, to_revision FROM slipway_history ORDER BY started_at"
            )
        ]


def test_rolling_release_rollback_and_failed_health_check(
    site: tuple[ThrowawayDB, Path, SshHosts], inventory: Inventory, releases: dict[str, Path]
) -> None:
    db, tmp, _ = site
    inv = inventory
    secret = str(db.url.password)
    outputs: list[str] = []

    def deploy(version: str) -> subprocess.CompletedProcess[str]:
        return inv.playbook("deploy", "-e", f"slipway_db_bundle={releases[version]}")

    # v1 everywhere.
    first = deploy("v1")
    outputs.append(first.stdout + first.stderr)
    assert first.returncode == 0, first.stdout + first.stderr
    assert inv.serving() == dict.fromkeys(HOSTS, V1)
    assert db.revision() == "0006"
    # Nobody ran as root but what must: the releases are the deploy user's, the service
    # runs as its own user, nginx's workers as www-data (which reach its sockets).
    # Each host's release runs on that host's Python: 3.11 here, 3.12 and 3.10 there.
    versions = {
        name: (root / "releases" / V1 / "venv" / "pyvenv.cfg").read_text()
        for name, root in inv.roots.items()
    }
    for name, version in (("web1", "3.11"), ("web2", "3.12"), ("web3", "3.10")):
        assert f"version = {version}." in versions[name], versions[name]
    for name, root in inv.roots.items():
        assert owner(root / "releases" / V1) == DEPLOY_USER, name
        assert owner(root / "shared" / "storefront.env") == "storefront", name
        assert stat.S_IMODE((root / "shared" / "storefront.env").stat().st_mode) == 0o400
        assert users_in(root / "releases" / V1) == {"storefront"}, name
        assert inv.run_dir is not None
        (sock,) = (inv.run_dir / name).glob("storefront-*.sock")  # the serving slot's
        assert owner(sock) == "storefront" and group(sock) == "storefront", name
        assert stat.S_IMODE(sock.stat().st_mode) == 0o770, name
        master = int((root / "nginx" / "run" / "nginx.pid").read_text())
        assert process_users(master) == {"root"}, name
        assert process_users(master, children=True) == {"www-data"}, name

    # v2, host by host, while requests flow through every host's nginx.
    with Traffic().running() as traffic:
        second = deploy("v2")
    outputs.append(second.stdout + second.stderr)
    assert second.returncode == 0, second.stdout + second.stderr
    assert inv.serving() == dict.fromkeys(HOSTS, V2)
    assert db.revision() == "0007"
    migrations = [r for r in history_rows(db) if r[0] == "release" and r[1] == "applied"]
    assert [r[2] for r in migrations] == ["0006", "0007"]  # v2's migration ran once
    # No request failed: each host started v2 on its idle slot and took it into service
    # only once healthy; one host switched at a time (serial 1).
    windows = traffic.switch_windows(V1, V2)
    spans = sorted(windows.values())
    assert all(a[1] < b[0] for a, b in itertools.pairwise(spans)), windows
    assert len(traffic.samples) > 60
    assert traffic.failures() == [], traffic.failures()
    measured = {"requests": len(traffic.samples), "failed": len(traffic.failures())}
    print(f"rolling v1 -> v2: {measured}")
    (Path(os.environ.get("SLIPWAY_MEASURE_DIR", tmp)) / "rolling-deploy.json").write_text(
        json.dumps(measured)
    )

    # The client address the app logs is the client's, through the proxy (a header the
    # client sends to pretend otherwise is replaced by nginx).
    status, headers, _ = get(
        ADDRESSES[0],
        "/items",
        source="127.0.0.9",
        headers={"X-Forwarded-For": "203.0.113.66", "Accept-Encoding": "gzip"},
    )
    assert status == 200 and headers.get("Content-Encoding") == "gzip"
    access_log = (inv.roots["web1"] / "shared" / "log" / "access.log").read_text()
    last = [line for line in access_log.splitlines() if "/items" in line][-1]
    assert "127.0.0.9" in last and "203.0.113.66" not in last

    # v3 fails its health check on web2: every host back on v2, the database at 0007.
    # web2 never served v3 and no request failed meanwhile.
    before = db.contents()
    with Traffic().running() as traffic:
        third = deploy("v3")
    outputs.append(third.stdout + third.stderr)
    assert third.returncode != 0
    assert "failed on web2" in third.stdout and "health check" in third.stdout
    assert "not healthy on slot" in third.stdout
    assert inv.serving() == dict.fromkeys(HOSTS, V2)
    assert db.revision() == "0007"
    assert db.contents() == before
    assert "gift_cards" not in db.tables()
    assert {r for _, h, r in traffic.samples if h == "web2"} == {V2}
    assert {r for _, h, r in traffic.samples if h == "web1"} == {V2, V3}
    assert traffic.failures() == [], traffic.failures()

    # v1 is older than the v2 that runs: refused before any host or the database changes.
    older = deploy("v1")
    outputs.append(older.stdout + older.stderr)
    assert older.returncode != 0
    assert f"release {V1} is older than {V2}" in older.stdout
    assert "slipway_app_force=true" in older.stdout
    assert inv.serving() == dict.fromkeys(HOSTS, V2)
    assert db.revision() == "0007" and db.contents() == before

    # rollback.yml: every host and the database back to v1.
    back = inv.playbook("rollback", "-e", f"slipway_db_bundle={releases['v2']}")
    outputs.append(back.stdout + back.stderr)
    assert back.returncode == 0, back.stdout + back.stderr
    assert inv.serving() == dict.fromkeys(HOSTS, V1)
    assert db.revision() == "0006"
    assert "nickname" not in [c[0] for c in db.schema()["tables"]["users"]["columns"]]

    for text in outputs:
        assert secret not in text


def test_a_wrong_setting_stops_the_deploy_before_any_host_or_the_database_changes(
    site: tuple[ThrowawayDB, Path, SshHosts],
) -> None:
    db, tmp, _ = site
    before = db.contents()
    never_reached = tmp / "storefront-20260101T000000Z-v1.tar.gz"
    inv = site_inventory(site, never_reached, {"slipway_app_workers": "many"})
    try:
        result = inv.playbook("deploy")
    finally:
        inv.stop_services()

    assert result.returncode != 0
    assert "slipway_app_workers" in result.stdout + result.stderr
    assert "unable to convert to int" in result.stdout + result.stderr
    assert not any(root.exists() for root in inv.roots.values())
    assert db.revision() == "0002" and db.contents() == before
    assert str(db.url.password) not in result.stdout + result.stderr
