"""Helpers for the tests over tests/corpus: a private copy of the corpus per test (tests
add revisions to its history), slipway pointed at one of its projects, the data a
middle-of-history database holds."""

from __future__ import annotations

import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path

from conftest import ROOT, Result, ThrowawayDB, alembic_upgrade, slipway, write_config

CORPUS = ROOT / "tests" / "corpus"
HEAD = "c31"
# Revisions that read rows in Python: they cannot render offline on any dialect.
LIVE_ON_EVERY_DIALECT = {"c04", "c08", "c30"}
ASYNC_DRIVERS = {"postgresql": "asyncpg", "mariadb": "aiomysql", "sqlite": "aiosqlite"}


def copy_corpus(tmp_path: Path) -> Path:
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def add_revision(corpus: Path, rev: str, down: str, upgrade: str, downgrade: str = "pass") -> None:
    body = (
        "import sqlalchemy as sa\nfrom alembic import op\n\n"
        f"revision = {rev!r}\ndown_revision = {down!r}\n\n\n"
        "def upgrade():\n" + textwrap.indent(textwrap.dedent(upgrade).strip(), "    ") + "\n\n\n"
        "def downgrade():\n" + textwrap.indent(textwrap.dedent(downgrade).strip(), "    ") + "\n"
    )
    (corpus / "history" / "versions" / f"99_{rev}.py").write_text(body, encoding="utf-8")


def url_for(db: ThrowawayDB, *, use_async: bool) -> str:
    if not use_async:
        return db.url_str
    backend = db.url.get_backend_name()
    return db.url.set(drivername=f"{backend}+{ASYNC_DRIVERS[db.kind]}").render_as_string(
        hide_password=False
    )


@dataclass
class CorpusRelease:
    """slipway on one corpus project and one database, as a user would call it."""

    corpus: Path
    project: str
    db: ThrowawayDB
    url: str
    config: Path

    @classmethod
    def make(
        cls,
        tmp_path: Path,
        project: str,
        db: ThrowawayDB,
        *,
        use_async: bool = False,
        **defaults: object,
    ) -> CorpusRelease:
        corpus = copy_corpus(tmp_path)
        config = write_config(tmp_path, defaults)
        return cls(corpus, project, db, url_for(db, use_async=use_async), config)

    @property
    def ini(self) -> Path:
        return self.corpus / self.project / "alembic.ini"

    def __call__(self, command: str, *extra: str, env: dict[str, str] | None = None) -> Result:
        return slipway(
            "db",
            command,
            "--env",
            "test",
            "--config",
            str(self.config),
            "--alembic-ini",
            str(self.ini),
            "--json",
            *extra,
            env={"TEST_DB_URL": self.url, **(env or {})},
        )

    def to_middle_with_rows(self, revision: str = "c03") -> None:
        """The database as an older release left it, with the application's rows: the
        data migrations above c03 have rows to read."""
        alembic_upgrade(self.db, self.corpus / "handed_over" / "alembic.ini", revision)
        self.db.execute(
            "INSERT INTO users (id, email, name) VALUES "
            "(2, 'grace@example.org', 'grace hopper'), (3, 'alan@example.org', 'alan turing')",
            "INSERT INTO orders (id, user_id, total) VALUES (1, 2, 10.50), (2, 2, 3.00), "
            "(3, 3, 7.25)",
        )
