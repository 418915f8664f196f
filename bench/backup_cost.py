"""What slipway's backup costs beside raw pg_dump, in time and in memory.

A PostgreSQL database of its own on the local server, filled to --size-mb (default
1024), is dumped in turn by raw ``pg_dump -Fc``, raw ``pg_dump -Fd -j2`` and ``slipway
db backup`` (custom format, and directory format with 2 jobs: ``backup_jobs``), runs
interleaved. slipway's backup adds its preflight, the session lock, validation
(``pg_restore --list``), a streamed sha256 and the ledger's record. Peak resident
memory is read from /proc while each command runs: slipway's own process, and the
pg_dump processes beneath it.

    python bench/backup_cost.py [--size-mb 1024] [--runs 3] [--out bench/results]

Results: ``backup_cost.json``, ``backup_cost.md`` and, where matplotlib is installed,
``backup_cost.png``. The database is dropped afterwards.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).parent))
from benchlib import command_env, pyplot, scratch_database, write_results
from release_scaling import write_project

BIN = Path(sys.executable).parent


def _hwm_kib(pid: int) -> int:
    """Peak resident memory of a live process (VmHWM), 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    try:
        tasks = Path(f"/proc/{pid}/task").iterdir()
        found = []
        for task in tasks:
            found += [int(c) for c in (task / "children").read_text().split()]
        return found
    except OSError:
        return []


