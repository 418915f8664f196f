"""Wall time of a rolling deploy on 1, 2, 4 and 8 hosts.

Each size gets hosts of its own: loopback addresses (127.0.0.2 onwards) served by one
sshd of the benchmark's own, reached as the unprivileged ``deploy`` user with sudo, a
deploy root each, each host its own nginx and supervisord (the lab the Ansible tests
use: ``make services`` prepares it). The storefront is released with
``ansible-playbook playbooks/deploy.yml``: installed on every host at once, the guarded
migration once, then switched host by host (``serial: 1``), each switch gated by the
host's health check. Two releases in turn, timed each: the first install (v1, from an
empty database), then an upgrade that carries one migration (v2).

    python bench/rolling_deploy.py [--hosts 1 2 4 8] [--releases 2] [--bundle B]
        [--out bench/results]

Results: ``rolling_deploy.json``, ``rolling_deploy.md`` and, where matplotlib is
installed, ``rolling_deploy.png``. ``--bundle`` reuses a bundle built by
``make bundle`` (else one is built for this machine's Python).
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from ansible_env import build_bundle, derive_bundle, start_sshd, write_inventory
from benchlib import pyplot, scratch_database, write_results

V1 = "storefront-20260101T000000Z-bench1"
V2 = "storefront-20260201T000000Z-bench2"
REVISION = '''"""users.nickname

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade():
    op.add_column("users", sa.Column("nickname", sa.String(40), nullable=True))


def downgrade():
    op.drop_column("users", "nickname")
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def measure(n: int, releases: list[Path], work: Path) -> dict[str, object]:
    addresses = tuple(f"127.0.0.{2 + i}" for i in range(n))
    hosts = tuple(f"web{i + 1}" for i in range(n))
    sshd = start_sshd(work / f"ssh-{n}", port=free_port(), addresses=addresses)
    ssh = next(sshd)
    row: dict[str, object] = {"hosts": n}
    try:
        with scratch_database() as url:
            inv = write_inventory(
                work / f"inventory-{n}",
                ssh,
                env="stage",
                database_url=url,
                bundle=releases[0],
                web=hosts,
                migrator=hosts[0],
                extra_vars={"slipway_app_serial": 1, "slipway_app_health_retries": 30},
                http_port=free_port(),
            )
            try:
                for name, bundle in zip(("install_s", "upgrade_s"), releases, strict=False):
                    start = time.perf_counter()
                    done = inv.playbook("deploy", "-e", f"slipway_db_bundle={bundle}", timeout=1800)
                    if done.returncode != 0:
                        raise SystemExit(f"deploy on {n} host(s) failed:\n{done.stdout[-3000:]}")
                    row[name] = round(time.perf_counter() - start, 1)
                serving = inv.serving()
                expected = V2 if len(releases) > 1 else V1
                if set(serving.values()) != {expected}:
                    raise SystemExit(f"hosts answer {serving}, not {expected}")
            finally:
                inv.stop_services()
    finally:
        sshd.close()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--releases", type=int, choices=(1, 2), default=2)
    parser.add_argument("--bundle", type=Path, help="a bundle from `make bundle`")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        base = args.bundle or build_bundle(work / "dist")
        releases = [derive_bundle(base, work / "dist", V1)]
        if args.releases == 2:
            releases.append(
                derive_bundle(base, work / "dist", V2, revisions={"0007_nickname.py": REVISION})
            )
        rows = [measure(n, releases, work) for n in sorted(args.hosts)]
    one = rows[0]
    lines = [
        "| hosts | first install, v1 (s) | upgrade with a migration, v2 (s) | v2 per host (s) "
        "| v2 x 1 host |",
        "|---|---|---|---|---|",
        *(
            f"| {r['hosts']} | {r['install_s']} | {r.get('upgrade_s', '-')} | "
            + (
                f"{round(float(str(r['upgrade_s'])) / int(str(r['hosts'])), 1)} | "
                f"{round(float(str(r['upgrade_s'])) / float(str(one['upgrade_s'])), 2)}x |"
                if "upgrade_s" in r
                else "- | - |"
            )
            for r in rows
        ),
    ]
    write_results(args.out, "rolling_deploy", rows, lines)
    plt = pyplot()
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    xs = [int(str(r["hosts"])) for r in rows]
    ax.plot(xs, [r["install_s"] for r in rows], "o-", label="first install (v1)")
    if all("upgrade_s" in r for r in rows):
        ax.plot(xs, [r["upgrade_s"] for r in rows], "s-", label="upgrade with a migration (v2)")
    ax.set_xticks(xs)
    ax.set_xlabel("hosts (serial 1: switched one at a time)")
    ax.set_ylabel("seconds, ansible-playbook deploy.yml")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / "rolling_deploy.png", dpi=100)


if __name__ == "__main__":
    main()
