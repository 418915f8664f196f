"""The guarded release as Ansible playbooks over real SSH: the migration runs once, on
the migrator host, from an installed bundle; check mode and a second run change
nothing; the report and the SQL come back to the controller; no secret shows."""

from __future__ import annotations

import re
import stat
import subprocess
from pathlib import Path

import pytest
from ansible_env import SshHosts, build_bundle, write_inventory
from conftest import RELEASE_STEPS, ROOT, alembic_upgrade, protected_database
from test_release_from_old_revision import STOREFRONT_INI, seed_storefront


def recap(output: str) -> dict[str, dict[str, int]]:
    """PLAY RECAP counters per host."""
    out = {}
    for host, counters in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", output, re.M):
        out[host] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", counters)}
    return out


def tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
def test_migrate_takes_old_database_to_head_once_on_the_migrator_host(
    kind: str, tmp_path: Path, ssh_hosts: SshHosts, bundle: Path
) -> None:
    with protected_database(kind, tmp_path) as db:
        password = str(db.url.password)
        alembic_upgrade(db, STOREFRONT_INI, "0002")
        seed_storefront(db)
        inv = write_inventory(
            tmp_path / "inventory", ssh_hosts, env="stage", database_url=db.url_str, bundle=bundle
        )
        outputs: list[str] = []

        # --check: nothing changes anywhere, not even a folder on a host.
        dry = inv.playbook("migrate", check=True)
        outputs += [dry.stdout, dry.stderr]
        assert dry.returncode == 0, dry.stdout + dry.stderr
        assert db.revision() == "0002"
        assert tree(inv.roots["web1"]) == tree(inv.roots["web2"]) == []
        assert tree(inv.fetch_dir) == []

        first = inv.playbook("migrate")
        outputs += [first.stdout, first.stderr]
        assert first.returncode == 0, first.stdout + first.stderr
        assert db.revision() == "0006"
        assert db.scalar("SELECT COUNT(*) FROM users") == 2
        assert db.scalar("SELECT SUM(total_cents) FROM orders") == 2 * 1250 + 5 * 400
        # Only the migrator host ran anything; the other was never touched.
        assert set(recap(first.stdout)) == {"web2"}
        assert tree(inv.roots["web1"]) == []
        backups = list((inv.roots["web2"] / "backups").iterdir())
        assert len(backups) == 1
        assert stat.S_IMODE(backups[0].stat().st_mode) == 0o600
        (report,) = inv.reports()
        assert report["outcome"] == "applied"
        assert report["to_revision"] == "0006"
        assert report["backup"]["path"] == str(backups[0])  # type: ignore[index]
        run_dir = inv.fetch_dir / str(report["run_id"])
        for name in ("report.json", "upgrade.sql", "downgrade.sql", "run.log"):
            assert stat.S_IMODE((run_dir / name).stat().st_mode) == 0o600, name
        assert "0006" in (run_dir / "upgrade.sql").read_text()
        assert [s["name"] for s in report["steps"]] == RELEASE_STEPS  # type: ignore[attr-defined]

        second = inv.playbook("migrate")
        outputs += [second.stdout, second.stderr]
        assert second.returncode == 0, second.stdout + second.stderr
        assert recap(second.stdout)["web2"]["changed"] == 0, second.stdout
        assert sorted(r["outcome"] for r in inv.reports()) == ["applied", "noop"]
        assert len(list((inv.roots["web2"] / "backups").iterdir())) == 1

        # The other two playbooks: a backup on its own, a rollback to a named revision.
        backup = inv.playbook("backup")
        outputs += [backup.stdout, backup.stderr]
        assert backup.returncode == 0, backup.stdout + backup.stderr
        assert len(list((inv.roots["web2"] / "backups").iterdir())) == 2
        rollback = inv.playbook("rollback", "-e", "slipway_db_rollback_to=0002")
        outputs += [rollback.stdout, rollback.stderr]
        assert rollback.returncode == 0, rollback.stdout + rollback.stderr
        assert db.revision() == "0002"
        assert db.scalar("SELECT COUNT(*) FROM users") == 2
        assert tree(inv.roots["web1"]) == []

        seen = outputs + [
            p.read_text(errors="replace")
            for folder in (
                inv.fetch_dir,
                inv.roots["web2"] / "artifacts",
                inv.roots["web2"] / "shared",
            )
            for p in folder.rglob("*")
            if p.is_file()
        ]
        assert all(password not in text for text in seen)


FAILING_REVISION = '''"""a revision that fails half-way"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("gift_cards", sa.Column("id", sa.Integer, primary_key=True))
    op.execute("UPDATE no_such_table SET x = 1")


def downgrade():
    op.drop_table("gift_cards")
'''


def test_failing_migration_fails_the_play_after_the_rescue_rolled_back(
    tmp_path: Path, ssh_hosts: SshHosts
) -> None:
    migrations = tmp_path / "migrations"
    subprocess.run(["cp", "-r", str(ROOT / "migrations"), str(migrations)], check=True)
    (migrations / "versions" / "0007_fails.py").write_text(FAILING_REVISION)
    failing_bundle = build_bundle(tmp_path / "dist", migrations)
    with protected_database("postgresql", tmp_path) as db:
        password = str(db.url.password)
        alembic_upgrade(db, STOREFRONT_INI, "0002")
        seed_storefront(db)
        before = db.contents()
        inv = write_inventory(
            tmp_path / "inventory",
            ssh_hosts,
            env="stage",
            database_url=db.url_str,
            bundle=failing_bundle,
        )

        deploy = subprocess.run(
            [
                str(ROOT / ".venv" / "bin" / "slipway"),
                "deploy",
                "--env",
                "stage",
                "--inventory",
                str(inv.path),
                "--vault-password-file",
                str(inv.vault_password_file),
                "--project",
                str(ROOT),
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

        assert deploy.returncode == 4, deploy.stdout + deploy.stderr
        assert db.revision() == "0002"
        assert db.contents() == before
        assert "gift_cards" not in db.tables()
        (report,) = inv.reports()
        assert report["outcome"] == "rolled_back"
        assert "0007" in report["error"]["message"]  # type: ignore[index]
        # The play itself failed (ansible-playbook's own exit code), after the rescue ran.
        runner = Path(re.findall(r"ansible-runner artifacts: (\S+)", deploy.stdout)[-1])
        assert (runner / "rc").read_text().strip() != "0"
        assert "Rollback | end the run at its start revision" in deploy.stdout
        assert "rolled_back (exit 4)" in deploy.stdout

        seen = [deploy.stdout, deploy.stderr] + [
            p.read_text(errors="replace")
            for folder in (inv.fetch_dir, runner)
            for p in folder.rglob("*")
            if p.is_file()
        ]
        assert all(password not in text for text in seen)
        play_output = (runner / "stdout").read_text()
        assert "ended rolled_back (exit 4)" in play_output
        assert "Database: 0002" in play_output


def test_every_playbook_passes_syntax_check_with_every_inventory() -> None:
    playbooks = sorted((ROOT / "playbooks").glob("*.yml"))
    inventories = sorted(p for p in (ROOT / "inventories").iterdir() if p.is_dir())
    assert len(playbooks) >= 3 and len(inventories) >= 3
    for inventory in inventories:
        for playbook in playbooks:
            result = subprocess.run(
                [
                    str(ROOT / ".venv" / "bin" / "ansible-playbook"),
                    "--syntax-check",
                    "-i",
                    str(inventory),
                    str(playbook),
                ],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
            )
            assert result.returncode == 0, f"{playbook.name} / {inventory.name}: {result.stderr}"
