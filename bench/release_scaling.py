"""How a guarded release grows with the length of the history.

Writes a synthetic history of N revisions (a table, then columns, indexes and data
updates in turn) into a temporary Alembic project, releases it from empty on SQLite with
``slipway db release`` (the library call, as the CLI makes it) and with bare
``alembic upgrade head``, and records seconds and revision-file loads per run.

    python bench/release_scaling.py [--sizes 50 100 200] [--out bench/results]

Results: ``release_scaling.json``, ``release_scaling.md`` (a table) and, where
matplotlib is installed, ``release_scaling.png``.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.util import pyfiles

sys.path.insert(0, str(Path(__file__).parent))
from benchlib import pyplot, write_results

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


def write_project(root: Path, n: int) -> Path:
    (root / "versions").mkdir(parents=True)
    (root / "env.py").write_text(ENV)
    ini = root / "alembic.ini"
    ini.write_text("[alembic]\nscript_location = %(here)s\nsqlalchemy.url = sqlite://\n")
    down = None
    for i in range(n):
        rev = f"r{i:04d}"
        if i == 0:
            up = 'op.create_table("t", sa.Column("id", sa.Integer, primary_key=True))'
            dn = 'op.drop_table("t")'
        elif i % 2:
            up = f'op.add_column("t", sa.Column("c{i}", sa.Integer))'
            dn = f'op.drop_column("t", "c{i}")'
        else:
            up = f'op.execute("UPDATE t SET c{i - 1} = {i}")'
            dn = f'op.execute("UPDATE t SET c{i - 1} = NULL")'
        (root / "versions" / f"{rev}.py").write_text(
            "import sqlalchemy as sa\nfrom alembic import op\n\n"
            f"revision = {rev!r}\ndown_revision = {down!r}\n\n\n"
            f"def upgrade():\n    {up}\n\n\ndef downgrade():\n    {dn}\n"
        )
        down = rev
    return ini


def measure(n: int) -> dict[str, float | int]:
    from slipway.config import load_settings
    from slipway.release import release

    loads: collections.Counter[str] = collections.Counter()
    original = pyfiles.load_module_py

    def counting(module_id: str, path: str) -> object:
        loads[Path(path).name] += 1
        return original(module_id, path)

    with tempfile.TemporaryDirectory() as tmp:
        ini = write_project(Path(tmp) / "proj", n)
        work = Path(tmp)
        cfg = work / "slipway.yml"
        cfg.write_text(
            "defaults:\n  lint_fail_on: never\n"
            f"  artifacts_dir: {work / 'artifacts'}\n  backup_dir: {work / 'backups'}\n"
            "environments:\n  bench: {}\n"
        )
        settings = load_settings(
            "bench", config=cfg, db_url=f"sqlite:///{work / 'slipway.db'}", alembic_ini=ini
        )
        pyfiles.load_module_py = counting  # type: ignore[assignment]
        try:
            start = time.perf_counter()
            report = release(settings)
            slipway_s = time.perf_counter() - start
        finally:
            pyfiles.load_module_py = original  # type: ignore[assignment]
        assert report.outcome.value == "applied", report.error
        bare = Config(str(ini))
        bare.set_main_option("sqlalchemy.url", f"sqlite:///{work / 'bare.db'}")
        start = time.perf_counter()
        command.upgrade(bare, "head")
        bare_s = time.perf_counter() - start
    revision_loads = [v for k, v in loads.items() if k != "env.py"]
    return {
        "revisions": n,
        "slipway_release_s": round(slipway_s, 3),
        "alembic_upgrade_s": round(bare_s, 3),
        "ratio": round(slipway_s / bare_s, 2),
        "max_loads_per_revision_file": max(revision_loads),
        "ms_per_revision": round(1000 * slipway_s / n, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 200])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    rows = [measure(n) for n in args.sizes]
    head = "| revisions | slipway release (s) | alembic upgrade (s) | ratio | ms/rev | loads/file |"
    lines = [
        head,
        "|---|---|---|---|---|---|",
        *(
            f"| {r['revisions']} | {r['slipway_release_s']} | {r['alembic_upgrade_s']} | "
            f"{r['ratio']} | {r['ms_per_revision']} | {r['max_loads_per_revision_file']} |"
            for r in rows
        ),
    ]
    write_results(args.out, "release_scaling", rows, lines)
    plt = pyplot()
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    xs = [r["revisions"] for r in rows]
    ax.plot(xs, [r["slipway_release_s"] for r in rows], "o-", label="slipway db release")
    ax.plot(xs, [r["alembic_upgrade_s"] for r in rows], "s-", label="alembic upgrade head")
    ax.set_xlabel("revisions")
    ax.set_ylabel("seconds (SQLite, from empty)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / "release_scaling.png", dpi=100)


if __name__ == "__main__":
    main()
