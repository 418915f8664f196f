"""The collection documents itself for a team outside this repository: every role
variable (each default a role has) is in its argument specs and in the README's
generated table, the table is up to date, and nothing points at this repository's make
targets."""

from __future__ import annotations

import re
import subprocess
import sys

import yaml
from conftest import ROOT

COLLECTION = ROOT / "ansible" / "ansible_collections" / "slipway" / "release"


def test_the_readme_variables_are_generated_from_the_argument_specs() -> None:
    checked = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "collection-docs.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    readme = (COLLECTION / "README.md").read_text()
    for role in sorted(p for p in (COLLECTION / "roles").iterdir() if p.is_dir()):
        specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())
        options = {
            name
            for entry in specs["argument_specs"].values()
            for name in entry.get("options") or {}
        }
        defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text()) or {}
        undocumented = sorted(set(defaults) - options)
        assert not undocumented, (role.name, undocumented)
        for name in options:
            assert f"| `{name}` |" in readme, name


def test_nothing_in_the_collection_names_this_repositorys_make_targets() -> None:
    for path in COLLECTION.rglob("*"):
        if path.is_file() and path.suffix in (".md", ".yml", ".j2", ".py"):
            text = path.read_text()
            assert not re.search(r"\bmake (bundle|release|setup|services)\b", text), path
