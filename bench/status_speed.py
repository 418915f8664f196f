"""How long `slipway db status` takes on an up-to-date database, beside `alembic current`.

Both as a person runs them: a new process each time (interpreter start included), on a
30-revision history released to head, on SQLite and on PostgreSQL (a database of its
own on the local server, dropped afterwards). Medians of N runs, interleaved.

    python bench/status_speed.py [--revisions 30] [--runs 7] [--out bench/results]

Results: ``status_speed.json`` and ``status_speed.md``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from benchlib import command_env, pyplot, scratch_database, write_results
from release_scaling import write_project

BIN = Path(sys.executable).parent


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def measure(dialect: str, url: str, n: int, runs: int, work: Path) -> dict[str, object]:
    ini = write_project(work / dialect, n, url)
    (work / dialect / "slipway.yml").write_text(
        "defaults:\n  lint_fail_on: never\n  rehearse: never\n"
        f"  artifacts_dir: {work / dialect / 'artifacts'}\n"
        f"  backup_dir: {work / dialect / 'backups'}\n"
        "environments:\n  bench:\n    database_url_env: BENCH_DB_URL\n"
        f"    alembic_ini: {ini}\n"
    )
    env = command_env(BENCH_DB_URL=url)
    cwd = work / dialect
    release = [str(BIN / "slipway"), "db", "release", "--env", "bench", "--quiet"]
    subprocess.run(release, env=env, cwd=cwd, check=True)
    status = [str(BIN / "slipway"), "db", "status", "--env", "bench", "--quiet"]
    current = [str(BIN / "alembic"), "-c", str(ini), "current"]
    slipway_s, alembic_s = [], []
    for _ in range(runs):
        slipway_s.append(timed(status, env, cwd))
        alembic_s.append(timed(current, env, cwd))
    s, a = statistics.median(slipway_s), statistics.median(alembic_s)
    return {
        "dialect": dialect,
        "revisions": n,
        "slipway_status_s": round(s, 3),
        "alembic_current_s": round(a, 3),
        "ratio": round(s / a, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revisions", type=int, default=30)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        lite = f"sqlite:///{work / 'bench.db'}"
        rows.append(measure("sqlite", lite, args.revisions, args.runs, work))
        with scratch_database() as url:
            rows.append(measure("postgresql", url, args.revisions, args.runs, work))
    lines = [
        "| dialect | revisions | slipway db status (s) | alembic current (s) | ratio |",
        "|---|---|---|---|---|",
        *(
            f"| {r['dialect']} | {r['revisions']} | {r['slipway_status_s']} | "
            f"{r['alembic_current_s']} | {r['ratio']} |"
            for r in rows
        ),
    ]
    write_results(args.out, "status_speed", rows, lines)
    plt = pyplot()
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    xs = range(len(rows))
    ax.bar(
        [x - 0.2 for x in xs], [r["slipway_status_s"] for r in rows], 0.4, label="slipway db status"
    )
    ax.bar(
        [x + 0.2 for x in xs], [r["alembic_current_s"] for r in rows], 0.4, label="alembic current"
    )
    ax.set_xticks(list(xs), [f"{r['dialect']} ({r['ratio']}x)" for r in rows])
    ax.set_ylabel(f"seconds, new process, {args.revisions} revisions, up to date")
    ax.axhline(1.0, color="grey", linestyle=":", linewidth=1)
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / "status_speed.png", dpi=100)


if __name__ == "__main__":
    main()
