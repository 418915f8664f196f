"""The guarded release as Ansible playbooks over real SSH: the migration runs once, on
the migrator host, from an installed bundle; check mode and a second run change
nothing; the report and the SQL come back to the controller; no secret shows."""

from __future__ import annotations

import json
import re
import shutil
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest
from ansible_env import SshHosts, install_collection, with_migrations, write_inventory
from conftest import PG_ADMIN, RELEASE_STEPS, ROOT, alembic_upgrade, protected_database
from corpus_env import CORPUS, HEAD, CorpusRelease
from sqlalchemy import create_engine, text
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
    tmp_path: Path, ssh_hosts: SshHosts, bundle: Path
) -> None:
    migrations = tmp_path / "migrations"
    shutil.copytree(ROOT / "migrations", migrations, ignore=shutil.ignore_patterns("__pycache__"))
    (migrations / "versions" / "0007_fails.py").write_text(FAILING_REVISION)
    failing_bundle = with_migrations(bundle, tmp_path / "dist", migrations)
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


def test_a_real_world_shaped_project_is_released_through_the_role(
    tmp_path: Path, ssh_hosts: SshHosts, bundle: Path
) -> None:
    """A corpus project (its own env.py building its own engine from sqlalchemy.url, 33
    revisions with data migrations that read rows in Python, an enum, a CONCURRENTLY
    index in autocommit_block, branches and a merge) goes through migrate.yml: rehearsed
    on a scratch copy on the host, applied, and its applied.sql comes back."""
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    shutil.copy(CORPUS / "own_engine" / "env.py", migrations / "env.py")
    shutil.copytree(CORPUS / "history" / "versions", migrations / "versions")
    corpus_bundle = with_migrations(bundle, tmp_path / "dist", migrations)
    with protected_database("postgresql", tmp_path) as db:
        password = str(db.url.password)
        # The rehearsal's scratch copy is a database of its own.
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"ALTER ROLE {db.url.username} CREATEDB"))
        admin.dispose()
        CorpusRelease.make(tmp_path, "handed_over", db).to_middle_with_rows("c03")
        inv = write_inventory(
            tmp_path / "inventory",
            ssh_hosts,
            env="stage",
            database_url=db.url_str,
            bundle=corpus_bundle,
            # A history the team did not write, adopted as it is (the corpus tests' policy).
            extra_vars={"slipway_db_lint_fail_on": "never"},
        )

        play = inv.playbook("migrate")

        assert play.returncode == 0, play.stdout + play.stderr
        assert db.revision() == HEAD
        with db.engine().connect() as conn:
            shown = dict(conn.exec_driver_sql("SELECT id, display_name FROM users").all())
        assert shown == {1: "Ada Lovelace", 2: "Grace Hopper", 3: "Alan Turing"}
        (report,) = inv.reports()
        assert report["outcome"] == "applied"
        steps = {s["name"]: s["status"] for s in report["steps"]}  # type: ignore[attr-defined]
        assert steps["rehearse"] == "ok"
        run_dir = inv.fetch_dir / str(report["run_id"])
        assert "live-only" in (run_dir / "upgrade.sql").read_text()
        for name in ("rehearsal.sql", "applied.sql"):
            sql = (run_dir / name).read_text()
            assert "UPDATE users SET display_name" in sql and "Grace Hopper" in sql, name
            assert stat.S_IMODE((run_dir / name).stat().st_mode) == 0o600, name
        seen = [play.stdout, play.stderr] + [
            p.read_text(errors="replace") for p in inv.fetch_dir.rglob("*") if p.is_file()
        ]
        assert all(password not in text for text in seen)


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


