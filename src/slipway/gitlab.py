"""Reports GitLab shows on a merge request: JUnit XML (the tests widget) and Code
Quality JSON (the code quality widget), written from a lint result."""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from pathlib import Path

from slipway.artifacts import write_atomic
from slipway.lint import Finding, LintResult

# GitLab's Code Quality severities: info, minor, major, critical, blocker.
_CODE_QUALITY_SEVERITY = {"error": "critical", "warning": "minor"}


def _describe(f: Finding) -> str:
    text = f"{f.rule}: {f.message}"
    if f.statement:
        text += f" [{f.statement[:200]}]"
    if f.accepted is not None:
        text += f" (accepted: {f.accepted})"
    return text


def code_quality(result: LintResult) -> list[dict[str, object]]:
    issues: list[dict[str, object]] = []
    seen: dict[str, int] = {}
    for f in result.findings:
        # The same rule can fire twice on one statement (two columns): GitLab needs
        # every issue's fingerprint to be its own, and stable from run to run.
        n = seen[f.fingerprint] = seen.get(f.fingerprint, 0) + 1
        fingerprint = (
            f.fingerprint if n == 1 else hashlib.sha256(f"{f.fingerprint}/{n}".encode()).hexdigest()
        )
        issues.append(
            {
                "description": _describe(f),
                "check_name": f.rule,
                "fingerprint": fingerprint,
                "severity": "info"
                if f.accepted is not None
                else _CODE_QUALITY_SEVERITY[f.severity],
                "location": {"path": f.path, "lines": {"begin": f.line}},
            }
        )
    return issues


def junit(result: LintResult) -> ET.Element:
    """One test case per finding (failed when it blocks, skipped when accepted), and one
    passing case for each clean revision."""
    suite = ET.Element("testsuite", name=f"slipway lint ({result.dialect})")
    failures = skipped = 0
    for rev in result.revisions:
        path = result.paths.get(rev.id, str(rev.path))
        mine = [f for f in result.findings if f.revision == rev.id]
        if not mine:
            ET.SubElement(
                suite,
                "testcase",
                classname=f"lint.{result.dialect}",
                name=f"{rev.id} clean",
                file=path,
            )
        for f in mine:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"lint.{result.dialect}.{rev.id}",
                name=f"{rev.id} {f.rule}",
                file=path,
            )
            body = f"{f.statement}\n\n{f.message}\nfix: {f.hint}\n{path}:{f.line}"
            if result.blocks(f):
                failures += 1
                failure = ET.SubElement(case, "failure", type=f.rule, message=f.message)
                failure.text = body
            elif f.accepted is not None:
                skipped += 1
                ET.SubElement(case, "skipped", message=f"accepted: {f.accepted}")
            else:
                ET.SubElement(case, "system-out").text = f"{f.severity}: {body}"
    suite.set("tests", str(len(suite)))
    suite.set("failures", str(failures))
    suite.set("skipped", str(skipped))
    suite.set("errors", "0")
    root = ET.Element("testsuites", name="slipway lint")
    root.append(suite)
    for key in ("tests", "failures", "skipped", "errors"):
        root.set(key, suite.get(key, "0"))
    return root


def write_reports(
    result: LintResult, *, junit_path: Path | None, codequality_path: Path | None
) -> None:
    if junit_path is not None:
        junit_path.parent.mkdir(parents=True, exist_ok=True)
        tree = junit(result)
        ET.indent(tree)
        write_atomic(junit_path, ET.tostring(tree, encoding="unicode", xml_declaration=True) + "\n")
    if codequality_path is not None:
        codequality_path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(codequality_path, json.dumps(code_quality(result), indent=2) + "\n")
