"""Deploy by phase, over real SSH to loopback hosts behind their own nginx: pre-deploy
revisions before any host switches, post-deploy ones once every host serves the new
release, with requests flowing throughout; the same release with its contract step
marked pre-deploy is refused before any host changes; a failed rollout never runs the
post-deploy revisions; rollback.yml refuses to go below applied post-deploy revisions."""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from ansible_env import SshHosts, derive_bundle, write_inventory
from conftest import ThrowawayDB, alembic_upgrade, protected_database
from test_app_release import REVISION, V1, V3_APP, history_rows, http_port
from test_release_from_old_revision import STOREFRONT_INI, seed_storefront

P3 = "storefront-20260701T000000Z-p3"  # newer than E1: not a downgrade
PRE_GIFT_CARDS = REVISION.format(
    doc="gift cards",
    rev="0009",
    down="0008",
    up='op.create_table("gift_cards", sa.Column("id", sa.Integer, primary_key=True))',
    down_body='op.drop_table("gift_cards")',
)
POST_DROP_GIFT_CARDS = (
    REVISION.format(
        doc="drop gift cards again",
        rev="0010",
        down="0009",
        up='op.drop_table("gift_cards")',
        down_body='op.create_table("gift_cards", sa.Column("id", sa.Integer, primary_key=True))',
    )
    + '\nslipway_phase = "post"\n'
)

# Expand/contract of items.sku -> items.display_name over three steps of one release:
# 0007 (pre) adds display_name, which the new code writes; 0008 (post) drops sku, which
# only the old code reads (its model maps every column of items).
E1 = "storefront-20260601T000000Z-e1"
EXPAND = REVISION.format(
    doc="items.display_name",
    rev="0007",
    down="0006",
    up='op.add_column("items", sa.Column("display_name", sa.String(200), nullable=True))',
    down_body='op.drop_column("items", "display_name")',
)
CONTRACT_BODY = REVISION.format(
    doc="drop items.sku",
    rev="0008",
    down="0007",
    up='op.drop_column("items", "sku")',
    down_body='op.add_column("items", sa.Column("sku", sa.String(64), nullable=True))',
)
CONTRACT = CONTRACT_BODY + '\nslipway_phase = "post"\n'
NEW_ITEMS = (
    "    rows = session.scalars(select(Item).order_by(Item.id)).all()\n",
    '    session.execute(text("UPDATE items SET display_name = name WHERE display_name IS NULL"))\n'
    "    session.commit()\n"
    "    rows = session.execute(\n"
    '        text("SELECT id, display_name AS name, price_cents, stock FROM items ORDER BY id")\n'
    "    ).all()\n"
    '    return [{"id": r.id, "name": r.name, "price_cents": r.price_cents, "stock": r.stock}'
    " for r in rows]\n",
)