def test_inventory_folders_hold_only_inventory() -> None:
    """Ansible parses every file of an inventory folder as inventory: examples and host
    keys live elsewhere, and the host keys are referenced by path."""
    for inventory in (p for p in (ROOT / "inventories").iterdir() if p.is_dir()):
        for path in inventory.rglob("*"):
            if path.is_file():
                relative = path.relative_to(inventory)
                assert (
                    relative.parts[0] in ("group_vars", "host_vars") or str(relative) == "hosts.yml"
                ), path
    for env in ("stage", "prod"):
        shown = subprocess.run(
            [
                str(ROOT / ".venv" / "bin" / "ansible"),
                "all",
                "-i",
                f"inventories/{env}",
                "-m",
                "ansible.builtin.debug",
                "-a",
                "var=ansible_ssh_common_args",
                "-l",
                "db_migrator",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert f"UserKnownHostsFile={ROOT}/ssh/{env}.known_hosts" in shown, shown
        assert (ROOT / "ssh" / f"{env}.known_hosts").is_file()


EXTERNAL_PLAYBOOK = """---
- name: The storefront's database, released with the installed collection
  hosts: db_migrator
  gather_facts: false
  roles:
    - role: slipway.release.slipway_db
  post_tasks:
    - name: What the release reports to the plays that follow
      ansible.builtin.debug:
        msg: "result {{ slipway_db_result.outcome }} at {{ slipway_db_result.current_revision }}"
"""


def test_the_collection_installs_and_releases_from_another_repository(
    tmp_path: Path, ssh_hosts: SshHosts, bundle: Path
) -> None:
    installed, env = install_collection(tmp_path)
    roles = installed / "ansible_collections" / "slipway" / "release" / "roles"
    assert sorted(p.name for p in roles.iterdir()) == [
        "slipway_app",
        "slipway_db",
        "slipway_nginx",
    ]
    # A team's own repository: its playbook and inventory, nothing of this one.
    team = tmp_path / "team-repo"
    team.mkdir()
    (team / "release.yml").write_text(EXTERNAL_PLAYBOOK)
    with protected_database("postgresql", tmp_path) as db:
        alembic_upgrade(db, STOREFRONT_INI, "0002")
        seed_storefront(db)
        inv = write_inventory(
            team / "inventory", ssh_hosts, env="stage", database_url=db.url_str, bundle=bundle
        )
        play = subprocess.run(
            [
                str(ROOT / ".venv" / "bin" / "ansible-playbook"),
                "release.yml",
                "-i",
                str(inv.path),
                "--vault-password-file",
                str(inv.vault_password_file),
            ],
            cwd=team,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

        assert play.returncode == 0, play.stdout + play.stderr
        assert db.revision() == "0006"
        assert "result applied at 0006" in play.stdout
        (report,) = inv.reports()
        assert report["outcome"] == "applied"
        assert str(db.url.password) not in play.stdout + play.stderr

        # `slipway deploy` from the team's repository, which has no playbooks/ of its
        # own: the installed collection's migrate playbook runs (nothing left to apply).
        deployed = subprocess.run(
            [
                *(str(ROOT / ".venv" / "bin" / "slipway"), "deploy", "--env", "stage"),
                *("--project", str(team), "--inventory", str(inv.path), "--json"),
                *("--vault-password-file", str(inv.vault_password_file)),
            ],
            cwd=team,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        assert json.loads(deployed.stdout)["outcome"] == "noop", deployed.stdout
        assert sorted(r["outcome"] for r in inv.reports()) == ["applied", "noop"]
        assert not (team / "playbooks").exists()


NEW_TABLE_REVISION = '''"""gift cards"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("gift_cards", sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    op.drop_table("gift_cards")
'''


def test_the_bundle_installed_is_the_bundle_built(
    tmp_path: Path, ssh_hosts: SshHosts, bundle: Path
) -> None:
    """A second bundle under the same release id replaces the release folder (its new
    revision runs); a bundle changed after it was built is refused before install."""
    migrations = tmp_path / "migrations"
    shutil.copytree(ROOT / "migrations", migrations, ignore=shutil.ignore_patterns("__pycache__"))
    (migrations / "versions" / "0007_gift_cards.py").write_text(NEW_TABLE_REVISION)
    newer = with_migrations(bundle, tmp_path / "newer", migrations)
    same_id = tmp_path / "same-id" / bundle.name  # another bundle under the first one's id
    same_id.parent.mkdir()
    shutil.copy(newer, same_id)
    with protected_database("postgresql", tmp_path) as db:
        alembic_upgrade(db, STOREFRONT_INI, "0006")
        first = write_inventory(
            tmp_path / "inventory", ssh_hosts, env="stage", database_url=db.url_str, bundle=bundle
        )
        done = first.playbook("migrate")
        assert done.returncode == 0, done.stdout + done.stderr
        assert db.revision() == "0006"

        second = write_inventory(
            tmp_path / "inventory", ssh_hosts, env="stage", database_url=db.url_str, bundle=same_id
        )
        replaced = second.playbook("migrate")
        assert replaced.returncode == 0, replaced.stdout + replaced.stderr
        assert db.revision() == "0007", "the new bundle's revision ran: the folder was replaced"
        assert "gift_cards" in db.tables()

        # The same bundle repacked with one wheel changed and its MANIFEST as it was.
        work = tmp_path / "tampered"
        with tarfile.open(newer) as tar:
            tar.extractall(work, filter="data")
        wheel = sorted((work / "wheels").glob("storefront-*.whl"))[0]
        wheel.write_bytes(wheel.read_bytes() + b"\0")
        tampered = tmp_path / "tampered-dist" / newer.name.replace(".tar.gz", "-x.tar.gz")
        tampered.parent.mkdir()
        with tarfile.open(tampered, "w:gz") as tar:
            for item in sorted(work.iterdir()):
                tar.add(item, arcname=item.name)
        third = write_inventory(
            tmp_path / "inventory", ssh_hosts, env="stage", database_url=db.url_str, bundle=tampered
        )
        refused = third.playbook("migrate")
        assert refused.returncode != 0
        assert "does not match its MANIFEST" in refused.stdout, refused.stdout
        assert db.revision() == "0007"
        again = third.playbook("migrate")  # refused again: the changed folder was not kept
        assert again.returncode != 0
        assert "does not match its MANIFEST" in again.stdout, again.stdout


def test_a_deploy_user_without_passwordless_sudo_is_told_in_one_line(
    tmp_path: Path, ssh_hosts: SshHosts, bundle: Path
) -> None:
    """A first install needs root once (the deploy root, the backup folder): a user
    without passwordless sudo is told which setting to use, before anything changes."""
    with protected_database("postgresql", tmp_path) as db:
        alembic_upgrade(db, STOREFRONT_INI, "0006")
        before = (db.revision(), db.tables(), db.contents())
        inventory = write_inventory(
            tmp_path / "inventory",
            ssh_hosts,
            env="stage",
            database_url=db.url_str,
            bundle=bundle,
            extra_vars={"ansible_user": "nosudo"},
        )
        refused = inventory.playbook("migrate")
        assert refused.returncode != 0
        said = [line for line in refused.stdout.splitlines() if "cannot use sudo" in line]
        assert said, refused.stdout
        assert "nosudo on web2 cannot use sudo without a password" in said[0]
        assert "set ansible_become_password (vaulted)" in said[0]
        assert "slipway_db_become to false" in said[0]
        assert "Missing sudo password" not in refused.stdout
        assert (db.revision(), db.tables(), db.contents()) == before
        assert not any(root.exists() for root in inventory.roots.values())


def test_the_role_releases_one_phase_at_a_time(
    tmp_path: Path, ssh_hosts: SshHosts, bundle: Path
) -> None:
    """slipway_db_phase: pre leaves a post-deploy revision pending; post applies it."""
    migrations = tmp_path / "migrations"
    shutil.copytree(ROOT / "migrations", migrations, ignore=shutil.ignore_patterns("__pycache__"))
    (migrations / "versions" / "0007_gift_cards.py").write_text(
        NEW_TABLE_REVISION + '\n\nslipway_phase = "post"\n'
    )
    phased = with_migrations(bundle, tmp_path / "phased", migrations)
    with protected_database("postgresql", tmp_path) as db:
        alembic_upgrade(db, STOREFRONT_INI, "0006")
        for phase, revision in (("pre", "0006"), ("post", "0007")):
            inv = write_inventory(
                tmp_path / f"inventory-{phase}",
                ssh_hosts,
                env="stage",
                database_url=db.url_str,
                bundle=phased,
                extra_vars={"slipway_db_phase": phase},
            )
            done = inv.playbook("migrate")
            assert done.returncode == 0, done.stdout + done.stderr
            assert db.revision() == revision, phase
            (report,) = inv.reports()
            assert report["data"]["phase"] == phase
        assert "gift_cards" in db.tables()
