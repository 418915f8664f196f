"""Dangerous migrations written by the test are each flagged with the right rule on the
right dialect (squawk on PostgreSQL, slipway's own rules on MariaDB and SQLite); a safe
revision is not; the storefront's own history is clean or explicitly accepted; and the
reports GitLab reads on a merge request are what GitLab expects."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    MARIA_ADMIN,
    PG_ADMIN,
    ROOT,
    Project,
    Release,
    Result,
    ThrowawayDB,
    alembic_upgrade,
    slipway,
    write_config,
)

# Offline lint needs only the dialect; these databases are never connected to.
OFFLINE_URLS = {
    "postgresql": PG_ADMIN.rsplit("/", 1)[0] + "/never_connected",
    "mariadb": MARIA_ADMIN.rsplit("/", 1)[0] + "/never_connected",
    "sqlite": "sqlite:////nonexistent/never_connected.db",
}

TABLE = """
op.create_table("things", sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("name", sa.String(50), nullable=True),
                sa.Column("note", sa.String(50), nullable=True))
"""

BATCH = """
things = sa.Table("things", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                  sa.Column("name", {old}, nullable=True),
                  sa.Column("size", sa.Integer, nullable=False))
with op.batch_alter_table("things", copy_from=things) as batch:
    batch.alter_column("name", type_={new}, existing_type={old}, existing_nullable=True)