@dataclass
class Requests:
    """GET /health (which release answers) and GET /items (which reads the table the
    release changes) on every host through its nginx, round after round; and, beside
    them, which of the two columns the database has."""

    db: ThrowawayDB
    hosts: dict[str, tuple[str, int]]
    # (time, host, release answering /health or None, /items status or None)
    samples: list[tuple[float, str, str | None, int | None]] = field(default_factory=list)
    # (time, columns of items)
    columns: list[tuple[float, frozenset[str]]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    @staticmethod
    def _get(address: str, port: int, path: str) -> tuple[int | None, bytes]:
        conn = http.client.HTTPConnection(address, port, timeout=5)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read()
        except OSError:
            return None, b""
        finally:
            conn.close()

    def _run(self) -> None:
        deadline = time.monotonic() + 900
        with self.db.engine().connect() as conn:
            while not self.stop.is_set() and time.monotonic() < deadline:
                for name, (address, port) in self.hosts.items():
                    status, body = self._get(address, port, "/health")
                    release = json.loads(body)["release"] if status == 200 else None
                    items, _ = self._get(address, port, "/items")
                    self.samples.append((time.monotonic(), name, release, items))
                cols = conn.exec_driver_sql(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = 'items' AND table_schema = current_schema()"
                ).scalars()
                self.columns.append((time.monotonic(), frozenset(cols)))
                conn.rollback()
                time.sleep(0.05)

    @contextmanager
    def flowing(self) -> Iterator[Requests]:
        thread = threading.Thread(target=self._run)
        thread.start()
        try:
            yield self
        finally:
            self.stop.set()
            thread.join()

    def failed(self) -> list[tuple[float, str, str | None, int | None]]:
        return [s for s in self.samples if s[2] is None or s[3] != 200]

    def first(self, host: str, release: str) -> float:
        return min(t for t, h, r, _ in self.samples if h == host and r == release)

    def last(self, host: str, release: str) -> float:
        return max(t for t, h, r, _ in self.samples if h == host and r == release)

    def column_since(self, column: str, present: bool) -> float:
        """When the database first had (or first lacked) ``column``."""
        return min(t for t, cols in self.columns if (column in cols) == present)


def test_expand_before_the_switch_contract_after_it_with_requests_flowing(
    site: tuple[ThrowawayDB, Path, SshHosts], bundle: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    db, tmp, ssh = site
    dist = tmp_path_factory.mktemp("expand")
    v1 = derive_bundle(bundle, dist, V1)
    e1 = derive_bundle(
        bundle,
        dist,
        E1,
        revisions={"0007_display_name.py": EXPAND, "0008_drop_sku.py": CONTRACT},
        app_patch=NEW_ITEMS,
    )
    # The same release with the drop left in the default (pre-deploy) phase.
    e1_unphased = derive_bundle(
        bundle,
        dist,
        E1.replace("-e1", "-e1pre"),
        revisions={"0007_display_name.py": EXPAND, "0008_drop_sku.py": CONTRACT_BODY},
        app_patch=NEW_ITEMS,
    )
    # E1, then a gift-cards table (pre) and its drop (post), on a build that is
    # unhealthy where no payments endpoint is configured (none is here).
    p3 = derive_bundle(
        bundle,
        dist,
        P3,
        revisions={
            "0007_display_name.py": EXPAND,
            "0008_drop_sku.py": CONTRACT,
            "0009_gift_cards.py": PRE_GIFT_CARDS,
            "0010_drop_gift_cards.py": POST_DROP_GIFT_CARDS,
        },
        app_patch=V3_APP,
    )
    inv = write_inventory(
        tmp / "expand-inventory",
        ssh,
        env="stage",
        database_url=db.url_str,
        bundle=v1,
        web=("web1", "web2"),
        migrator="web1",
        extra_vars={"slipway_app_health_retries": 15},
        http_port=http_port(),
    )
    try:
        first = inv.playbook("deploy")
        assert first.returncode == 0, first.stdout + first.stderr
        assert inv.serving() == {"web1": V1, "web2": V1}
        before = db.contents()

        refused = inv.playbook("deploy", "-e", f"slipway_db_bundle={e1_unphased}")
        assert refused.returncode != 0
        assert "0008" in refused.stdout and "post-deploy revision" in refused.stdout, (
            refused.stdout[-4000:]
        )
        assert "Switch |" not in refused.stdout  # no host began to switch
        assert inv.serving() == {"web1": V1, "web2": V1}
        assert db.revision() == "0006" and db.contents() == before

        requests = Requests(db, inv.nginx)
        with requests.flowing():
            done = inv.playbook("deploy", "-e", f"slipway_db_bundle={e1}")
            time.sleep(1)
        assert done.returncode == 0, done.stdout[-6000:] + done.stderr
        assert db.revision() == "0008"
        assert requests.failed() == [], requests.failed()[:5]
        expanded = requests.column_since("display_name", present=True)
        contracted = requests.column_since("sku", present=False)
        hosts = sorted(inv.nginx)
        # The old release served while the pre-deploy revision applied...
        assert all(requests.first(h, E1) > expanded for h in hosts)
        assert any(requests.last(h, V1) > expanded for h in hosts)
        # ...and the column it reads went only after the last host switched.
        assert contracted > max(requests.last(h, V1) for h in hosts)
        assert contracted > max(requests.first(h, E1) for h in hosts)
        assert inv.serving() == {"web1": E1, "web2": E1}
        runs = [r for r in history_rows(db) if r[0] == "release"]
        assert [r[1:] for r in runs[-2:]] == [("applied", "0007"), ("applied", "0008")]

        # Back to v1 while 0008 (post-deploy: the column v1 reads is gone) is applied:
        # refused before any host switches, naming the database rollback first.
        refused = inv.playbook("rollback", "-e", f"slipway_db_bundle={e1}")
        assert refused.returncode != 0
        assert "post-deploy revision(s) 0008" in refused.stdout, refused.stdout[-4000:]
        assert "slipway db rollback --to 0007" in refused.stdout
        assert inv.serving() == {"web1": E1, "web2": E1} and db.revision() == "0008"

        # A release that fails its health check on the first host: the pre-deploy
        # revision stays (backward compatible), the post-deploy one never runs, every
        # host serves what it served, and the run reports itself rolled back.
        failed = inv.playbook("deploy", "-e", f"slipway_db_bundle={p3}")
        assert failed.returncode != 0
        assert "failed on web1" in failed.stdout
        assert re.search(r'slipway_outcome"?:\s*"?rolled_back', failed.stdout), failed.stdout[
            -3000:
        ]
        assert db.revision() == "0009" and "gift_cards" in db.tables()
        assert "post-deploy revisions" not in failed.stdout.split("failed on web1")[-1]
        assert inv.serving() == {"web1": E1, "web2": E1}
    finally:
        inv.stop_services()


@pytest.fixture
def site(tmp_path: Path, ssh_hosts: SshHosts) -> Iterator[tuple[ThrowawayDB, Path, SshHosts]]:
    with protected_database("postgresql", tmp_path) as db:
        alembic_upgrade(db, STOREFRONT_INI, "0002")
        seed_storefront(db)
        yield db, tmp_path, ssh_hosts
