"""The service from the release's image (slipway_app_from: image), as far as this machine
allows: containers cannot run here, so the rollout's health-gated switch cannot be
driven; the host's install pulls the image by its digest over SSH (as the deploy user,
the engine through sudo), records it beside the release, and the slots' start command is
rendered to run it and passes `sh -n`."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from ansible_env import Inventory, SshHosts, worker_port, write_inventory
from conftest import ROOT
from test_image import ENGINE, REGISTRY, build

# What deploy.yml's rollout does on a host before its switch: check, install, configure.
PLAYBOOK = """
- name: A web host made ready to run the release from its image
  hosts: web
  gather_facts: false
  tasks:
    - name: Check and install
      ansible.builtin.import_role:
        name: slipway.release.slipway_app
        tasks_from: stage
    - name: Configure
      ansible.builtin.include_role:
        name: slipway.release.slipway_app
        tasks_from: configure
"""


@pytest.fixture
def pushed(bundle: Path) -> Iterator[str]:
    """The bundle's image in the test registry, by digest, and not in the local store:
    the host's install must pull it."""
    repository = f"{REGISTRY}/slipway-host-{os.urandom(4).hex()}"
    result = build(bundle, "--registry", repository)
    assert result.code == 0, result.stderr[-2000:]
    client = docker.DockerClient(base_url=ENGINE)
    client.images.remove(result.report["reference"])
    yield str(result.report["digest"])
    for image in client.images.list(name=repository):
        client.images.remove(image.id, force=True)
    client.close()


def inventory(tmp_path: Path, ssh: SshHosts, bundle: Path, image: str) -> Inventory:
    return write_inventory(
        tmp_path / "inventory",
        ssh,
        env="stage",
        # not reached: nothing here migrates
        database_url="postgresql+psycopg://storefront:unused@127.0.0.1:1/storefront",
        bundle=bundle,
        web=("web1",),
        migrator="web1",
        extra_vars={"slipway_app_from": "image", "slipway_app_image": image},
        http_port=worker_port(8130),
    )


def run(inv: Inventory, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    playbook = tmp_path / "image_host.yml"
    playbook.write_text(PLAYBOOK.lstrip())
    name = os.path.relpath(playbook, ROOT / "playbooks").removesuffix(".yml")
    return inv.playbook(name)


def test_a_host_pulls_the_release_image_by_digest_and_its_slots_run_it(
    bundle: Path, pushed: str, ssh_hosts: SshHosts, tmp_path: Path
) -> None:
    inv = inventory(tmp_path, ssh_hosts, bundle, pushed)
    try:
        result = run(inv, tmp_path)
    finally:
        inv.stop_services()

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    # Pulled by digest into the host's engine (the same podman store here).
    client = docker.DockerClient(base_url=ENGINE)
    image = client.images.get(pushed)
    assert pushed in image.attrs["RepoDigests"]
    assert image.labels["org.slipway.release"] == bundle.name.removesuffix(".tar.gz")
    client.close()
    root = inv.roots["web1"]
    release = root / "releases" / bundle.name.removesuffix(".tar.gz")
    assert (release / "IMAGE").read_text() == f"{pushed}\n"
    start = root / "shared" / "bin" / "storefront-run"
    text = start.read_text()
    assert "exec podman run --rm --replace" in text
    assert '"$(cat "$release_dir/IMAGE")"' in text
    assert '--user "$(id -u storefront):$(id -g storefront)"' in text
    assert "venv/bin/gunicorn" not in text
    assert subprocess.run(["sh", "-n", str(start)], check=False).returncode == 0
    supervisord = (root / "shared" / "supervisord.conf").read_text()
    assert "user=storefront" not in supervisord  # the engine as root, the container not


def test_an_image_named_by_tag_stops_the_play_before_the_host_changes(
    bundle: Path, ssh_hosts: SshHosts, tmp_path: Path
) -> None:
    inv = inventory(tmp_path, ssh_hosts, bundle, f"{REGISTRY}/storefront:latest")
    try:
        result = run(inv, tmp_path)
    finally:
        inv.stop_services()

    assert result.returncode != 0
    assert "slipway_app_image must name the release's image by digest" in result.stdout
    assert not (inv.roots["web1"] / "releases").exists()