"""


def dangerous_history(project: Project) -> None:
    project.add("r01", TABLE, 'op.drop_table("things")')
    project.add(
        "r02_drop_column",
        'op.drop_column("things", "note")',
        'op.add_column("things", sa.Column("note", sa.String(50), nullable=True))',
    )
    project.add(
        "r03_not_null",
        'op.add_column("things", sa.Column("size", sa.Integer, nullable=False))',
        'op.drop_column("things", "size")',
    )
    project.add(
        "r04_type",
        # copy_from: SQLite's table rebuild can then be rendered without a database
        BATCH.format(old="sa.String(50)", new="sa.String(20)"),
        BATCH.format(old="sa.String(20)", new="sa.String(50)"),
    )
    project.add(
        "r05_index",
        'op.create_index("ix_things_name", "things", ["name"])',
        'op.drop_index("ix_things_name", table_name="things")',
    )
    project.add(
        "r06_rename",
        'op.alter_column("things", "name", new_column_name="title", '
        "existing_type=sa.String(20), existing_nullable=True)",
        'op.alter_column("things", "title", new_column_name="name", '
        "existing_type=sa.String(20), existing_nullable=True)",
    )
    project.add(
        "r07_empty_down",
        'op.add_column("things", sa.Column("colour", sa.String(10), nullable=True))',
        "pass",
    )
    project.add(
        "r08_raising_down",
        'op.create_table("more", sa.Column("id", sa.Integer, primary_key=True))',
        'raise NotImplementedError("no way back")',
    )
    project.add(
        "r09_safe",
        'op.add_column("things", sa.Column("weight", sa.Integer, nullable=True))',
        'op.drop_column("things", "weight")',
    )
    project.add(
        "r10_drop_table",
        'op.drop_table("more")',
        'op.create_table("more", sa.Column("id", sa.Integer, primary_key=True))',
    )
    project.add(
        "r11_drop_index",
        'op.drop_index("ix_things_name", table_name="things")',
        'op.create_index("ix_things_name", "things", ["title"])',
    )
    project.add(
        "r12_rename_table",
        'op.rename_table("things", "items")',
        'op.rename_table("items", "things")',
    )
    project.add(
        "r13_backfill",
        "op.execute(\"UPDATE items SET colour = 'blue' WHERE colour IS NULL\")",
        "pass",
    )
    project.add(
        "r14_down_reads_rows",
        'op.add_column("items", sa.Column("shade", sa.String(10), nullable=True))',
        'n = op.get_bind().execute(sa.text("SELECT count(*) FROM items")).scalar()\n'
        'op.drop_column("items", "shade")',
    )


# revision -> the rule it must raise, per dialect (None: no error finding expected)
EXPECTED: dict[str, dict[str, str | None]] = {
    "r02_drop_column": dict.fromkeys(("postgresql", "mariadb", "sqlite"), "ban-drop-column"),
    "r03_not_null": dict.fromkeys(("postgresql", "mariadb", "sqlite"), "adding-required-field"),
    "r04_type": {
        "postgresql": "changing-column-type",
        "mariadb": "changing-column-type",
        # SQLite alters a column by copying the table; the old type is not in the SQL
        "sqlite": "table-rebuild",
    },
    "r05_index": {
        "postgresql": "require-concurrent-index-creation",
        "mariadb": "require-online-index-creation",
        "sqlite": None,  # SQLite has no online index build to ask for
    },
    "r06_rename": dict.fromkeys(("postgresql", "mariadb", "sqlite"), "renaming-column"),
    "r07_empty_down": dict.fromkeys(("postgresql", "mariadb", "sqlite"), "irreversible-downgrade"),
    "r08_raising_down": dict.fromkeys(
        ("postgresql", "mariadb", "sqlite"), "irreversible-downgrade"
    ),
    "r09_safe": dict.fromkeys(("postgresql", "mariadb", "sqlite"), None),
    "r10_drop_table": dict.fromkeys(("postgresql", "mariadb", "sqlite"), "ban-drop-table"),
    "r11_drop_index": {
        "postgresql": "require-concurrent-index-deletion",
        "mariadb": "require-online-index-deletion",
        "sqlite": None,
    },
    "r12_rename_table": dict.fromkeys(("postgresql", "mariadb", "sqlite"), "renaming-table"),
}
# revision -> the rule it raises as a warning only, on every dialect: a data migration
# without a downgrade loses no structure; a downgrade that needs a live connection is
# judged by the rehearsal.
WARNED = {
    "r13_backfill": "irreversible-data-migration",
    "r14_down_reads_rows": "unrenderable-downgrade",
}


def lint(project: Project, kind: str, tmp_path: Path, *extra: str) -> Result:
    config = write_config(
        tmp_path,
        {"lint_fail_on": "error"},
        prod={"database_url_env": "TEST_DB_URL"},
    )
    return slipway(
        "db",
        "lint",
        "--env",
        "prod",
        "--config",
        str(config),
        "--alembic-ini",
        str(project.ini),
        "--json",
        *extra,
        env={"TEST_DB_URL": OFFLINE_URLS[kind]},
    )


def errors_by_revision(report: dict[str, Any], severity: str = "error") -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in report["data"]["lint"]["findings"]:
        if severity in ("any", f["severity"]):
            out.setdefault(f["revision"], set()).add(f["rule"])
    return out


@pytest.mark.parametrize("kind", ["postgresql", "mariadb", "sqlite"])
def test_each_dangerous_revision_is_flagged_with_its_rule(
    kind: str, project: Project, tmp_path: Path
) -> None:
    dangerous_history(project)

    result = lint(project, kind, tmp_path)

    assert result.code == 3, result.stderr
    assert result.report["error"]["check"] == "lint"
    errors = errors_by_revision(result.report)
    found = errors_by_revision(result.report, "any")
    for revision, per_dialect in EXPECTED.items():
        rule = per_dialect[kind]
        if rule is None:
            assert revision not in errors, f"{revision} on {kind}: {errors.get(revision)}"
        else:
            assert rule in found.get(revision, set()), f"{revision} on {kind}: {found}"
    assert "r01" not in errors  # creating a new table is safe
    for revision, rule in WARNED.items():
        assert revision not in errors, f"{revision} on {kind}: {errors.get(revision)}"
        assert rule in errors_by_revision(result.report, "warning")[revision], revision
    finding = next(
        f
        for f in result.report["data"]["lint"]["findings"]
        if f["revision"] == "r02_drop_column" and f["rule"] == "ban-drop-column"
    )
    assert "note" in finding["statement"] and "DROP" in finding["statement"].upper()
    assert finding["path"] == "versions/r02_drop_column.py"
    assert finding["hint"] and finding["blocking"] is True
    # The line of the op call that wrote the statement, not that of `def upgrade`.
    source = (project.root / finding["path"]).read_text().splitlines()
    assert "drop_column" in source[finding["line"] - 1], source[finding["line"] - 1]
    # The one-line error names the first blocking revision, its rule and its file.
    assert result.stderr.count("\n") == 1
    assert "versions/r02_drop_column.py" in result.stderr and "ban-drop-column" in result.stderr


@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
def test_a_revision_that_cannot_render_offline_hides_nothing_after_it(
    kind: str, project: Project, tmp_path: Path
) -> None:
    """The range renders in one offline pass: a revision that reads the database in
    Python raises there and is reported unrenderable, and the revisions after it are
    still rendered and linted, each with its own findings and lines."""
    project.add("r01", TABLE, 'op.drop_table("things")')
    project.add(
        "r02_reads_rows",
        'count = op.get_bind().execute(sa.text("SELECT count(*) FROM things")).scalar()\n'
        "op.execute(f\"UPDATE things SET note = '{count}'\")",
        'op.execute("UPDATE things SET note = NULL")',
    )
    project.add(
        "r03_drop_column",
        'op.drop_column("things", "name")',
        'op.add_column("things", sa.Column("name", sa.String(50), nullable=True))',
    )

    result = lint(project, kind, tmp_path)

    found = errors_by_revision(result.report, "any")
    assert "unrenderable" in found["r02_reads_rows"], found
    assert "ban-drop-column" in found["r03_drop_column"], found
    finding = next(
        f for f in result.report["data"]["lint"]["findings"] if f["rule"] == "ban-drop-column"
    )
    source = (project.root / finding["path"]).read_text().splitlines()
    assert "drop_column" in source[finding["line"] - 1], source[finding["line"] - 1]
    assert result.code == 3 and "r03_drop_column" in result.stderr, result.stderr


def test_rename_column_on_a_server_without_it_is_flagged(project: Project, tmp_path: Path) -> None:
    project.add("r01", TABLE, 'op.drop_table("things")')
    project.add(
        "r02",
        'op.execute("ALTER TABLE things RENAME COLUMN name TO title")',
        'op.execute("ALTER TABLE things RENAME COLUMN title TO name")',
    )

    old = lint(project, "mariadb", tmp_path, "--server-version", "mariadb-10.4")
    new = lint(project, "mariadb", tmp_path, "--server-version", "mariadb-10.11")

    assert "rename-column-unsupported" in errors_by_revision(old.report)["r02"]
    assert "rename-column-unsupported" not in errors_by_revision(new.report)["r02"]
    assert "renaming-column" in errors_by_revision(new.report)["r02"]


def test_an_accepted_finding_passes_and_the_report_shows_its_reason(
    project: Project, tmp_path: Path
) -> None:
    project.add("r01", TABLE, 'op.drop_table("things")')
    path = project.add(
        "r02",
        'op.drop_column("things", "note")',
        'op.add_column("things", sa.Column("note", sa.String(50), nullable=True))',
    )
    path.write_text(
        path.read_text() + '\nslipway_accept = {"ban-drop-column": "note unused since 1.2"}\n'
    )

    result = lint(project, "mariadb", tmp_path)

    assert result.code == 0, result.stderr
    (finding,) = [f for f in result.report["data"]["lint"]["findings"] if f["revision"] == "r02"]
    assert finding["rule"] == "ban-drop-column"
    assert finding["accepted"] == "note unused since 1.2"
    assert finding["blocking"] is False


def test_an_acceptance_without_a_reason_is_bad_input(project: Project, tmp_path: Path) -> None:
    path = project.add("r01", TABLE, 'op.drop_table("things")')
    path.write_text(path.read_text() + '\nslipway_accept = {"ban-drop-column": ""}\n')

    result = lint(project, "sqlite", tmp_path)

    assert result.code == 2
    assert "slipway_accept" in result.stderr and "r01.py" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("kind", ["postgresql", "mariadb", "sqlite"])
def test_storefront_history_is_clean_or_explicitly_accepted(kind: str) -> None:
    result = slipway(
        "db", "lint", "--env", "prod", "--json", env={"STOREFRONT_DATABASE_URL": OFFLINE_URLS[kind]}
    )

    assert result.code == 0, result.stderr
    lint_data = result.report["data"]["lint"]
    assert lint_data["revisions"] == ["0001", "0002", "0003", "0004", "0005", "0006"]
    assert lint_data["findings"], "the rename and the index are findings, accepted"
    for finding in lint_data["findings"]:
        assert finding["accepted"], finding


def test_merge_request_reports_are_what_gitlab_reads(project: Project, tmp_path: Path) -> None:
    dangerous_history(project)
    junit_path, quality_path = tmp_path / "out" / "junit.xml", tmp_path / "out" / "cq.json"
    path = project.root / "versions" / "r10_drop_table.py"
    path.write_text(path.read_text() + '\nslipway_accept = {"ban-drop-table": "empty table"}\n')

    result = lint(
        project,
        "postgresql",
        tmp_path,
        "--junit",
        str(junit_path),
        "--codequality",
        str(quality_path),
    )

    assert result.code == 3
    findings = result.report["data"]["lint"]["findings"]
    blocking = [f for f in findings if f["blocking"]]
    # JUnit XML: parses, counts agree, one failed case per blocking finding.
    root = ET.parse(junit_path).getroot()
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    assert int(suite.get("tests", "-1")) == len(cases)
    failed = [c for c in cases if c.find("failure") is not None]
    assert int(suite.get("failures", "-1")) == len(failed) == len(blocking)
    skipped = [c for c in cases if c.find("skipped") is not None]
    assert len(skipped) == 1 and "empty table" in (skipped[0].find("skipped").get("message") or "")
    assert all(c.get("name") and c.get("classname") for c in cases)
    assert any("r09_safe" in (c.get("name") or "") for c in cases)
    # Code Quality: a JSON array of issues with the fields GitLab documents.
    issues = json.loads(quality_path.read_text())
    assert isinstance(issues, list) and len(issues) == len(findings)
    for issue in issues:
        assert isinstance(issue["description"], str) and issue["description"]
        assert isinstance(issue["check_name"], str) and issue["check_name"]
        assert isinstance(issue["fingerprint"], str) and len(issue["fingerprint"]) == 64
        assert issue["severity"] in {"info", "minor", "major", "critical", "blocker"}
        assert (project.root / issue["location"]["path"]).is_file()
        assert isinstance(issue["location"]["lines"]["begin"], int)
        assert issue["location"]["lines"]["begin"] >= 1
    assert len({i["fingerprint"] for i in issues}) == len(issues)
    accepted = [i for i in issues if i["check_name"] == "ban-drop-table"]
    assert accepted and all(i["severity"] == "info" for i in accepted)
    assert any(i["severity"] == "critical" for i in issues)


def test_lint_of_storefront_writes_reports_for_ci(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    result = slipway(
        "db",
        "lint",
        "--env",
        "prod",
        "--junit",
        str(out / "junit.xml"),
        "--codequality",
        str(out / "cq.json"),
        env={"STOREFRONT_DATABASE_URL": OFFLINE_URLS["postgresql"]},
        cwd=ROOT,
    )
    assert result.code == 0, result.stderr
    assert ET.parse(out / "junit.xml").getroot().get("failures") == "0"
    assert all(i["severity"] == "info" for i in json.loads((out / "cq.json").read_text()))
    assert "accepted" in result.stdout


def test_pending_lint_reads_the_database_and_its_server_version(
    maria: ThrowawayDB, project: Project, tmp_path: Path
) -> None:
    project.add("r01", TABLE, 'op.drop_table("things")')
    project.add(
        "r02",
        'op.execute("ALTER TABLE things RENAME COLUMN name TO title")',
        'op.execute("ALTER TABLE things RENAME COLUMN title TO name")',
    )
    alembic_upgrade(maria, project.ini, "r01")
    config = write_config(tmp_path, {"lint_fail_on": "error"})

    result = Release(maria, project.ini, config)("lint", "--pending")

    assert result.code == 3, result.stderr
    lint_data = result.report["data"]["lint"]
    assert lint_data["revisions"] == ["r02"]
    assert lint_data["server"].startswith("mariadb 1")
    rules = errors_by_revision(result.report)["r02"]
    assert "renaming-column" in rules
    assert "rename-column-unsupported" not in rules  # this MariaDB has RENAME COLUMN
    assert maria.revision() == "r01"
