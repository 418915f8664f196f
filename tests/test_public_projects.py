"""Real public Alembic histories (tests/public), used as a new team would: at default
settings, after one `slipway db adopt`, each is released from empty on every database it
supports; `db stairway` and `db check` run with env.py as shipped, on a scratch copy,
the target unchanged. slipway is run from the repository's root, not from the project's
folder."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, Result, ThrowawayDB, create_database, drop_database, slipway

PUBLIC = ROOT / "tests" / "public"


def _flask(db: ThrowawayDB, folder: Path) -> dict[str, str]:
    return {"FLASK_APP": str(folder / "microblog_app.py"), "DATABASE_URL": db.url_str}


def _settings_object(db: ThrowawayDB, folder: Path) -> dict[str, str]:
    url = db.url
    return {
        "DATABASE__HOSTNAME": url.host or "127.0.0.1",
        "DATABASE__PORT": str(url.port or 5432),
        "DATABASE__USERNAME": url.username or "",
        "DATABASE__PASSWORD": url.password or "unused",
        "DATABASE__DB": url.database or "",
    }


@dataclass(frozen=True)
class Public:
    folder: str
    ini: str
    head: str
    tables: frozenset[str]
    env: Callable[[ThrowawayDB, Path], dict[str, str]]
    # What the stairway finds on each database: None (every downgrade undoes its
    # upgrade) or the revision it names. These are the projects' own, found by slipway.
    stairway: dict[str, str | None]
    models_match: bool  # db check: the project's models match what its migrations build


def _nothing(db: ThrowawayDB, folder: Path) -> dict[str, str]:
    return {}


PROJECTS = {
    # microblog_app.py declares no models: check reports every table as drift
    "microblog": Public(
        "microblog",
        "migrations/alembic.ini",
        "834b1a697901",
        frozenset({"user", "post", "followers", "message", "notification", "task"}),
        _flask,
        # MariaDB will not drop an index a foreign key needs: that downgrade fails there
        {"sqlite": None, "postgresql": None, "mariadb": "780739b227a7"},
        models_match=False,
    ),
    # v2.4.0.a's downgrade is `pass`; v0.9.0.a's leaves its PostgreSQL enum types; the
    # models have tables optuna creates without a migration (trial_heartbeats, ...)
    "optuna": Public(
        "optuna",
        "alembic.ini",
        "v3.2.0.a",
        frozenset({"studies", "trials", "trial_params", "trial_values", "version_info"}),
        _nothing,
        {"sqlite": "v2.4.0.a", "postgresql": "v0.9.0.a"},
        models_match=False,
    ),
    "fastapi_minimal": Public(
        "fastapi_minimal",
        "alembic.ini",
        "683275eeb305",
        frozenset({"auth_user", "auth_refresh_token"}),
        _settings_object,
        {"postgresql": None},
        models_match=True,
    ),
}
CASES = [
    ("microblog", "sqlite"),
    ("microblog", "postgresql"),
    ("microblog", "mariadb"),
    ("optuna", "sqlite"),
    ("optuna", "postgresql"),
    ("fastapi_minimal", "postgresql"),
]


def at_defaults(tmp_path: Path) -> Path:
    """A slipway.yml as a new team writes it: where the database is, nothing else but
    where this test keeps its files."""
    path = tmp_path / "slipway.yml"
    data = {
        "defaults": {
            "artifacts_dir": str(tmp_path / "artifacts"),
            "backup_dir": str(tmp_path / "backups" / "{env}"),
        },
        "environments": {"test": {"database_url_env": "TEST_DB_URL"}},
    }
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def snapshot(db: ThrowawayDB) -> tuple[object, ...]:
    return db.revision(), db.schema(), db.contents(skip_ledger=False)


class PublicRun:
    """slipway on a private copy of one public project, pointed at one database."""

    def __init__(self, name: str, kind: str, tmp_path: Path) -> None:
        self.project = PROJECTS[name]
        self.folder = tmp_path / self.project.folder
        shutil.copytree(PUBLIC / self.project.folder, self.folder)
        self.config = at_defaults(tmp_path)
        self.db = create_database(kind, tmp_path)

    def __call__(self, command: str) -> Result:
        return slipway(
            "db",
            command,
            "--env",
            "test",
            "--config",
            str(self.config),
            "--alembic-ini",
            str(self.folder / self.project.ini),
            "--json",
            env={"TEST_DB_URL": self.db.url_str, **self.project.env(self.db, self.folder)},
        )


@pytest.fixture
def public(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PublicRun]:
    name, kind = request.param
    run = PublicRun(name, kind, tmp_path)
    try:
        yield run
    finally:
        drop_database(run.db)


@pytest.mark.parametrize("public", CASES, ids=[f"{n}-{k}" for n, k in CASES], indirect=True)
def test_public_history_is_adopted_released_stairwayed_and_checked(public: PublicRun) -> None:
    project, db = public.project, public.db

    adopted = public("adopt")
    assert adopted.code == 0, adopted.stderr
    assert (public.folder / project.ini).parent.joinpath("slipway-baseline.yml").is_file()

    released = public("release")
    assert released.code == 0, released.stderr
    assert released.report["outcome"] == "applied"
    assert db.revision() == project.head
    assert project.tables <= set(db.tables())

    before = snapshot(db)
    stairway = public("stairway")
    found = project.stairway[db.kind]
    if found is None:
        assert stairway.code == 0, stairway.stderr
    else:
        assert stairway.code == 3, stairway.stderr
        assert stairway.report["error"]["check"] == "stairway"
        assert found in stairway.report["error"]["message"]
    assert snapshot(db) == before

    check = public("check")
    if project.models_match:
        assert check.code == 0, check.stderr
    else:
        assert check.code == 3, check.stderr
        assert "models differ" in check.report["error"]["message"]
    assert snapshot(db) == before


@pytest.mark.parametrize("public", [("optuna", "mariadb")], ids=["optuna-mariadb"], indirect=True)
def test_a_history_that_fails_on_this_server_leaves_the_database_as_it_was(
    public: PublicRun,
) -> None:
    """optuna's v2.4.0.a drops a column a unique key still names, which MariaDB refuses
    (plain `alembic upgrade head` fails there too). A new environment's first release
    applies the adopted history without rehearsing it: it fails in v2.4.0.a, its
    rollback fails in optuna's own downgrade, and the backup is restored: the database
    is empty again, as it was."""
    assert public("adopt").code == 0

    failed = public("release")

    assert failed.code == 5, failed.stderr
    assert failed.report["outcome"] == "restored"
    assert "v2.4.0.a" in failed.report["error"]["message"]
    assert public.db.revision() is None
    assert not public.project.tables & set(public.db.tables())
