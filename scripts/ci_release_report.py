"""After a deploy job: the newest slipway run in release/runs/ as the job's reports.

- release/deploy.env (a GitLab dotenv report): RELEASE_ID, SLIPWAY_RUN_ID,
  SLIPWAY_OUTCOME, SLIPWAY_REVISION, BACKUP_PATH and, when build:image ran, the
  IMAGE_DIGEST released beside the bundle, for later jobs and the environment;
- release/junit.xml: one test case per step of the run, failed where the step failed,
  and one for the whole playbook, failed when the job's deploy failed (after an applied
  migration that is the service rollout: deploy.yml then put hosts and database back).

Usage: python scripts/ci_release_report.py RELEASE_DIR EXIT_CODE
"""

from __future__ import annotations

import json
import os
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def main(folder: Path, exit_code: int) -> None:
    reports = sorted((folder / "runs").glob("*/report.json"))
    report = json.loads(reports[-1].read_text()) if reports else {}
    current = Path("dist/CURRENT")
    release_id = current.read_text().strip().removesuffix(".tar.gz") if current.is_file() else ""
    env = {
        "RELEASE_ID": release_id,
        "SLIPWAY_RUN_ID": report.get("run_id", ""),
        "SLIPWAY_OUTCOME": report.get("outcome", "none"),
        "SLIPWAY_REVISION": report.get("current_revision") or "",
        "BACKUP_PATH": (report.get("backup") or {}).get("path", ""),
    }
    if os.environ.get("SLIPWAY_IMAGE_DIGEST"):  # build:image's dotenv report
        env["IMAGE_DIGEST"] = os.environ["SLIPWAY_IMAGE_DIGEST"]
    (folder / "deploy.env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))

    suite = ET.Element("testsuite", name=f"slipway release {report.get('env', '')}")
    failures = 0
    for step in report.get("steps", []):
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"release.{report.get('env', '')}",
            name=step["name"],
            time=str(step.get("duration_s", 0)),
        )
        if step["status"] == "failed":
            failures += 1
            ET.SubElement(case, "failure", message=step.get("detail", "")).text = step.get(
                "detail", ""
            )
        elif step["status"] == "skipped":
            ET.SubElement(case, "skipped", message=step.get("detail", ""))
    if not report:
        failures += 1
        case = ET.SubElement(suite, "testcase", classname="release", name="slipway ran")
        ET.SubElement(case, "failure", message=f"no run report; deploy exited {exit_code}")
    case = ET.SubElement(suite, "testcase", classname="release", name="playbook")
    if exit_code != 0:
        failures += 1
        ET.SubElement(case, "failure", message=f"the deploy exited {exit_code}: see the job log")
    suite.set("tests", str(len(suite)))
    suite.set("failures", str(failures))
    ET.ElementTree(suite).write(folder / "junit.xml", encoding="utf-8", xml_declaration=True)
    outcome = env["SLIPWAY_OUTCOME"]
    print(f"release {release_id}: {outcome} (run {env['SLIPWAY_RUN_ID'] or '-'}), exit {exit_code}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
