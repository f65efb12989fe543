"""checkov, the maintained scanner of infrastructure code, run over the Kubernetes manifests the tests build.

checkov pins boto3 and packaging to versions older than the project's (3.3.30: ``boto3==1.35.49``,
``packaging<24``), so it lives in a venv of its own beside the image tests' cache, made on first use as pip
installs it (about 40 s here) and reused after. Its findings are returned as ``{check id: kinds}`` for the tests to
compare with the ones they justify.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

CHECKOV_VENV = Path(os.environ.get("WORKBENCH_CHECKOV_VENV", "/var/cache/profiler-workbench/checkov"))
CHECKOV = "checkov>=3.2,<4"


def checkov_command() -> Path:
    command = CHECKOV_VENV / "bin" / "checkov"
    if not command.exists():
        subprocess.run([sys.executable, "-m", "venv", str(CHECKOV_VENV)], check=True, timeout=120)
        subprocess.run([str(CHECKOV_VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                        CHECKOV], check=True, timeout=900)
    return command


def kubernetes_findings(manifests: list[dict], folder: Path) -> dict[str, set[str]]:
    """checkov's failed Kubernetes checks over ``manifests`` (scanned together, as one deployment): check id ->
    the kinds of the objects that failed it."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, manifest in enumerate(manifests):
        (folder / f"{index}-{manifest['kind'].lower()}.yaml").write_text(yaml.safe_dump(manifest))
    result = subprocess.run([str(checkov_command()), "--directory", str(folder), "--framework", "kubernetes",
                             "--output", "json", "--quiet", "--compact", "--skip-download"],
                            capture_output=True, text=True, timeout=300)
    reports = json.loads(result.stdout or "[]")
    found: dict[str, set[str]] = {}
    for report in reports if isinstance(reports, list) else [reports]:
        for check in report.get("results", {}).get("failed_checks", []):
            found.setdefault(check["check_id"], set()).add(check["resource"].split(".", 1)[0])
    return found
