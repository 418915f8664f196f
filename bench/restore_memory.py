"""What slipway's PostgreSQL restore costs beside raw pg_restore, in time and memory:
slipway streams pg_restore's script into psql in 1 MiB chunks, so its own memory stays
flat however large the backup is.

A database of its own on the local server, filled to --size-mb (default 1024), is
backed up by ``slipway db backup``; then, interleaved, ``slipway db restore`` of that
backup and raw ``pg_restore --clean --if-exists --single-transaction`` of the same file.
Peak resident memory is read from /proc while each runs: slipway's own process, and the
largest process beneath it (pg_restore, psql).

    python bench/restore_memory.py [--size-mb 1024] [--runs 2] [--out bench/results]

Results: ``restore_memory.json``, ``restore_memory.md`` and, where matplotlib is
installed, ``restore_memory.png``. The database is dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).parent))
from backup_cost import BIN, fill, run
from benchlib import command_env, pyplot, scratch_database, write_results
from release_scaling import write_project

TARGET_MIB = 100


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
    config = work / "slipway.yml"
    config.write_text(
        "defaults:\n  lint_fail_on: never\n  rehearse: never\n"
        f"  artifacts_dir: {work / 'artifacts'}\n  backup_dir: {work / 'backups'}\n"
        "environments:\n  bench:\n    database_url_env: BENCH_DB_URL\n"
        f"    alembic_ini: {ini}\n"
    )
    cwd = work / "project"
    slipway = [str(BIN / "slipway"), "db"]
    common = ["--env", "bench", "--config", str(config)]
    subprocess.run([*slipway, "release", *common, "--quiet"], env=env, cwd=cwd, check=True)
    size = fill(url, size_mb)
    taken = subprocess.run(
        [*slipway, "backup", *common, "--json"],
        env=env,
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    )
    backup = Path(json.loads(taken.stdout)["backup"]["path"])
    pg_restore = shutil.which("pg_restore") or "pg_restore"
    commands = {
        "slipway db restore": [
            *slipway,
            "restore",
            *common,
            "--quiet",
            "--backup",
            str(backup),
            "--yes",
        ],
        "pg_restore --single-transaction": [
            *(pg_restore, "--clean", "--if-exists", "--single-transaction", "--no-owner"),
            *("-d", u.database or "", str(backup)),
        ],
    }
    samples: dict[str, list[dict[str, float]]] = {k: [] for k in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            samples[name].append(run(argv, env, cwd))
    raw = statistics.median(s["s"] for s in samples["pg_restore --single-transaction"])
    rows = []
    for name, got in samples.items():
        seconds = statistics.median(s["s"] for s in got)
        rows.append(
            {
                "command": name,
                "database_mb": round(size / 2**20),
                "backup_mb": round(backup.stat().st_size / 2**20, 1),
                "seconds": round(seconds, 2),
                "ratio_to_raw": round(seconds / raw, 2),
                "peak_own_mib": round(max(s["own_mib"] for s in got), 1),
                "peak_children_mib": round(max(s["children_mib"] for s in got), 1),
            }
        )
    return {"database_bytes": size, "runs": runs, "target_mib": TARGET_MIB, "rows": rows}


def plot(rows: list[dict[str, object]], out: Path) -> None:
    plt = pyplot()
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(6, 3.5))
    names = [str(r["command"]) for r in rows]
    ax.bar(names, [float(str(r["peak_own_mib"])) for r in rows], label="own process")
    ax.axhline(TARGET_MIB, color="red", linestyle=":", label=f"{TARGET_MIB} MiB")
    ax.set_ylabel("peak resident memory (MiB)")
    ax.set_title(f"restore of a {rows[0]['database_mb']} MiB database")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "restore_memory.png", dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    with scratch_database() as url, tempfile.TemporaryDirectory() as tmp:
        result = measure(url, args.size_mb, args.runs, Path(tmp))
    rows = result["rows"]
    assert isinstance(rows, list)
    lines = [
        f"Database: {rows[0]['database_mb']} MiB (pg_database_size), backup "
        f"{rows[0]['backup_mb']} MiB (pg_dump -Fc); medians of {result['runs']} interleaved "
        f"runs; peak resident memory over all runs (target: slipway under {TARGET_MIB} MiB).",
        "",
        "| command | seconds | x raw pg_restore | peak MiB (own process) | "
        "peak MiB (largest child: pg_restore, psql) |",
        "|---|---|---|---|---|",
        *(
            f"| {r['command']} | {r['seconds']} | {r['ratio_to_raw']} | "
            f"{r['peak_own_mib']} | {r['peak_children_mib']} |"
            for r in rows
        ),
    ]
    write_results(args.out, "restore_memory", result, lines)
    plot(rows, args.out)


if __name__ == "__main__":
    main()
