"""`slipway deploy` with a required setting missing: the play stops before anything
changes, with a line that names that one setting, and no secret in any output."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

BIN = ROOT / ".venv" / "bin"
SECRET = "pw-" + os.urandom(6).hex()
URL = f"postgresql+psycopg://storefront:{SECRET}@127.0.0.1:5432/never_reached"


def inventory(folder: Path, settings: dict[str, object]) -> tuple[Path, Path]:
    """One host reached without SSH, in groups web and db_migrator; the URL in a vault."""
    host = {"ansible_connection": "local", "ansible_python_interpreter": str(BIN / "python")}
    folder.mkdir(parents=True)
    (folder / "hosts.yml").write_text(
        yaml.safe_dump(
            {
                "all": {
                    "children": {
                        "web": {"hosts": {"web1": host}},
                        "db_migrator": {"hosts": {"web1": None}},
                    }
                }
            }
        )
    )
    group_vars = folder / "group_vars" / "all"
    group_vars.mkdir(parents=True)
    (group_vars / "main.yml").write_text(yaml.safe_dump(settings))
    password = folder.parent / "vault-pass"
    password.write_text("vault-" + os.urandom(8).hex() + "\n")
    vault = group_vars / "vault.yml"
    vault.write_text(yaml.safe_dump({"vault_database_url": URL}))
    subprocess.run(
        [str(BIN / "ansible-vault"), "encrypt", "--vault-password-file", str(password), str(vault)],
        check=True,
        capture_output=True,
    )
    return folder, password


def deploy(
    inv: Path, password: Path, playbook: str, *more: str
) -> subprocess.CompletedProcess[str]:
    """`slipway deploy` of ``playbook`` to stage with that inventory, as an operator runs it."""
    return subprocess.run(
        [
            *(str(BIN / "slipway"), "deploy", "--env", "stage", "--playbook", playbook),
            *("--inventory", str(inv), "--vault-password-file", str(password)),
            *("--project", str(ROOT), *more),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


COMPLETE: dict[str, object] = {
    "slipway_db_env": "stage",
    "slipway_db_database_url": "{{ vault_database_url }}",
    "slipway_db_bundle": "/nonexistent/storefront-20260101T000000Z-v1.tar.gz",
    "slipway_db_root": "/nonexistent/srv/storefront",
}


@pytest.mark.parametrize(
    ("playbook", "missing", "value"),
    [
        ("migrate", "slipway_db_env", ""),
        ("migrate", "slipway_db_database_url", ""),
        ("migrate", "slipway_db_bundle", ""),
        ("migrate", "slipway_db_root", "srv/storefront"),
        ("deploy", "slipway_app_root", "relative/root"),
        ("deploy", "slipway_app_bundle", ""),
        ("deploy", "slipway_app_database_url", ""),
    ],
)
def test_each_missing_setting_is_named_on_its_own(
    tmp_path: Path, playbook: str, missing: str, value: str
) -> None:
    inv, password = inventory(tmp_path / "inventory", {**COMPLETE, missing: value})

    result = deploy(inv, password, playbook)

    assert result.returncode == 2, result.stdout + result.stderr
    named = [line for line in result.stderr.splitlines() if line.startswith("slipway: web1:")]
    assert len(named) == 1, result.stderr
    assert f": {missing} " in named[0], named
    others = {s for s in {*COMPLETE, "slipway_app_root", "slipway_app_bundle"} if s != missing}
    assert not any(f": {s} " in named[0] for s in others), named
    assert not Path("/nonexistent").exists()
    runner = Path(result.stdout.split("ansible-runner artifacts: ")[-1].strip())
    seen = [result.stdout, result.stderr] + [
        p.read_text(errors="replace") for p in runner.rglob("*") if p.is_file()
    ]
    assert all(SECRET not in text for text in seen)


def test_a_host_python_the_release_has_no_wheels_for_is_refused_before_any_change(
    tmp_path: Path,
) -> None:
    from test_install import python

    bundle = tmp_path / "storefront-20260101T000000Z-v1.tar.gz"
    bundle.write_bytes(b"")  # never unpacked: the host is refused first
    root = tmp_path / "srv" / "storefront"
    inv, password = inventory(
        tmp_path / "inventory",
        {
            **COMPLETE,
            "slipway_db_bundle": str(bundle),
            "slipway_db_root": str(root),
            "slipway_db_python": python("3.9"),
        },
    )

    result = deploy(inv, password, "migrate")

    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("slipway: web1:")]
    assert "slipway_db_python" in line and "is Python 3.9" in line, line
    assert "3.10, 3.11, 3.12, 3.13" in line, line
    assert not root.exists()


def test_deploy_json_is_the_result_alone_on_stdout(tmp_path: Path) -> None:
    inv, password = inventory(tmp_path / "inventory", {**COMPLETE, "slipway_db_env": ""})

    result = deploy(inv, password, "migrate", "--json")

    assert result.returncode == 2, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["outcome"] == "bad_input" and report["exit_code"] == 2
    assert report["playbook"] == "migrate" and report["status"] == "failed"
    assert any(": slipway_db_env " in f for f in report["failures"]), report
    assert Path(report["artifacts_dir"]).is_dir()
    assert "slipway: web1:" in result.stderr
    assert SECRET not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("status", "rc", "stats", "outcome"),
    [
        # The migration applied, then the hosts' switch failed and nothing said what it
        # left: not a success.
        ("failed", 2, {"slipway_outcome": "applied"}, "error"),
        ("failed", 2, {"slipway_outcome": "noop"}, "error"),
        # The rollout's undo says what the run ended as.
        ("failed", 2, {"slipway_outcome": "rolled_back"}, "rolled_back"),
        ("successful", 0, {"slipway_outcome": "applied"}, "applied"),
        ("failed", 4, {}, "bad_input"),
    ],
)
def test_a_play_that_failed_after_its_migration_is_not_reported_as_applied(
    status: str, rc: int, stats: dict[str, object], outcome: str
) -> None:
    from slipway.deploy import _outcome

    assert _outcome(status, rc, stats).value == outcome
