"""The GitLab pipeline, proven by running it: gitlab-ci-local 4.73.0 (npm, pinned by
package-lock.json) evaluates `.gitlab-ci.yml` in a throwaway repository, and runs the
real deploy jobs in shell mode against loopback SSH hosts and real PostgreSQL databases.
What gitlab-ci-local does not enforce is checked by reading the YAML."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_env import Inventory, SshHosts, worker_port, write_inventory
from conftest import RELEASE_STEPS, ROOT, ThrowawayDB, alembic_upgrade, protected_database
from test_ansible_migrate import FAILING_REVISION
from test_image import BASE, ENGINE, REGISTRY, registry_digest
from test_release_from_old_revision import STOREFRONT_INI, seed_storefront

GCL = ROOT / "node_modules" / ".bin" / "gitlab-ci-local"
PIPELINE = ROOT / ".gitlab-ci.yml"
DEPLOY_JOBS = ("deploy:stage", "deploy:prod", "rollback:prod")


def make_repo(folder: Path, extra: dict[str, str] | None = None, branch: str = "master") -> Path:
    """A throwaway clone of this project as a team pushes it: its tracked files as they
    are now, on ``branch``, with an origin whose default branch is master."""
    folder.mkdir(parents=True)
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, (f.decode() for f in files)):
        if (ROOT / name).is_file():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, folder / name)
    for name, text in (extra or {}).items():
        (folder / name).write_text(text)

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.email=ci@example.org", "-c", "user.name=CI", *args],
            cwd=folder,
            check=True,
            capture_output=True,
        )

    git("init", "-q", "-b", "master")
    git("add", "-A")
    git("commit", "-qm", "release")
    git("remote", "add", "origin", "git@gitlab.example.com:shop/storefront.git")
    git("update-ref", "refs/remotes/origin/master", "HEAD")
    git("symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/master")
    if branch != "master":
        git("checkout", "-qb", branch)
    return folder


def gcl(repo: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GCL), "--no-color", *args],
        cwd=repo,
        env={**os.environ, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def jobs(repo: Path, *args: str) -> dict[str, dict[str, Any]]:
    result = gcl(repo, "--list-json", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "json schema validated" in result.stderr + result.stdout
    return {j["name"]: j for j in json.loads(result.stdout)}


def test_pipeline_runs_deploys_only_on_master(tmp_path: Path) -> None:
    master = jobs(make_repo(tmp_path / "master"))
    assert master["deploy:stage"]["when"] == "on_success"
    assert master["deploy:prod"]["when"] == "manual"
    assert master["deploy:prod"]["allow_failure"] is False
    assert master["rollback:prod"]["when"] == "manual"
    for name in ("lint", "test", "migrations", "build"):
        assert master[name]["when"] == "on_success", name
    # The escape hatch for a hotfix: no stage deploy, production by hand after the build.
    # Only in a pipeline started by hand: a push carrying the variable deploys stage.
    hotfix = jobs(
        make_repo(tmp_path / "hotfix"),
        "--variable",
        "SLIPWAY_HOTFIX=true",
        "--variable",
        "CI_PIPELINE_SOURCE=web",
        "--ignore-predefined-vars",
        "CI_PIPELINE_SOURCE",
    )
    assert hotfix["deploy:stage"]["when"] == "never"
    assert hotfix["deploy:prod"]["when"] == "manual"
    pushed = jobs(
        make_repo(tmp_path / "pushed-hotfix"),
        "--variable",
        "SLIPWAY_HOTFIX=true",
        "--variable",
        "CI_PIPELINE_SOURCE=push",
        "--ignore-predefined-vars",
        "CI_PIPELINE_SOURCE",
    )
    assert pushed["deploy:stage"]["when"] == "on_success"
    assert pushed["deploy:prod"]["when"] == "manual"

    feature = jobs(make_repo(tmp_path / "feature", branch="feature/gift-cards"))
    merge_request = jobs(
        make_repo(tmp_path / "mr", branch="feature/gift-cards"),
        "--variable",
        "CI_PIPELINE_SOURCE=merge_request_event",
        "--variable",
        "CI_MERGE_REQUEST_IID=7",
        "--unset-variable",
        "CI_COMMIT_BRANCH",
        "--ignore-predefined-vars",
        "CI_PIPELINE_SOURCE,CI_COMMIT_BRANCH",
    )
    for listing in (feature, merge_request):
        for name in DEPLOY_JOBS:
            assert listing[name]["when"] == "never", name
        for name in ("lint", "test", "migrations", "build"):
            assert listing[name]["when"] == "on_success", name


def test_what_gitlab_ci_local_does_not_enforce_is_in_the_yaml() -> None:
    ci = yaml.safe_load(PIPELINE.read_text())
    # workflow: MR pipelines, branch pipelines unless an MR is open, the Run button.
    rules = ci["workflow"]["rules"]
    assert {"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'} in rules
    assert {"if": "$CI_COMMIT_BRANCH && $CI_OPEN_MERGE_REQUESTS", "when": "never"} in rules
    assert rules.index({"if": "$CI_COMMIT_BRANCH && $CI_OPEN_MERGE_REQUESTS", "when": "never"}) < (
        rules.index({"if": '$CI_PIPELINE_SOURCE == "push"'})
    )
    assert {"if": '$CI_PIPELINE_SOURCE == "web"'} in rules
    assert ci["stages"] == ["lint", "test", "build", "deploy"]
    # retry: only the runner's own failures, never a failed script.
    retry = ci["default"]["retry"]
    assert "script_failure" not in retry["when"] and "always" not in retry["when"]
    assert "runner_system_failure" in retry["when"]
    for name, job in ci.items():
        if name != "default" and isinstance(job, dict) and "retry" in job:
            pytest.fail(f"{name} overrides retry")

    def job(name: str) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for parent in [job(p) for p in _as_list(ci[name].get("extends"))]:
            merged |= parent
        return merged | ci[name]

    stage, prod, back = job("deploy:stage"), job("deploy:prod"), job("rollback:prod")
    assert stage["environment"] == {"name": "stage", "deployment_tier": "staging"}
    assert stage["resource_group"] == "stage"
    assert prod["environment"]["name"] == back["environment"]["name"] == "production"
    assert prod["resource_group"] == back["resource_group"] == "production"
    # Production only after stage of the same pipeline succeeded (or in a hotfix pipeline,
    # which has no stage job); each environment on runners of its own tag.
    # The image, when the project ships one, comes with the bundle it was built from.
    image = {"job": "build:image", "optional": True}
    assert prod["needs"] == ["build", image, {"job": "deploy:stage", "optional": True}]
    assert stage["needs"] == back["needs"] == ["build", image]
    assert job("build:image")["needs"] == ["build"]
    assert job("build:image")["artifacts"]["reports"]["dotenv"] == "image.env"
    assert stage["tags"] == ["slipway-stage"]
    assert prod["tags"] == back["tags"] == ["slipway-prod"]
    for deploy in (stage, prod, back):
        assert deploy["interruptible"] is False
        assert "release/" in deploy["artifacts"]["paths"]
        assert deploy["artifacts"]["when"] == "always"
        assert deploy["artifacts"]["reports"]["dotenv"] == "release/deploy.env"
        assert deploy["artifacts"]["reports"]["junit"] == "release/junit.xml"
    (prod_rule,) = prod["rules"]
    assert prod_rule["when"] == "manual" and prod_rule["allow_failure"] is False
    assert back["rules"][0]["when"] == "manual"
    assert "scripts/ci-deploy.sh stage deploy" in stage["script"]
    assert "scripts/ci-deploy.sh prod deploy" in prod["script"]
    assert "scripts/ci-deploy.sh prod rollback" in back["script"]
    # The migration check attaches the lint findings and the SQL to the merge request.
    assert "services" not in ci["migrations"]  # offline: runs on any runner
    reports = ci["migrations"]["artifacts"]["reports"]
    assert reports == {
        "junit": "reports/lint-junit.xml",
        "codequality": "reports/gl-code-quality-report.json",
    }
    assert "artifacts/" in ci["migrations"]["artifacts"]["paths"]
    assert ci["build"]["artifacts"]["paths"] == ["dist/"]
    # Secrets come from protected variables the project defines, never from the YAML.
    text = PIPELINE.read_text()
    for secret in ("SSH_PRIVATE_KEY", "_VAULT_PASSWORD", "SSH_KNOWN_HOSTS"):
        assert secret not in (ci.get("variables") or {})
        assert secret not in text  # only scripts/ci-deploy.sh reads them
    script = (ROOT / "scripts" / "ci-deploy.sh").read_text()
    assert "set -x" not in script and "echo $" not in script
    assert '--vault-password-file "$secrets/vault-pass"' in script


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


# Running the deploy jobs for real ---------------------------------------------------


@dataclass
class Environments:
    stage: ThrowawayDB
    prod: ThrowawayDB
    variables: dict[str, Any]
    secrets: list[str]
    inventories: dict[str, Inventory]


@pytest.fixture
def environments(tmp_path: Path, ssh_hosts: SshHosts) -> Iterator[Environments]:
    """A stage and a production database (each owned by a user with a password, seeded
    at 0002), an inventory for each over SSH whose two web hosts run the service behind
    their own nginx (stage and production on different ports), and the project's CI/CD
    variables."""
    with (
        protected_database("postgresql", tmp_path / "s") as stage,
        protected_database("postgresql", tmp_path / "p") as prod,
    ):
        # The job gets the key and the host keys from CI/CD variables, not the inventory.
        ci_ssh = {
            "ansible_ssh_common_args": "-o UserKnownHostsFile="
            "{{ lookup('ansible.builtin.env', 'SLIPWAY_KNOWN_HOSTS') }} "
            "-o StrictHostKeyChecking=yes",
            "ansible_ssh_private_key_file": "/nonexistent/deploy_key",
        }
        inventories: dict[str, Inventory] = {}
        # Each environment its own vault password.
        vault_passwords = {e: f"vault-{e}-" + os.urandom(8).hex() for e in ("stage", "prod")}
        for name, db, port in (("stage", stage, 8110), ("prod", prod, 8120)):
            alembic_upgrade(db, STOREFRONT_INI, "0002")
            seed_storefront(db)
            inventories[name] = write_inventory(
                tmp_path / f"inv-{name}",
                ssh_hosts,
                env=name,
                database_url=db.url_str,
                bundle=Path("/nonexistent/bundle.tar.gz"),  # the job passes the built one
                extra_vars=ci_ssh,
                vault_password=vault_passwords[name],
                http_port=worker_port(port),
            )
        variables = {
            "SSH_PRIVATE_KEY": str(ssh_hosts.key),  # a path: gitlab-ci-local makes it File type
            "SSH_KNOWN_HOSTS": str(ssh_hosts.known_hosts),
            # The hosts here run this machine's Python: a bundle for it alone is quicker.
            "BUNDLE_PYTHONS": f"{sys.version_info.major}.{sys.version_info.minor}",
            "STAGE_VAULT_PASSWORD": vault_passwords["stage"],
            "PROD_VAULT_PASSWORD": vault_passwords["prod"],
            # The project ships an image: build:image pushes it to the test registry.
            "SLIPWAY_IMAGE": "true",
            "CI_REGISTRY_IMAGE": f"{REGISTRY}/pipeline-{os.urandom(4).hex()}",
            "SLIPWAY_IMAGE_BASE": BASE,
            "SLIPWAY_IMAGE_ISOLATION": "chroot",
            "DOCKER_HOST": ENGINE,
            # Folders, so type variable (a path value would make a File variable).
            "SLIPWAY_VENV": {"type": "variable", "values": {"*": str(ROOT / ".venv")}},
            "SLIPWAY_INVENTORY": {
                "type": "variable",
                "values": {
                    "stage": str(inventories["stage"].path),
                    "production": str(inventories["prod"].path),
                },
            },
        }
        secrets = [
            *vault_passwords.values(),
            str(stage.url.password),
            str(prod.url.password),
            ssh_hosts.key.read_text().splitlines()[1],  # key material
        ]
        try:
            yield Environments(stage, prod, variables, secrets, inventories)
        finally:
            for inv in inventories.values():
                inv.stop_services()


def pipeline_repo(folder: Path, env: Environments, extra: dict[str, str] | None = None) -> Path:
    repo = make_repo(folder, extra)
    (repo / ".gitlab-ci-local-variables.yml").write_text(yaml.safe_dump(env.variables))
    return repo


def run_jobs(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Each job in its own folder with only its own and its needs' artifacts, as a real
    # shell runner checks a job out to builds/<token>/<concurrent-id>/...; without it
    # jobs of one stage share the repository folder and each other's release/.
    return gcl(repo, "--force-shell-executor", "--shell-isolation", *args)


def artifacts(repo: Path, job: str) -> Path:
    # gitlab-ci-local spells ':' in job names as 'Og' in its folder names.
    return repo / ".gitlab-ci-local" / "artifacts" / job.replace(":", "Og")


def assert_no_secret(env: Environments, *texts: str) -> None:
    for text in texts:
        for secret in env.secrets:
            assert secret not in text


def job_logs(repo: Path) -> str:
    logs = repo / ".gitlab-ci-local" / "output"
    return "".join(p.read_text(errors="replace") for p in sorted(logs.glob("*.log")))


def test_stage_deploys_on_push_and_prod_waits_for_its_manual_start(
    tmp_path: Path, environments: Environments
) -> None:
    env = environments
    repo = pipeline_repo(tmp_path / "repo", env)

    # The jobs a push to master runs, from the bundle on (lint and test are this suite):
    # the image too, as the project ships one (built with podman here, pushed to the
    # test registry: tests/test_image.py).
    built = run_jobs(repo, "build")
    assert built.returncode == 0, built.stdout + built.stderr
    imaged = run_jobs(repo, "build:image")
    assert imaged.returncode == 0, imaged.stdout + imaged.stderr
    image = dict(
        line.split("=", 1)
        for line in (artifacts(repo, "build:image") / "image.env").read_text().splitlines()
    )
    # The deploy stage as a push runs it (without --manual): stage deploys, the
    # production job waits for its manual start.
    pushed = run_jobs(repo, "--stage", "deploy")

    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    assert env.stage.revision() == "0006"
    assert env.prod.revision() == "0002"
    assert not artifacts(repo, "deploy:prod").exists()
    stage_release = artifacts(repo, "deploy:stage") / "release"
    dotenv = dict(
        line.split("=", 1) for line in (stage_release / "deploy.env").read_text().splitlines()
    )
    assert dotenv["SLIPWAY_OUTCOME"] == "applied" and dotenv["SLIPWAY_REVISION"] == "0006"
    release_id = dotenv["RELEASE_ID"]
    assert release_id.startswith("storefront-")
    # The deploy job read the image build:image pushed for this very release.
    assert image["SLIPWAY_IMAGE_RELEASE"] == release_id
    assert image["SLIPWAY_IMAGE_TAG"] == release_id
    repository, digest = image["SLIPWAY_IMAGE_DIGEST"].split("@")
    assert repository == env.variables["CI_REGISTRY_IMAGE"]
    assert registry_digest(repository, release_id) == digest
    assert dotenv["IMAGE_DIGEST"] == image["SLIPWAY_IMAGE_DIGEST"]
    assert f"image of this release: {image['SLIPWAY_IMAGE_DIGEST']}" in pushed.stdout
    # Stage serves the new release, through nginx on each of its hosts; prod nothing yet.
    assert env.inventories["stage"].serving() == {"web1": release_id, "web2": release_id}
    assert set(env.inventories["prod"].serving().values()) == {None}
    assert dotenv["BACKUP_PATH"].endswith(".dump")
    (report_path,) = stage_release.glob("runs/*/report.json")
    assert json.loads(report_path.read_text())["outcome"] == "applied"
    assert (report_path.parent / "upgrade.sql").is_file()
    junit = ET.parse(stage_release / "junit.xml").getroot()
    assert junit.get("failures") == "0"
    assert [c.get("name") for c in junit] == [*RELEASE_STEPS, "playbook"]

    released = run_jobs(repo, "--stage", "deploy", "--manual", "deploy:prod")

    assert released.returncode == 0, released.stdout + released.stderr
    assert env.prod.revision() == "0006"
    assert env.prod.scalar("SELECT SUM(total_cents) FROM orders") == 2 * 1250 + 5 * 400
    assert env.inventories["prod"].serving() == {"web1": release_id, "web2": release_id}
    (prod_report,) = artifacts(repo, "deploy:prod").glob("release/runs/*/report.json")
    assert json.loads(prod_report.read_text())["env"] == "prod"
    assert_no_secret(
        env,
        pushed.stdout + pushed.stderr,
        released.stdout + released.stderr,
        job_logs(repo),
    )


def test_a_failed_stage_deploy_rolls_back_and_production_never_starts(
    tmp_path: Path, environments: Environments
) -> None:
    env = environments
    repo = pipeline_repo(
        tmp_path / "repo", env, {"migrations/versions/0007_fails.py": FAILING_REVISION}
    )
    stage_before, prod_before = env.stage.contents(), env.prod.contents()

    built = run_jobs(repo, "build")
    assert built.returncode == 0, built.stdout + built.stderr
    # The deploy stage with the production job started by hand: it needs deploy:stage.
    failed = run_jobs(repo, "--stage", "deploy", "--manual", "deploy:prod")

    assert failed.returncode != 0, failed.stdout + failed.stderr
    assert env.stage.revision() == "0002"
    assert env.stage.contents() == stage_before
    assert "gift_cards" not in env.stage.tables()
    # The migration failed before any host switched: no stage host runs the release.
    assert set(env.inventories["stage"].serving().values()) == {None}
    assert not any((r / "current").exists() for r in env.inventories["stage"].roots.values())
    release = artifacts(repo, "deploy:stage") / "release"
    (report_path,) = release.glob("runs/*/report.json")
    report = json.loads(report_path.read_text())
    assert report["outcome"] == "rolled_back"
    assert report["current_revision"] == "0002"
    assert "0007" in report["error"]["message"]
    assert "SLIPWAY_OUTCOME=rolled_back" in (release / "deploy.env").read_text()
    junit = ET.parse(release / "junit.xml").getroot()
    failed_cases = [c.get("name") for c in junit if c.find("failure") is not None]
    assert failed_cases == ["apply", "playbook"] and junit.get("failures") == "2"
    # Production never started: its database, its hosts and its job's folder untouched.
    assert env.prod.revision() == "0002" and env.prod.contents() == prod_before
    assert not any(r.exists() for r in env.inventories["prod"].roots.values())
    assert not artifacts(repo, "deploy:prod").exists()
    assert_no_secret(env, failed.stdout + failed.stderr, job_logs(repo))


def test_migration_check_job_attaches_sql_and_lint_reports(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / ".gitlab-ci-local-variables.yml").write_text(
        yaml.safe_dump({"SLIPWAY_VENV": {"type": "variable", "values": {"*": str(ROOT / ".venv")}}})
    )

    first_push = run_jobs(repo, "migrations")

    assert first_push.returncode == 0, first_push.stdout + first_push.stderr
    out = artifacts(repo, "migrations")
    junit = ET.parse(out / "reports" / "lint-junit.xml").getroot()
    assert junit.get("failures") == "0" and int(junit.get("tests", "0")) >= 6
    issues = json.loads((out / "reports" / "gl-code-quality-report.json").read_text())
    assert {i["check_name"] for i in issues} >= {"renaming-column"}
    (upgrade,) = out.glob("artifacts/*/upgrade.sql")
    assert "CREATE TABLE users" in upgrade.read_text()  # PostgreSQL's SQL, from base
    assert "CREATE TYPE order_status" in upgrade.read_text()

    # A later push that adds a dangerous revision: only it is linted, and it fails.
    (repo / "migrations" / "versions" / "0007_drop_name.py").write_text(DROP_COLUMN_REVISION)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(
        ["git", "-c", "user.email=c@example.org", "-c", "user.name=C", "commit", "-qm", "drop"],
        cwd=repo,
        check=True,
    )
    before = subprocess.run(
        ["git", "rev-parse", "HEAD~1"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()

    second_push = run_jobs(repo, "migrations", "--variable", f"CI_COMMIT_BEFORE_SHA={before}")

    assert second_push.returncode != 0
    junit = ET.parse(out / "reports" / "lint-junit.xml").getroot()
    assert junit.get("failures") == "1"
    assert [c.get("name") for c in junit.iter("testcase")] == ["0007 ban-drop-column"]
    assert "ban-drop-column" in second_push.stdout + second_push.stderr


DROP_COLUMN_REVISION = '''"""drop users.name

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa

