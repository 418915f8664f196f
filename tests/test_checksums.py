"""A revision's checksum is the same on every supported Python, and what earlier slipway
versions recorded with ``ast.dump`` on each Python is still recognised."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT
from test_install import python

VERSIONS = ("3.10", "3.11", "3.12", "3.13")
# Revision files of every shape the tests carry: the corpus, the public histories, the
# sample service's.
FILES = sorted(
    str(p)
    for pattern in ("tests/corpus/**/*.py", "tests/public/**/*.py", "migrations/**/*.py")
    for p in ROOT.glob(pattern)
)

COMPUTE = """
import ast, json, sys
from pathlib import Path
from slipway import checksums
style = {(3, 12): "3.12", (3, 13): "3.13"}.get(sys.version_info[:2], "3.11")
out = {}
for name in sys.argv[1:]:
    path = Path(name)
    tree = checksums._tree(path.read_bytes(), path)
    dumped = ast.dump(tree) if tree is not None else None
    legacy = checksums.hashlib.sha256(dumped.encode()).hexdigest() if dumped else None
    out[name] = [checksums.code_sha256(path), legacy, sorted(checksums.legacy_sha256s(path))]
print(json.dumps(out))
"""


def _computed(version: str) -> dict[str, list[object]]:
    done = subprocess.run(
        [python(version), "-c", COMPUTE, *FILES],
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def computed() -> dict[str, dict[str, list[object]]]:
    return {v: _computed(v) for v in VERSIONS}


def test_every_python_computes_the_same_checksum(
    computed: dict[str, dict[str, list[object]]],
) -> None:
    assert len(FILES) > 40
    first = {name: found[0] for name, found in computed[VERSIONS[0]].items()}
    for version in VERSIONS[1:]:
        assert {name: found[0] for name, found in computed[version].items()} == first, version


def test_what_older_slipway_recorded_on_any_python_is_recognised(
    computed: dict[str, dict[str, list[object]]],
) -> None:
    """Earlier versions hashed ast.dump(): each Python's dump is the canonical form (3.10,
    3.11) or one of the legacy forms every Python computes (3.12, 3.13)."""
    for version in VERSIONS:
        for name, (canonical, legacy, _) in computed[version].items():
            if legacy is None:
                continue
            for other in VERSIONS:
                _, _, recognised = computed[other][name]
                assert legacy == canonical or legacy in recognised, (version, other, name)


def test_formatting_and_docstrings_leave_the_checksum_and_code_changes_it(tmp_path: Path) -> None:
    from slipway.checksums import code_sha256

    a, b, c = tmp_path / "a.py", tmp_path / "b.py", tmp_path / "c.py"
    a.write_text("def upgrade():\n    op.execute('SELECT 1')\n")
    b.write_text(
        '"""Doc."""\n# comment\n\n\ndef upgrade():\n    """Up."""\n    op.execute(\n'
        '        "SELECT 1",\n    )\n'
    )
    c.write_text("def upgrade():\n    op.execute('SELECT 2')\n")
    assert code_sha256(a) == code_sha256(b) != code_sha256(c)
