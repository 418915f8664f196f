"""Application latency while a migration waits behind a long transaction.

A PostgreSQL table ``orders`` takes application traffic (8 threads of short reads, each
its own connection). A report job holds ACCESS SHARE on it in a --hold-s (default 20)
second transaction; one second later a migration that needs ACCESS EXCLUSIVE starts
(adding a nullable column). Three runs, one after the other, on a fresh table each:

- bare ``alembic upgrade head``: its lock request waits at the head of the queue, and
  every application query waits behind it until the report job ends;
- ``slipway db release`` at its defaults: each try waits at most ``lock_timeouts_s``
  (1 s), then gives the queue back and tries again after a pause, within the retry
  window; the blocker is named in the report;
- slipway with ``terminate_blockers_after_s: 5``: the blocking transaction, once older
  than 5 s, is ended and recorded.

    python bench/lock_latency.py [--hold-s 20] [--out bench/results]

Results: ``lock_latency.json``, ``lock_latency.md`` and, with matplotlib,
``lock_latency.png`` (each query's latency against the time it started). The database
is dropped afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).parent))
from benchlib import command_env, pyplot, scratch_database, write_results

BIN = Path(sys.executable).parent
THREADS = 8

ENV = """
from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config
engine = engine_from_config(
    config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
)
with engine.connect() as conn:
    context.configure(connection=conn, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
"""
REVISION = '''"""orders.note"""
import sqlalchemy as sa
from alembic import op

revision = "n001"
down_revision = None


def upgrade():
    op.add_column("orders", sa.Column("note", sa.Text, nullable=True))


def downgrade():
    op.drop_column("orders", "note")
'''


def project(work: Path, url: str) -> Path:
    (work / "versions").mkdir(parents=True)
    (work / "env.py").write_text(ENV)
    (work / "versions" / "n001_note.py").write_text(REVISION)
    ini = work / "alembic.ini"
    ini.write_text(f"[alembic]\nscript_location = %(here)s\nsqlalchemy.url = {url}\n")
    return ini


class Traffic:
    """Short reads of orders by primary key, from THREADS connections, until stopped."""

    def __init__(self, engine: sa.Engine, t0: float) -> None:
        self.engine, self.t0 = engine, t0
        self.samples: list[tuple[float, float, bool]] = []  # (start, latency, ok)
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def worker(self) -> None:
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SET application_name = 'storefront'")
            conn.commit()
            while not self.stop.is_set():
                start = time.perf_counter()
                try:
                    conn.execute(
                        sa.text("SELECT total_cents FROM orders WHERE id = :id"),
                        {"id": random.randint(1, 1000)},  # noqa: S311 - a load, not a secret
                    ).all()
                    conn.commit()
                    ok = True
                except sa.exc.DBAPIError:
                    conn.rollback()
                    ok = False
                end = time.perf_counter()
                with self.lock:
                    self.samples.append((start - self.t0, end - start, ok))
                time.sleep(0.01)

    def __enter__(self) -> Traffic:
        self.threads = [threading.Thread(target=self.worker) for _ in range(THREADS)]
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()


def scenario(name: str, url: str, work: Path, hold_s: float) -> dict[str, Any]:
    engine = sa.create_engine(url, pool_size=THREADS + 2)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS orders, alembic_version CASCADE")
        conn.exec_driver_sql("DROP TABLE IF EXISTS slipway_history, slipway_checksum CASCADE")
        conn.exec_driver_sql("CREATE TABLE orders (id int PRIMARY KEY, total_cents int NOT NULL)")
        conn.exec_driver_sql("INSERT INTO orders SELECT g, g * 10 FROM generate_series(1, 1000) g")
    ini = project(work / name, url)
    config = work / name / "slipway.yml"
    extra = "    terminate_blockers_after_s: 5\n" if name == "slipway, terminating" else ""
    config.write_text(
        f"defaults:\n  artifacts_dir: {work / name / 'artifacts'}\n"
        f"  backup_dir: {work / name / 'backups'}\n"
        "environments:\n  bench:\n    database_url_env: BENCH_DB_URL\n"
        f"    alembic_ini: {ini}\n{extra}"
    )
    if name == "bare alembic":
        argv = [str(BIN / "alembic"), "-c", str(ini), "upgrade", "head"]
    else:
        argv = [
            str(BIN / "slipway"),
            "db",
            "release",
            "--env",
            "bench",
            "--json",
            "--config",
            str(config),
        ]
    env = command_env(BENCH_DB_URL=url)
    t0 = time.perf_counter()
    blocker = engine.connect()
    with Traffic(engine, t0) as traffic:
        time.sleep(2)
        blocker.exec_driver_sql("SET application_name = 'report-job'")
        blocker_pid = blocker.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        blocker.exec_driver_sql("SELECT count(*) FROM orders").all()  # ACCESS SHARE, held
        held_from = time.perf_counter() - t0
        time.sleep(1)
        started = time.perf_counter() - t0
        migration = subprocess.Popen(
            argv,
            env=env,
            cwd=work / name,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        while time.perf_counter() - t0 < held_from + hold_s and migration.poll() is None:
            time.sleep(0.05)
        with contextlib.suppress(sa.exc.DBAPIError):  # ended by slipway
            blocker.commit()
        blocker.close()
        out, _ = migration.communicate(timeout=600)
        ended = time.perf_counter() - t0
        time.sleep(2)
    engine.dispose()
    report = json.loads(out) if out.strip().startswith("{") else {}
    lats = [lat for _, lat, _ in traffic.samples]
    named = [b for w in report.get("data", {}).get("lock_waits", []) for b in w.get("blockers", [])]
    return {
        "scenario": name,
        "exit_code": migration.returncode,
        "outcome": report.get("outcome", "applied" if migration.returncode == 0 else "failed"),
        "migration_s": round(ended - started, 2),
        "queries": len(lats),
        "failed_queries": sum(1 for *_, ok in traffic.samples if not ok),
        "max_latency_s": round(max(lats), 3),
        "queries_over_1_2_s": sum(1 for x in lats if x > 1.2),
        "blocker_named": any(b.get("pid") == blocker_pid for b in named),
        "blocker_query_named": any("count(*) FROM orders" in str(b.get("query")) for b in named),
        "terminated": [b.get("pid") for b in report.get("data", {}).get("terminated_blockers", [])],
        "samples": [(round(s, 3), round(lat, 4), ok) for s, lat, ok in traffic.samples],
        "timeline": {"held_from": held_from, "migration_from": started, "ended": ended},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hold-s", type=float, default=20)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    rows = []
    with scratch_database() as url, tempfile.TemporaryDirectory() as tmp:
        for which in ("bare alembic", "slipway, defaults", "slipway, terminating"):
            rows.append(scenario(which, url, Path(tmp), args.hold_s))
    lines = [
        f"A {args.hold_s:g} s transaction holds ACCESS SHARE on orders; the migration needs "
        f"ACCESS EXCLUSIVE; {THREADS} threads of application reads.",
        "",
        "| run | outcome | migration (s) | app queries | failed | max latency (s) | "
        "queries > 1.2 s | blocker named (pid, query) | terminated |",
        "|---|---|---|---|---|---|---|---|---|",
        *(
            f"| {r['scenario']} | {r['outcome']} | {r['migration_s']} | {r['queries']} | "
            f"{r['failed_queries']} | {r['max_latency_s']} | {r['queries_over_1_2_s']} | "
            f"{'yes' if r['blocker_named'] and r['blocker_query_named'] else 'no'} | "
            f"{len(r['terminated'])} |"
            for r in rows
        ),
    ]
    write_results(args.out, "lock_latency", rows, lines)
    plt = pyplot()
    if plt is None:
        return
    fig, axes = plt.subplots(len(rows), 1, figsize=(9, 2.4 * len(rows)), sharex=True)
    for ax, r in zip(axes, rows, strict=True):
        xs = [s for s, _, _ in r["samples"]]
        ys = [lat for _, lat, _ in r["samples"]]
        ax.scatter(xs, ys, s=2)
        tl = r["timeline"]
        ax.axvspan(
            tl["held_from"],
            tl["held_from"] + args.hold_s,
            color="orange",
            alpha=0.15,
            label="report job holds ACCESS SHARE",
        )
        ax.axvline(tl["migration_from"], color="red", linewidth=1, label="migration starts")
        ax.axvline(tl["ended"], color="green", linewidth=1, label="migration ends")
        ax.set_title(f"{r['scenario']}: max {r['max_latency_s']} s, {r['outcome']}", fontsize=9)
        ax.set_ylabel("query latency (s)")
    axes[0].legend(fontsize=7, loc="upper right")
    axes[-1].set_xlabel("seconds since the traffic started")
    fig.tight_layout()
    fig.savefig(args.out / "lock_latency.png", dpi=100)


if __name__ == "__main__":
    main()