revision = "0007"
down_revision = "0006"


def upgrade():
    op.drop_column("users", "name")


def downgrade():
    op.add_column("users", sa.Column("name", sa.String(120), nullable=True))
'''


# The CI/CD component, included by another project -------------------------------------

THROWAWAY_REVISION = '''"""users, then a required column added to them"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade():
    op.create_table("users", sa.Column("id", sa.Integer, primary_key=True))
    op.add_column("users", sa.Column("email", sa.String(200), nullable=False))


def downgrade():
    op.drop_table("users")
'''


def test_a_project_including_the_component_gets_its_migrations_linted_and_rendered(
    tmp_path: Path,
) -> None:
    project = tmp_path / "shop-api"
    project.mkdir()
    subprocess.run(
        [str(ROOT / ".venv" / "bin" / "alembic"), "init", "migrations"],
        cwd=project,
        capture_output=True,
        check=True,
    )
    (project / "migrations" / "versions" / "0001_users.py").write_text(THROWAWAY_REVISION)
    # What `include: component:` fetches from this project, here from a local copy.
    shutil.copytree(ROOT / "templates", project / "templates")
    (project / ".gitlab-ci.yml").write_text(
        yaml.safe_dump(
            {
                "stages": ["test"],
                "include": [
                    {
                        "local": "templates/slipway.yml",
                        "inputs": {"venv": str(ROOT / ".venv")},
                    }
                ],
            }
        )
    )
    for args in (["init", "-q", "-b", "master"], ["add", "-A"], ["commit", "-qm", "start"]):
        subprocess.run(
            ["git", "-c", "user.email=ci@example.org", "-c", "user.name=CI", *args],
            cwd=project,
            check=True,
            capture_output=True,
        )
    listed = jobs(project)
    assert set(listed) == {"slipway-lint", "slipway-migrations"}

    ran = gcl(project, "--force-shell-executor", "--shell-isolation")

    # The lint job fails on the unaccepted dangerous revision and says why, in JUnit.
    assert ran.returncode != 0, ran.stdout + ran.stderr
    lint = artifacts(project, "slipway-lint") / "reports" / "slipway-lint.xml"
    junit = ET.parse(lint).getroot()
    failures = [c for c in junit.iter("testcase") if c.find("failure") is not None]
    assert failures and "adding-required-field" in ET.tostring(failures[0], encoding="unicode")
    assert "0001" in ET.tostring(failures[0], encoding="unicode")
    # The migrations job renders the SQL of the revisions, offline, as artifacts.
    (upgrade,) = (artifacts(project, "slipway-migrations") / "artifacts").glob("*/upgrade.sql")
    assert "CREATE TABLE users" in upgrade.read_text()
