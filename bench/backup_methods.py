"""The release's safety step against database size, per backup method.

A private PostgreSQL archives its WAL through pgBackRest (tests/archived_pg.py); a
database on it is filled with pgbench's tables to each size, plus a table ``at_risk``
of about ``--at-risk-mb`` that the one pending revision rewrites (``UPDATE``), and
``slipway db backup`` runs with ``backup: full`` (a dump), ``backup: restore_point`` (a
named restore point whose WAL segment is archived before the step ends), ``backup:
targeted`` (the rows of ``at_risk`` and the schema of everything) and both of the last
two, as a release of that revision would. The backup step's own duration is read from
the report. The 1 TB figure beside the plot is each method's
least-squares line through the measured sizes, taken to 1 TB (never below the largest
time measured: a cost that does not grow stays where it was).

    python bench/backup_methods.py [--sizes-mb 100 1000 2000] [--at-risk-mb 50]
        [--runs 3] [--out bench/results]

Results: ``backup_methods.json``, ``backup_methods.md`` and, where matplotlib is
installed, ``backup_methods.png``.
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
sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from archived_pg import STANZA, Archived, archived_server, bindir
from benchlib import command_env, pyplot, write_results
from release_scaling import write_project

BIN = Path(sys.executable).parent
TB_MB = 1024 * 1024
METHODS = ("full", "restore_point", "targeted", "[restore_point, targeted]")


def fill(server: Archived, database: str, size_mb: int, at_risk_mb: int, work: Path) -> int:
    """A new database released to the project's revision, then pgbench's tables at the
    scale that makes about ``size_mb`` and ``at_risk`` of about ``at_risk_mb``; the
    bytes it holds."""
    server.execute(f"DROP DATABASE IF EXISTS {database}", f"CREATE DATABASE {database}")
    url = server.url(database).render_as_string(hide_password=False)
    prepare = config(work, server, "false")
    argv = [str(BIN / "slipway"), "db", "release", "--env", "bench", "--config", str(prepare)]
    subprocess.run(
        argv, env=command_env(BENCH_DB_URL=url), cwd=work, check=True, capture_output=True
    )
    scale = max(1, round(size_mb / 15))  # pgbench: about 15 MB per scale unit
    subprocess.run(
        [
            str(bindir() / "pgbench"),
            "-i",
            "-q",
            "-s",
            str(scale),
            "-h",
            "127.0.0.1",
            "-p",
            str(server.port),
            "-U",
            "postgres",
            database,
        ],
        check=True,
        capture_output=True,
    )
    rows = at_risk_mb * 2**20 // 120  # about 120 bytes a row on disk
    on = server.url(database)
    engine = sa.create_engine(on, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE at_risk AS SELECT i AS id, md5(i::text) || md5(i::text) AS body "
            f"FROM generate_series(1, {rows}) i"
        )
    engine.dispose()
    size = server.scalar(f"SELECT pg_database_size('{database}')")
    assert isinstance(size, int)
    return size


def pending_rewrite(root: Path) -> None:
    """The pending revision: it rewrites ``at_risk`` (what a targeted backup holds)."""
    (root / "versions" / "rewrite.py").write_text(
        "from alembic import op\n\nrevision = 'rewrite'\ndown_revision = 'r0000'\n\n\n"
        'def upgrade():\n    op.execute("UPDATE at_risk SET body = upper(body)")\n\n\n'
        'def downgrade():\n    op.execute("UPDATE at_risk SET body = lower(body)")\n'
    )


def config(root: Path, server: Archived, method: str) -> Path:
    path = root / f"slipway-{method.strip('[]').replace(', ', '+')}.yml"
    path.write_text(
        "environments:\n  bench:\n    database_url_env: BENCH_DB_URL\n"
        f"    alembic_ini: {root / 'alembic.ini'}\n"
        f"    artifacts_dir: {root / 'artifacts'}\n    backup_dir: {root / 'backups'}\n"
        "    backup_keep: 1\n"
        f"    backup: {method}\n    pgbackrest_stanza: {STANZA}\n    lint_fail_on: never\n"
        f"    pgbackrest_config: {server.config}\n"
    )
    return path


def backup_step(cfg: Path, url: str) -> float:
    argv = [str(BIN / "slipway"), "db", "backup", "--env", "bench", "--config", str(cfg)]
    done = subprocess.run(
        [*argv, "--json"],
        capture_output=True,
        text=True,
        env=command_env(BENCH_DB_URL=url),
        cwd=cfg.parent,
        check=False,
    )
    report = json.loads(done.stdout)
    assert report["outcome"] == "applied", done.stderr
    return float(next(s["duration_s"] for s in report["steps"] if s["name"] == "backup"))


def fit(points: list[tuple[float, float]]) -> tuple[float, float]:
    """(intercept, slope) of the least-squares line through (mb, seconds)."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    if len(set(xs)) < 2:
        return ys[0], 0.0
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )
    return my - slope * mx, slope


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes-mb", type=int, nargs="+", default=[100, 1000, 2000])
    parser.add_argument("--at-risk-mb", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-backup-methods-"))
    rows: list[dict[str, object]] = []
    try:
        write_project(work, 1)
        with archived_server() as server:
            for size_mb in args.sizes_mb:
                (work / "versions" / "rewrite.py").unlink(missing_ok=True)
                made = fill(server, "bench", size_mb, args.at_risk_mb, work)
                pending_rewrite(work)
                url = server.url("bench").render_as_string(hide_password=False)
                for method in METHODS:
                    cfg = config(work, server, method)
                    took = [backup_step(cfg, url) for _ in range(args.runs)]
                    rows.append(
                        {
                            "method": method,
                            "size_mb": round(made / 2**20),
                            "runs": args.runs,
                            "backup_step_s": round(statistics.median(took), 3),
                        }
                    )
                    shutil.rmtree(work / "backups", ignore_errors=True)
                    shutil.rmtree(work / "artifacts", ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    at_tb = {}
    for method in METHODS:
        a, b = fit(
            [
                (float(r["size_mb"]), float(r["backup_step_s"]))
                for r in rows
                if r["method"] == method
            ]  # type: ignore[arg-type]
        )
        # A cost that does not grow (noise makes its line's slope negative) stays at
        # the largest time measured.
        measured = [float(r["backup_step_s"]) for r in rows if r["method"] == method]  # type: ignore[arg-type]
        at_tb[method] = round(max(a + b * TB_MB, max(measured)), 1)
    lines = [
        "| method | database (MB) | backup step (s) |",
        "|---|---|---|",
        *(f"| {r['method']} | {r['size_mb']} | {r['backup_step_s']} |" for r in rows),
        "",
        "Extrapolated to 1 TB (least-squares line through the sizes measured, at least "
        "the largest time measured): " + ", ".join(f"{m} {at_tb[m]:g} s" for m in METHODS),
    ]
    write_results(args.out, "backup_methods", {"rows": rows, "at_1tb_s": at_tb}, lines)
    plt = pyplot()
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(7, 4))
    for method in METHODS:
        mine = [r for r in rows if r["method"] == method]
        ax.plot(
            [r["size_mb"] for r in mine],
            [r["backup_step_s"] for r in mine],
            marker="o",
            label=f"{method} (1 TB: ~{at_tb[method]:g} s)",
        )
    ax.set_xlabel("database size (MB)")
    ax.set_ylabel("backup step (s, median)")
    ax.set_title("The release's safety step against database size (PostgreSQL)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / "backup_methods.png", dpi=100)


if __name__ == "__main__":
    main()
