"""``slipway deploy``: run a playbook of this project through ansible-runner.

The playbooks do the work (the collection ``slipway.release`` in ``ansible/``); this
module starts one, streams each task's progress, keeps the runner's artifacts, and turns
the result into the exit codes of docs/contract.md ("Outcomes and exit codes"): the
outcome the role reports through ``set_stats``, or, when the play failed before the run
had an outcome, an error of its own kind.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slipway.artifacts import new_run_id, private_dir
from slipway.errors import BadInput
from slipway.outcomes import EXIT_CODES, Outcome

PLAYBOOKS = ("migrate", "backup", "rollback", "deploy")
# ansible-runner artifacts kept per project (artifacts/ansible-runner/artifacts/).
RUNNER_ARTIFACTS_KEPT = 20

# What ansible-runner records of the environment it starts ansible-playbook in: never
# a secret. Secrets reach the playbooks through the vault, whose password is a file.
_SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|PRIVATE|_KEY$|DATABASE_URL|VAULT_PASS")


@dataclass
class DeployResult:
    playbook: str
    inventory: Path
    status: str  # ansible-runner's: successful, failed, timeout, canceled
    rc: int
    outcome: Outcome
    run_id: str | None
    artifacts_dir: Path
    failures: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return self.outcome.exit_code

    def as_dict(self) -> dict[str, object]:
        return {
            "outcome": self.outcome.value,
            "exit_code": self.exit_code,
            "playbook": self.playbook,
            "inventory": str(self.inventory),
            "status": self.status,
            "rc": self.rc,
            "run_id": self.run_id,
            "artifacts_dir": str(self.artifacts_dir),
            "failures": self.failures,
        }


def _find(project: Path, env: str, playbook: str, inventory: Path | None) -> tuple[str, Path]:
    """The playbook (the project's playbooks/NAME.yml, else the installed collection's
    slipway.release.NAME) and the inventory."""
    if playbook not in PLAYBOOKS:
        raise BadInput(f"unknown playbook '{playbook}'", hint=f"one of: {', '.join(PLAYBOOKS)}")
    own = project / "playbooks" / f"{playbook}.yml"
    if own.is_file():
        book = str(own.relative_to(project))
    else:
        book = _collection_playbook(project, playbook)
    inv = inventory if inventory is not None else project / "inventories" / env
    if not inv.exists():
        known = sorted(p.name for p in (project / "inventories").glob("*") if p.is_dir())
        raise BadInput(
            f"no inventory {inv} for environment '{env}'",
            hint=f"known: {', '.join(known) or 'none'}; or pass --inventory PATH",
        )
    return book, inv


COLLECTION = "slipway.release"


def _ansible_env(project: Path, binary: str) -> dict[str, str]:
    """The environment of the play: the project's ansible.cfg where it has one, and the
    ansible installed with slipway first on PATH."""
    env = {"PATH": f"{Path(binary).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    if (project / "ansible.cfg").is_file():
        env["ANSIBLE_CONFIG"] = str(project / "ansible.cfg")
    return env


def _collection_playbook(project: Path, playbook: str) -> str:
    """slipway.release.NAME, when the collection is installed where Ansible looks (its
    collections path, as the project's ansible.cfg and ANSIBLE_COLLECTIONS_PATH say)."""
    galaxy = Path(_ansible_playbook()).parent / "ansible-galaxy"
    found = subprocess.run(
        [str(galaxy), "collection", "list", COLLECTION, "--format", "json"],
        cwd=project,
        env={**os.environ, **_ansible_env(project, _ansible_playbook())},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    try:
        listed = json.loads(found.stdout or "{}")
    except ValueError:
        listed = {}
    if not any(COLLECTION in (paths or {}) for paths in listed.values()):
        raise BadInput(
            f"{project} has no playbooks/{playbook}.yml, and the collection {COLLECTION} "
            "is not installed",
            hint=f"ansible-galaxy collection install slipway-release-*.tar.gz, or run from "
            f"a project with playbooks/{playbook}.yml",
        )
    return f"{COLLECTION}.{playbook}"


@contextlib.contextmanager
def _scrubbed_environ() -> Iterator[None]:
    """Hide secret-looking variables from ansible-runner, which records its environment."""
    hidden = {k: v for k, v in os.environ.items() if _SECRET_NAME.search(k.upper())}
    for key in hidden:
        del os.environ[key]
    try:
        yield
    finally:
        os.environ.update(hidden)


def deploy(
    project: Path,
    env: str,
    playbook: str = "migrate",
    *,
    inventory: Path | None = None,
    vault_password_file: Path | None = None,
    extra_vars: dict[str, str] | None = None,
    check: bool = False,
    on_event: Callable[[dict[str, Any]], None] | None = None,
) -> DeployResult:
    """Run ``playbooks/<playbook>.yml`` (or, where the project has none, the installed
    collection's ``slipway.release.<playbook>``) against the environment's inventory."""
    try:
        import ansible_runner  # the controller extra: pip install 'slipway-release[deploy]'
    except ImportError as err:
        raise BadInput(
            "slipway deploy needs ansible-runner", hint="pip install 'slipway-release[deploy]'"
        ) from err
    project = project.resolve()
    book, inv = _find(project, env, playbook, inventory)
    if vault_password_file is not None and not vault_password_file.is_file():
        raise BadInput(f"vault password file {vault_password_file} does not exist")
    binary = _ansible_playbook()
    ident = new_run_id()
    runner_dir = private_dir(project / "artifacts" / "ansible-runner")
    cmdline = ["--check"] if check else []
    if vault_password_file is not None:
        cmdline += ["--vault-password-file", str(vault_password_file.resolve())]
    _prune(runner_dir / "artifacts", keep=RUNNER_ARTIFACTS_KEPT - 1)
    stats: dict[str, Any] = {}
    failures: list[str] = []

    def handle(event: dict[str, Any]) -> bool:
        data = event.get("event_data", {})
        if event.get("event") == "playbook_on_stats":
            stats.update(data.get("artifact_data") or {})
        if event.get("event") in ("runner_on_failed", "runner_on_unreachable") and not data.get(
            "ignore_errors"
        ):
            for reason in _reasons(data.get("res", {})):
                failures.append(f"{data.get('host')}: {data.get('task')}: {reason}".strip())
        if on_event is not None:
            on_event(event)
        return True

    with _scrubbed_environ():
        result = ansible_runner.run(
            private_data_dir=str(runner_dir),
            project_dir=str(project),
            playbook=book,
            inventory=str(inv.resolve()),
            ident=ident,
            cmdline=" ".join(cmdline) if cmdline else None,
            extravars=extra_vars or None,
            envvars=_ansible_env(project, binary),
            event_handler=handle,
            quiet=True,
            suppress_env_files=True,
        )
    outcome = _outcome(result.status, int(result.rc or 0), stats)
    if check and outcome is Outcome.APPLIED:
        outcome = Outcome.NOOP
    return DeployResult(
        playbook=playbook,
        inventory=inv,
        status=str(result.status),
        rc=int(result.rc or 0),
        outcome=outcome,
        run_id=str(stats.get("slipway_run_id") or "") or None,
        artifacts_dir=runner_dir / "artifacts" / ident,
        failures=failures,
    )


def _prune(folder: Path, keep: int) -> None:
    """Keep the newest ``keep`` runs' artifacts (idents sort by time). Not ansible-runner's
    own rotation: two deploys of one project at once both delete the same old folder,
    and the loser fails on a file the winner already removed."""
    runs = sorted(p for p in folder.glob("*") if p.is_dir()) if folder.is_dir() else []
    for old in runs[: max(0, len(runs) - keep)]:
        shutil.rmtree(old, ignore_errors=True)


def _reasons(res: dict[str, Any]) -> list[str]:
    """Why a task failed: its message, or for a loop, the message of each failed item
    (the loop's own says only that one failed)."""
    items = [r for r in res.get("results") or [] if isinstance(r, dict) and r.get("failed")]
    if items:
        return [str(r.get("msg", "")) for r in items]
    return [str(res.get("msg", ""))]


def _ansible_playbook() -> str:
    """The ansible-playbook installed with slipway, else the one on PATH."""
    beside = Path(sys.executable).parent / "ansible-playbook"
    found = str(beside) if beside.is_file() else shutil.which("ansible-playbook")
    if found is None:
        raise BadInput("ansible-playbook not found", hint="pip install 'slipway-release[deploy]'")
    return found


def _outcome(status: str, rc: int, stats: dict[str, Any]) -> Outcome:
    reported = stats.get("slipway_outcome")
    failed = not (status == "successful" and rc == 0)
    if reported in {o.value for o in EXIT_CODES}:
        # A migration that applied does not make the run a success when a later play
        # (the hosts' switch) failed without saying what it left.
        if failed and reported in (Outcome.APPLIED.value, Outcome.NOOP.value):
            return Outcome.ERROR
        return Outcome(reported)
    if status == "successful" and rc == 0:
        return Outcome.APPLIED
    # The play failed before slipway ran (unreachable host, a failed assert, a missing
    # bundle): nothing was changed by slipway, and the input is what needs fixing.
    return Outcome.BAD_INPUT if rc in (2, 4) else Outcome.ERROR
