"""The units the roles write on hosts that run systemd (this machine runs none, so the
switch itself is exercised under supervisord): rendered by Ansible from the roles'
own templates and defaults, then checked by `systemd-analyze verify`."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT

ROLES = ROOT / "ansible" / "ansible_collections" / "slipway" / "release" / "roles"
RENDER = """---
- name: Render the units
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Defaults and internal values of the roles
      ansible.builtin.include_vars: "{{ item }}"
      loop:
        - %(roles)s/slipway_app/defaults/main.yml
        - %(roles)s/slipway_app/vars/main.yml
        - %(roles)s/slipway_nginx/defaults/main.yml
    - name: The slots' unit
      ansible.builtin.template:
        src: %(roles)s/slipway_app/templates/service@.service.j2
        dest: "%(units)s/{{ _slipway_app_unit }}@.service"
        mode: "0644"
    - name: nginx's unit
      ansible.builtin.template:
        src: %(roles)s/slipway_nginx/templates/nginx.service.j2
        dest: "%(units)s/{{ slipway_nginx_unit }}.service"
        mode: "0644"
"""


def verify(*units: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *map(str, units)],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_the_units_systemd_hosts_get_are_valid(tmp_path: Path) -> None:
    root, units = tmp_path / "storefront", tmp_path / "units"
    units.mkdir()
    start = root / "shared" / "bin" / "storefront-run"  # what the role installs there
    start.parent.mkdir(parents=True)
    start.write_text("#!/bin/sh\nexit 0\n")
    start.chmod(start.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    book = tmp_path / "render.yml"
    book.write_text(RENDER % {"roles": ROLES, "units": units})
    subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "ansible-playbook"),
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            f"ansible_python_interpreter={ROOT / '.venv' / 'bin' / 'python'}",
            "-e",
            f"slipway_db_root={root}",
            str(book),
        ],
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")},
        capture_output=True,
        text=True,
        check=True,
    )
    slots, nginx = units / "storefront-storefront@.service", units / "nginx-storefront.service"

    checked = verify(units / "storefront-storefront@blue.service", nginx)

    assert checked.returncode == 0, checked.stderr[-2000:]
    assert "User=storefront\nGroup=storefront\n" in slots.read_text()
    assert f"ExecStart={start} %i" in slots.read_text()
    assert f"PIDFile={root}/nginx/run/nginx.pid" in nginx.read_text()
    # The check is real: a unit with a relative command is refused.
    broken = units / "broken.service"
    broken.write_text(slots.read_text().replace(f"ExecStart={start}", "ExecStart=run"))
    assert verify(broken).returncode != 0
