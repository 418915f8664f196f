"""The rule names slipway accepts in lint_rules and --lint-rule are the rules that exist:
every rule slipway's gate knows by name, and every squawk rule as the installed squawk
accepts it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from slipway import lint
from slipway.rulenames import KNOWN_RULES, SQUAWK_RULES, unknown


def test_every_rule_the_gate_names_is_known() -> None:
    assert lint.ERROR_RULES <= KNOWN_RULES
    assert lint.OFF_RULES <= KNOWN_RULES
    assert unknown(["ban-drop-column", "table-rebuild", "ban-drop-colum"]) == ["ban-drop-colum"]


def test_the_installed_squawk_accepts_every_squawk_rule_name(tmp_path: Path) -> None:
    sql = tmp_path / "x.sql"
    sql.write_text("SELECT 1;\n")
    # squawk reports these itself (a parse error, an unused ignore); they cannot be excluded
    names = sorted(SQUAWK_RULES - {"unused-ignore", "syntax-error"})
    done = subprocess.run(
        [lint.squawk_binary(), f"--exclude={','.join(names)}", str(sql)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
