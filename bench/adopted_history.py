"""A long history after `slipway db adopt`: its first release, and a release of one new
revision on top of it, beside bare ``alembic upgrade head``; and how the cost grows with
the number of pending revisions.

Histories:

- ``warehouse``: the Python Package Index's 288 revisions (bench/histories/warehouse:
  PostgreSQL only, a branch point, merges, CITEXT, alembic-postgresql-enum, data
  migrations);
- ``synthetic``: bench/release_scaling.py's history of tables, columns, indexes, updates
  and bulk inserts, at the same length, on every dialect.

Each slipway run is at default settings (the backup included; rehearsal, lint and
render by their defaults), in a new process, against a database of its own; alembic and
slipway runs are interleaved, and medians reported. Before the timed runs the project is
adopted once (``slipway-baseline.yml`` beside its ini, as a team commits it). The
linearity rows release a synthetic history that was not adopted (every revision pending,
linted and rendered) at two sizes.

    python bench/adopted_history.py [--dialects sqlite postgresql mariadb]
        [--histories warehouse synthetic] [--size 288] [--linear 30 120] [--runs 3]
        [--out bench/results]

Results: ``adopted_history.json``, ``adopted_history.md`` and, where matplotlib is
installed, ``adopted_history.png``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from benchlib import command_env, pyplot, write_results
from release_scaling import BIN, ENV, _timed, empty_database, write_project

WAREHOUSE = Path(__file__).parent / "histories" / "warehouse"
WAREHOUSE_ENV = "import alembic_postgresql_enum  # noqa: F401\n" + ENV
ON_TOP = {
    "warehouse": 'op.add_column("users", sa.Column("bench_note", sa.Text(), nullable=True))',
    "synthetic": 'op.add_column("events", sa.Column("bench_note", sa.Text(), nullable=True))',
}


def _ini(root: Path, url: str, extra: str = "") -> None:
    (root / "alembic.ini").write_text(
        f"[alembic]\nscript_location = %(here)s\npath_separator = os\n{extra}"
        f"sqlalchemy.url = {url}\n"
    )


def make_project(history: str, size: int, work: Path) -> tuple[Path, str]:
    """The project of ``history`` in a new folder of ``work``; its head revision."""
    root = Path(tempfile.mkdtemp(prefix=f"{history}-{size}-", dir=work))
    if history == "synthetic":
        write_project(root, size)
        return root, f"r{size - 1:04d}"
    (root / "versions").mkdir(parents=True)
    for path in (WAREHOUSE / "versions").glob("*.py"):
        shutil.copy(path, root / "versions" / path.name)
    (root / "env.py").write_text(WAREHOUSE_ENV)
    _ini(root, "sqlite://", f"prepend_sys_path = {WAREHOUSE}\n")
    heads = _alembic(root, "sqlite://", "heads")[1].split()
    return root, heads[0]


def _alembic(root: Path, url: str, *args: str) -> tuple[float, str]:
    """``alembic ARGS`` on ``url``: its wall time and output."""
    ini = root / "alembic.ini"
    kept = [ln for ln in ini.read_text().splitlines() if not ln.startswith("sqlalchemy.url")]
    ini.write_text("\n".join([*kept, f"sqlalchemy.url = {url}", ""]))
    return _timed([str(BIN / "alembic"), "-c", str(ini), *args], command_env(), root)


def add_on_top(root: Path, history: str, head: str) -> str:
    (root / "versions" / "zz_bench_on_top.py").write_text(
        "import sqlalchemy as sa\nfrom alembic import op\n\n"
        f"revision = 'bench_on_top'\ndown_revision = {head!r}\n\n\n"
        f"def upgrade():\n    {ON_TOP[history]}\n\n\n"
        'def downgrade():\n    op.drop_column("'
        + ("users" if history == "warehouse" else "events")
        + '", "bench_note")\n'
    )
    return "bench_on_top"


def config(root: Path) -> Path:
    path = root / "slipway.yml"
    path.write_text(
        "environments:\n  bench:\n    database_url_env: BENCH_DB_URL\n"
        f"    alembic_ini: {root / 'alembic.ini'}\n"
        f"    artifacts_dir: {root / 'artifacts'}\n    backup_dir: {root / 'backups'}\n"
    )
    return path


def slipway(cfg: Path, url: str, *args: str) -> tuple[float, dict[str, object]]:
    argv = [str(BIN / "slipway"), "db", *args, "--env", "bench", "--config", str(cfg), "--json"]
    seconds, out = _timed(argv, command_env(BENCH_DB_URL=url), cfg.parent)
    return seconds, json.loads(out)


def _steps(report: dict[str, object]) -> dict[str, float]:
    return {str(s["name"]): float(s["duration_s"]) for s in report["steps"]}  # type: ignore[attr-defined,index]


def measure(
    history: str, dialect: str, size: int, runs: int, work: Path
) -> list[dict[str, object]]:
    root, head = make_project(history, size, work)
    cfg = config(root)
    with empty_database(dialect, work) as url:  # adopt once, as a team does, and commits
        _, adopted = slipway(cfg, url, "adopt")
        assert adopted["outcome"] in ("noop", "applied"), adopted
    top = add_on_top(root, history, head)
    rows = []
    for case in ("first release", "one on top"):
        bare: list[float] = []
        mine: list[float] = []
        steps: list[dict[str, float]] = []
        for _ in range(runs):
            with empty_database(dialect, work) as url:
                target = head if case == "first release" else top
                if case == "one on top":
                    _alembic(root, url, "upgrade", head)
                bare.append(_alembic(root, url, "upgrade", target)[0])
            with empty_database(dialect, work) as url:
                args = ["release"] if case == "one on top" else ["release", "--to", head]
                if case == "one on top":
                    slipway(cfg, url, "release", "--to", head)
                seconds, report = slipway(cfg, url, *args)
                assert report["outcome"] == "applied", report
                mine.append(seconds)
                steps.append(_steps(report))
        alembic_s, slipway_s = statistics.median(bare), statistics.median(mine)
        rows.append(
            {
                "history": history,
                "dialect": dialect,
                "case": case,
                "revisions": size if case == "first release" else 1,
                "runs": runs,
                "alembic_upgrade_s": round(alembic_s, 3),
                "slipway_release_s": round(slipway_s, 3),
                "ratio": round(slipway_s / alembic_s, 2),
                "steps_s": {
                    k: round(statistics.median(s.get(k, 0.0) for s in steps), 3) for k in steps[0]
                },
            }
        )
    return rows


def linear(dialect: str, sizes: list[int], runs: int, work: Path) -> list[dict[str, object]]:
    """Every revision pending and gated (no baseline): the ratio at each size."""
    rows = []
    for n in sizes:
        root = work / f"linear-{dialect}-{n}"
        write_project(root, n)
        cfg = config(root)
        bare, mine = [], []
        for _ in range(runs):
            with empty_database(dialect, work) as url:
                bare.append(_alembic(root, url, "upgrade", "head")[0])
            with empty_database(dialect, work) as url:
                seconds, report = slipway(cfg, url, "release")
                assert report["outcome"] == "applied", report
                mine.append(seconds)
        a, s = statistics.median(bare), statistics.median(mine)
        rows.append(
            {
                "history": "synthetic, not adopted",
                "dialect": dialect,
                "case": f"{n} pending",
                "revisions": n,
                "runs": runs,
                "alembic_upgrade_s": round(a, 3),
                "slipway_release_s": round(s, 3),
                "ratio": round(s / a, 2),
            }
        )
    return rows


def table(rows: list[dict[str, object]]) -> list[str]:
    lines = [
        "| history | dialect | case | revisions | alembic upgrade (s) | slipway release, "
        "defaults (s) | ratio | steps (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        took = r.get("steps_s") or {}
        assert isinstance(took, dict)
        parts = ", ".join(f"{k} {v}" for k, v in took.items() if v)
        lines.append(
            f"| {r['history']} | {r['dialect']} | {r['case']} | {r['revisions']} | "
            f"{r['alembic_upgrade_s']} | {r['slipway_release_s']} | {r['ratio']}x | {parts} |"
        )
    growth = {}
    for dialect in sorted({str(r["dialect"]) for r in rows}):
        lin = [r for r in rows if r["dialect"] == dialect and str(r["case"]).endswith("pending")]
        if len(lin) >= 2:
            growth[dialect] = round(float(str(lin[-1]["ratio"])) / float(str(lin[0]["ratio"])), 2)
    if growth:
        lines += [
            "",
            "Growth (ratio at the larger number of pending revisions / ratio at the smaller): "
            + ", ".join(f"{d} {g}x" for d, g in growth.items()),
        ]
    return lines


def plot(rows: list[dict[str, object]], out: Path) -> None:
    plt = pyplot()
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(10, 4))
    short = {"synthetic, not adopted": "not adopted"}
    labels = [
        f"{short.get(str(r['history']), r['history'])}\n{r['dialect']}\n{r['case']}" for r in rows
    ]
    ax.bar(range(len(rows)), [float(str(r["ratio"])) for r in rows])
    ax.set_xticks(range(len(rows)), labels, fontsize=6)
    ax.axhline(1.0, color="black", linewidth=1)
    ax.axhline(1.5, color="red", linestyle=":", linewidth=1, label="1.5x")
    ax.axhline(1.3, color="orange", linestyle=":", linewidth=1, label="1.3x")
    ax.set_ylabel("slipway release / alembic upgrade (wall time)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "adopted_history.png", dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialects", nargs="+", default=["sqlite", "postgresql", "mariadb"])
    parser.add_argument("--histories", nargs="+", default=["warehouse", "synthetic"])
    parser.add_argument("--size", type=int, default=288)
    parser.add_argument("--linear", type=int, nargs="+", default=[30, 120])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for history in args.histories:
            for dialect in args.dialects:
                if history == "warehouse" and dialect != "postgresql":
                    continue  # its history is PostgreSQL's only
                rows += measure(history, dialect, args.size, args.runs, work)
        for dialect in args.dialects:
            rows += linear(dialect, sorted(args.linear), args.runs, work)
    write_results(args.out, "adopted_history", {"rows": rows}, table(rows))
    plot(rows, args.out)


if __name__ == "__main__":
    main()
