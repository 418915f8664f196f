"""A guarded release beside bare ``alembic upgrade head``, per dialect and history length.

A synthetic history of N revisions (tables, columns, indexes, data updates, 1,000-row
bulk inserts, each with a downgrade that undoes it) is released from an empty database
of its own, as a person runs the commands (a new process each time, interpreter start
included), runs interleaved:

- ``alembic upgrade head``;
- ``slipway db release`` with ``backup: false``: preflight (lint included), lock,
  render, apply, verify; the rehearsal is skipped as every revision renders offline;
- ``slipway db release`` at the full defaults (the backup as well), at the smallest size.

Each slipway step's seconds come from the run's report; what is left of the wall time
(interpreter start, imports, settings, the report and ledger rows) is "process".

    python bench/release_scaling.py [--dialects sqlite postgresql mariadb]
        [--sizes 30 100 200 500] [--runs 3] [--out bench/results]

Results: ``release_scaling.json``, ``release_scaling.md`` and, where matplotlib is
installed, ``release_scaling.png`` (steps stacked, as a ratio of bare alembic) and
``release_curve.png`` (seconds against revisions); the Markdown table also gives each
size against the least-squares line through all of them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from benchlib import command_env, pyplot, scratch_database, write_results

BIN = Path(sys.executable).parent
STEPS = ("preflight", "lock", "backup", "render", "rehearse", "apply", "verify")

ENV = textwrap.dedent(
    """
    from alembic import context
    from sqlalchemy import engine_from_config, pool

    config = context.config
    if context.is_offline_mode():
        context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
    else:
        conn = config.attributes.get("connection")
        if conn is None:
            engine = engine_from_config(
                config.get_section(config.config_ini_section, {}),
                prefix="sqlalchemy.", poolclass=pool.NullPool,
            )
            conn = engine.connect()
        context.configure(connection=conn, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()
    """
)
# An index on a table in use is a finding on PostgreSQL and MySQL: accepted, as a team
# would for a small table.
ACCEPT = (
    'slipway_accept = {"require-concurrent-index-creation": "small table", '
    '"require-online-index-creation": "small table"}\n'
)


def _revision(i: int) -> tuple[str, str, str]:
    """(upgrade, downgrade, extra module text) of the i-th revision."""
    if i == 0:
        return (
            'op.create_table("t", sa.Column("id", sa.Integer, primary_key=True))',
            'op.drop_table("t")',
            "",
        )
    if i == 1:
        return (
            'op.create_table("events", sa.Column("id", sa.Integer, primary_key=True), '
            'sa.Column("body", sa.String(40)))',
            'op.drop_table("events")',
            "",
        )
    kind = (i - 2) % 5
    table = f"aux{i - kind}"  # each cycle of five works on a table of its own
    if kind == 0:
        return (
            f'op.create_table("{table}", sa.Column("id", sa.Integer, primary_key=True))',
            f'op.drop_table("{table}")',
            "",
        )
    if kind == 1:
        return (
            f'op.add_column("{table}", sa.Column("c", sa.Integer))',
            f'op.drop_column("{table}", "c")',
            "",
        )
    if kind == 2:
        return (
            f'op.create_index("ix_{table}_c", "{table}", ["c"])',
            f'op.drop_index("ix_{table}_c", "{table}")',
            ACCEPT,
        )
    if kind == 3:
        return (
            f'op.execute("UPDATE {table} SET c = {i}")',
            f'op.execute("UPDATE {table} SET c = NULL")',
            "",
        )
    first = i * 1000
    return (
        'events = sa.table("events", sa.column("id", sa.Integer), '
        'sa.column("body", sa.String))\n'
        f'    op.bulk_insert(events, [{{"id": {first} + k, "body": f"e{{k}}"}} '
        "for k in range(100)])",
        f'op.execute("DELETE FROM events WHERE id >= {first} AND id < {first + 100}")',
        "",
    )


def write_project(root: Path, n: int, url: str = "sqlite://") -> Path:
    """An Alembic project of ``n`` revisions at ``root``; its alembic.ini."""
    (root / "versions").mkdir(parents=True)
    (root / "env.py").write_text(ENV)
    ini = root / "alembic.ini"
    ini.write_text(f"[alembic]\nscript_location = %(here)s\nsqlalchemy.url = {url}\n")
    down = None
    for i in range(n):
        rev = f"r{i:04d}"
        up, dn, extra = _revision(i)
        (root / "versions" / f"{rev}.py").write_text(
            "import sqlalchemy as sa\nfrom alembic import op\n\n"
            f"revision = {rev!r}\ndown_revision = {down!r}\n{extra}\n\n"
            f"def upgrade():\n    {up}\n\n\ndef downgrade():\n    {dn}\n"
        )
        down = rev
    return ini


@contextlib.contextmanager
def empty_database(dialect: str, work: Path) -> Iterator[str]:
    if dialect == "sqlite":
        with tempfile.NamedTemporaryFile(dir=work, suffix=".db") as f:
            path = Path(f.name)
        try:
            yield f"sqlite:///{path}"
        finally:
            path.unlink(missing_ok=True)
        return
    with scratch_database(dialect) as url:
        yield url


def _timed(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:3])} exited {proc.returncode}: {proc.stderr[-800:]}")
    return seconds, proc.stdout


def measure(dialect: str, n: int, runs: int, full: bool, work: Path) -> dict[str, object]:
    root = work / f"{dialect}-{n}"
    ini = write_project(root, n)
    configs = {}
    for mode, backup in (("guarded", "false"), ("default", "true")):
        configs[mode] = root / f"slipway-{mode}.yml"
        configs[mode].write_text(
            f"defaults:\n  backup: {backup}\n  backup_keep: 1\n"
            f"  artifacts_dir: {root / 'artifacts'}\n  backup_dir: {root / 'backups'}\n"
            "environments:\n  bench:\n    database_url_env: BENCH_DB_URL\n"
            f"    alembic_ini: {ini}\n"
        )
    modes = ["guarded", "default"] if full else ["guarded"]
    bare: list[float] = []
    walls: dict[str, list[float]] = {m: [] for m in modes}
    steps: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
    for _ in range(runs):
        with empty_database(dialect, work) as url:
            ini.write_text(f"[alembic]\nscript_location = %(here)s\nsqlalchemy.url = {url}\n")
            seconds, _ = _timed(
                [str(BIN / "alembic"), "-c", str(ini), "upgrade", "head"], command_env(), root
            )
            bare.append(seconds)
        for mode in modes:
            with empty_database(dialect, work) as url:
                argv = [
                    *(str(BIN / "slipway"), "db", "release", "--env", "bench", "--json"),
                    *("--config", str(configs[mode])),
                ]
                seconds, out = _timed(argv, command_env(BENCH_DB_URL=url), root)
            report = json.loads(out)
            assert report["outcome"] == "applied", report
            took = {s["name"]: float(s["duration_s"]) for s in report["steps"]}
            took["process"] = seconds - sum(took.values())
            walls[mode].append(seconds)
            steps[mode].append(took)
    alembic_s = statistics.median(bare)
    row: dict[str, object] = {
        "dialect": dialect,
        "revisions": n,
        "runs": runs,
        "alembic_upgrade_s": round(alembic_s, 3),
    }
    for mode in modes:
        wall = statistics.median(walls[mode])
        row[f"{mode}_release_s"] = round(wall, 3)
        row[f"{mode}_ratio"] = round(wall / alembic_s, 2)
        row[f"{mode}_steps_s"] = {
            name: round(statistics.median(t.get(name, 0.0) for t in steps[mode]), 3)
            for name in (*STEPS, "process")
        }
    return row


def linearity(rows: list[dict[str, object]]) -> dict[str, dict[str, float]]:
    """Per dialect: each size's guarded release against the least-squares line
    ``a + b * revisions`` through every size (1.0 is on the line)."""
    out: dict[str, dict[str, float]] = {}
    for dialect in sorted({str(r["dialect"]) for r in rows}):
        pts = sorted(
            (int(str(r["revisions"])), float(str(r["guarded_release_s"])))
            for r in rows
            if r["dialect"] == dialect
        )
        if len(pts) < 3:
            continue
        mean_n = statistics.fmean(n for n, _ in pts)
        mean_t = statistics.fmean(t for _, t in pts)
        slope = sum((n - mean_n) * (t - mean_t) for n, t in pts) / sum(
            (n - mean_n) ** 2 for n, _ in pts
        )
        out[dialect] = {str(n): round(t / (mean_t + slope * (n - mean_n)), 2) for n, t in pts} | {
            "ms_per_revision": round(1000 * slope, 2)
        }
    return out


def table(rows: list[dict[str, object]], lines_of: dict[str, dict[str, float]]) -> list[str]:
    lines = [
        "| dialect | revisions | alembic upgrade head (s) | slipway release, backup: false (s) "
        "| ratio | release at defaults, with backup (s) | ratio | steps, backup: false (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        took = r["guarded_steps_s"]
        assert isinstance(took, dict)
        parts = ", ".join(f"{k} {v}" for k, v in took.items() if v)
        lines.append(
            f"| {r['dialect']} | {r['revisions']} | {r['alembic_upgrade_s']} | "
            f"{r['guarded_release_s']} | {r['guarded_ratio']}x | "
            f"{r.get('default_release_s', '-')} | "
            f"{str(r['default_ratio']) + 'x' if 'default_ratio' in r else '-'} | {parts} |"
        )
    if lines_of:
        lines += [
            "",
            "Linearity (guarded release against the least-squares line through every size; "
            "1.0 is on the line) and the cost of one more revision:",
            "",
            *(
                f"- {d}: "
                + ", ".join(f"{n} revisions {x}x" for n, x in xs.items() if n.isdigit())
                + f"; {xs['ms_per_revision']} ms per revision"
                for d, xs in lines_of.items()
            ),
        ]
    return lines


def plot(rows: list[dict[str, object]], out: Path) -> None:
    plt = pyplot()
    if plt is None:
        return
    dialects = sorted({str(r["dialect"]) for r in rows})
    fig, axes = plt.subplots(1, len(dialects), figsize=(4.5 * len(dialects), 4), squeeze=False)
    colours = dict(zip((*STEPS, "process"), plt.get_cmap("tab10").colors, strict=False))
    for ax, dialect in zip(axes[0], dialects, strict=True):
        mine = [r for r in rows if r["dialect"] == dialect]
        labels = [str(r["revisions"]) for r in mine]
        bottom = [0.0] * len(mine)
        for name in (*STEPS, "process"):
            heights = [
                float(r["guarded_steps_s"][name]) / float(str(r["alembic_upgrade_s"]))  # type: ignore[index]
                for r in mine
            ]
            if not any(heights):
                continue
            ax.bar(labels, heights, bottom=bottom, label=name, color=colours[name])
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        ax.axhline(1.0, color="black", linewidth=1, label="bare alembic")
        ax.axhline(1.5, color="red", linestyle=":", linewidth=1, label="1.5x")
        ax.set_title(f"{dialect}: slipway release (backup: false)")
        ax.set_xlabel("revisions")
        ax.set_ylabel("x alembic upgrade head (wall time)")
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "release_scaling.png", dpi=100)
    fig, ax = plt.subplots(figsize=(6, 4))
    for dialect in dialects:
        mine = [r for r in rows if r["dialect"] == dialect]
        xs = [int(str(r["revisions"])) for r in mine]
        ax.plot(xs, [r["guarded_release_s"] for r in mine], "o-", label=f"slipway, {dialect}")
        ax.plot(xs, [r["alembic_upgrade_s"] for r in mine], "s--", label=f"alembic, {dialect}")
    ax.set_xlabel("revisions")
    ax.set_ylabel("seconds, from empty")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "release_curve.png", dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialects", nargs="+", default=["sqlite", "postgresql", "mariadb"])
    parser.add_argument("--sizes", type=int, nargs="+", default=[30, 100, 200, 500])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    sizes = sorted(args.sizes)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for dialect in args.dialects:
            for n in sizes:
                rows.append(measure(dialect, n, args.runs, n == sizes[0], Path(tmp)))
    lines_of = linearity(rows)
    write_results(
        args.out, "release_scaling", {"rows": rows, "linearity": lines_of}, table(rows, lines_of)
    )
    plot(rows, args.out)


if __name__ == "__main__":
    main()