def run(argv: list[str], env: dict[str, str], cwd: Path) -> dict[str, float]:
    """Wall seconds, peak MiB of the process itself, and of its descendants."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL)
    own, below = 0, 0
    while proc.poll() is None:
        own = max(own, _hwm_kib(proc.pid))
        stack = _children(proc.pid)
        while stack:
            child = stack.pop()
            below = max(below, _hwm_kib(child))
            stack += _children(child)
        time.sleep(0.02)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} exited {proc.returncode}")
    return {"s": seconds, "own_mib": own / 1024, "children_mib": below / 1024}


def fill(url: str, size_mb: int) -> int:
    """Rows of about 700 bytes until the database holds size_mb; its size in bytes."""
    engine = sa.create_engine(url)
    rows = max(1, size_mb * 1024 * 1024 // 760)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE payload (id bigint PRIMARY KEY, body text NOT NULL)")
        step = 200_000
        for first in range(1, rows + 1, step):
            last = min(rows, first + step - 1)
            conn.exec_driver_sql(
                "INSERT INTO payload SELECT g, md5(g::text) || repeat(md5((g * 7)::text), 20) "
                f"FROM generate_series({first}, {last}) AS g"
            )
    with engine.connect() as conn:
        size = int(conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar())
    engine.dispose()
    return size


def measure(url: str, size_mb: int, runs: int, work: Path) -> dict[str, object]:
    ini = write_project(work / "project", 1, url)
    u = sa.engine.make_url(url)
    env = command_env(
        BENCH_DB_URL=url,
        PGHOST=u.host or "",
        PGPORT=str(u.port or 5432),
        PGUSER=u.username or "",
        PGDATABASE=u.database or "",
    )
    for jobs in (1, 2):
        (work / f"slipway-{jobs}.yml").write_text(
            "defaults:\n  lint_fail_on: never\n  rehearse: never\n"
            f"  artifacts_dir: {work / 'artifacts'}\n  backup_dir: {work / 'backups'}\n"
            f"  backup_keep: 1\n  backup_jobs: {jobs}\n"
            "environments:\n  bench:\n    database_url_env: BENCH_DB_URL\n"
            f"    alembic_ini: {ini}\n"
        )
    cwd = work / "project"
    subprocess.run(
        [
            str(BIN / "slipway"),
            "db",
            "release",
            "--env",
            "bench",
            "--quiet",
            "--config",
            str(work / "slipway-1.yml"),
        ],
        env=env,
        cwd=cwd,
        check=True,
    )
    # The application's rows, once the database has its revision (a database with tables
    # and no version is refused by preflight).
    size = fill(url, size_mb)
    pg_dump = shutil.which("pg_dump") or "pg_dump"
    commands = {
        "pg_dump -Fc": [pg_dump, "-Fc", "-f", str(work / "raw.dump")],
        "pg_dump -Fd -j2": [pg_dump, "-Fd", "-j2", "-f", str(work / "raw.dir")],
        **{
            f"slipway backup ({fmt})": [
                *(str(BIN / "slipway"), "db", "backup", "--env", "bench", "--quiet"),
                *("--config", str(work / f"slipway-{jobs}.yml")),
            ]
            for jobs, fmt in ((1, "-Fc"), (2, "-Fd -j2"))
        },
    }
    samples: dict[str, list[dict[str, float]]] = {k: [] for k in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            for old in (work / "raw.dump", work / "raw.dir"):
                shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink(
                    missing_ok=True
                )
            samples[name].append(run(argv, env, cwd))
    rows = []
    raw = {
        "-Fc": statistics.median(s["s"] for s in samples["pg_dump -Fc"]),
        "-Fd": statistics.median(s["s"] for s in samples["pg_dump -Fd -j2"]),
    }
    for name, got in samples.items():
        seconds = statistics.median(s["s"] for s in got)
        base = raw["-Fd"] if "-Fd" in name else raw["-Fc"]
        rows.append(
            {
                "command": name,
                "database_mb": round(size / 2**20),
                "seconds": round(seconds, 2),
                "ratio_to_raw": round(seconds / base, 2),
                "peak_own_mib": round(max(s["own_mib"] for s in got), 1),
                "peak_pg_dump_mib": round(max(s["children_mib"] for s in got), 1)
                if name.startswith("slipway")
                else round(max(s["own_mib"] for s in got), 1),
            }
        )
    return {"database_bytes": size, "runs": runs, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    with scratch_database() as url, tempfile.TemporaryDirectory() as tmp:
        result = measure(url, args.size_mb, args.runs, Path(tmp))
    rows = result["rows"]
    assert isinstance(rows, list)
    lines = [
        f"Database: {rows[0]['database_mb']} MiB (pg_database_size); medians of "
        f"{result['runs']} interleaved runs; peak resident memory over all runs.",
        "",
        "| command | seconds | x raw pg_dump | peak MiB (slipway / its own process) | "
        "peak MiB (largest pg_dump process) |",
        "|---|---|---|---|---|",
        *(
            f"| {r['command']} | {r['seconds']} | {r['ratio_to_raw']} | "
            f"{r['peak_own_mib'] if str(r['command']).startswith('slipway') else '-'} | "
            f"{r['peak_pg_dump_mib']} |"
            for r in rows
        ),
    ]
    write_results(args.out, "backup_cost", result, lines)
    plt = pyplot()
    if plt is None:
        return
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    labels = [str(r["command"]).replace(" (", "\n(") for r in rows]
    left.bar(labels, [r["seconds"] for r in rows], color=["grey", "grey", "C0", "C0"])
    left.set_ylabel(f"seconds to back up {rows[0]['database_mb']} MiB")
    for i, r in enumerate(rows):
        left.annotate(f"{r['ratio_to_raw']}x", (i, r["seconds"]), ha="center", va="bottom")
    right.bar(
        labels,
        [r["peak_own_mib"] if str(r["command"]).startswith("slipway") else 0 for r in rows],
        color="C0",
        label="slipway's own process",
    )
    right.bar(
        labels,
        [r["peak_pg_dump_mib"] for r in rows],
        bottom=[r["peak_own_mib"] if str(r["command"]).startswith("slipway") else 0 for r in rows],
        color="grey",
        label="pg_dump",
    )
    right.axhline(100, color="red", linestyle=":", linewidth=1, label="100 MiB target")
    right.set_ylabel("peak resident MiB")
    right.legend()
    for ax in (left, right):
        ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    fig.savefig(args.out / "backup_cost.png", dpi=100)


if __name__ == "__main__":
    main()
