"""The built wheel, installed in a fresh virtual environment outside the repository, is a working hub: the
``workbench`` command, and a hub that signs people up, spawns, opens every dashboard and shares one.

The wheel is built from a copy of the checkout's own files (``build/`` leftovers of earlier builds cannot slip in),
installed with its dependencies from the package index into a new venv, and run from a folder outside the
checkout with a PATH that does not lead back into it: nothing the hub uses can come from the repository.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from testing.hub import Hub
from testing.isolation import reachable
from testing.support import REPO_ROOT
from tests.hub.test_sharing import open_page, wait_until_ready

pytestmark = [pytest.mark.hub, pytest.mark.slow, pytest.mark.timeout(1200)]

PROXY = REPO_ROOT / "node_modules" / ".bin" / "configurable-http-proxy"
NOT_COPIED = shutil.ignore_patterns(".git", ".venv", "node_modules", "build", "dist", "*.egg-info", "__pycache__",
                                    "test-artifacts", ".pytest_cache")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv outside the repository with the built wheel installed; returns its bin folder."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(REPO_ROOT, source, ignore=NOT_COPIED)
    built = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(work / "dist"), str(source)],
        capture_output=True, text=True, timeout=600,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (wheel,) = (work / "dist").glob("profiler_workbench-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    # uv resolves the wheel's dependencies from the same index as pip, in 14 s with an empty cache where pip took
    # 132 s with a full one (measured side by side on a 2-core machine): pip was most of this module's time.
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or "uv"
    installing = subprocess.run([uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
                                 str(wheel)], capture_output=True, text=True, timeout=900)
    assert installing.returncode == 0, installing.stderr[-3000:]
    return venv / "bin"


def outside_env(bin_folder: Path, **extra: str) -> dict[str, str]:
    """An environment whose PATH and PYTHONPATH lead to the venv only, never to the checkout."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("WORKBENCH_", "PYTHON", "VIRTUAL_ENV", "JUPYTER"))}
    env["PATH"] = f"{bin_folder}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # root's PATH
    return {**env, **extra}


def workbench(bin_folder: Path, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(bin_folder / "workbench"), *args], cwd=cwd, env=outside_env(bin_folder, **env),
                          capture_output=True, text=True, timeout=120)


def test_the_installed_code_and_its_files_come_from_the_venv(installed, tmp_path):
    script = (
        "import json, hub, spawner, user_server, profiler, widgets, dashboards, notebooks, stacks\n"
        "from spawner.dashboards import shipped_manifest\n"
        "from spawner.playground import DEFAULT_TEMPLATE\n"
        "from spawner.user_server_files import jupyter_environment\n"
        "print(json.dumps({'modules': [m.__file__ for m in (hub, spawner, user_server, profiler, widgets, "
        "dashboards, notebooks, stacks)], 'files': [str(shipped_manifest()), str(DEFAULT_TEMPLATE), "
        "*jupyter_environment().values()]}))"
    )
    out = subprocess.run([str(installed / "python"), "-c", script], cwd=tmp_path, env=outside_env(installed),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    venv = installed.parent
    for path in found["modules"] + found["files"]:
        assert Path(path).is_relative_to(venv), f"{path} is not from the installed wheel"
        assert Path(path).exists(), path
    config, data = (Path(p) for p in found["files"][2:])
    assert (config / "jupyter_server_config.py").is_file()
    template = data / "voila" / "templates" / "workbench"
    assert (template / "index.html.j2").is_file()
    assert (template / "static" / "fontawesome" / "css" / "all.min.css").is_file(), "the fonts are package data"


def test_workbench_settings_masks_secrets_and_check_says_what_is_missing(installed, tmp_path):
    shown = workbench(installed, tmp_path, "settings", WORKBENCH_OAUTH_CLIENT_SECRET="hunter2",
                      WORKBENCH_DATA_ADMIN_URL="postgresql://admin:hunter2@db.internal/workbench")
    assert shown.returncode == 0, shown.stderr
    assert "hunter2" not in shown.stdout
    assert "WORKBENCH_OAUTH_CLIENT_SECRET=********" in shown.stdout

    missing = workbench(installed, tmp_path, "check", WORKBENCH_DATA_ADMIN_URL="postgresql://nobody@127.0.0.1:1/x",
                        WORKBENCH_SPAWNER="system-users")
    assert missing.returncode == 1
    # this venv sits in pytest's temporary folder, closed to other accounts: users' servers could not run it
    assert "is closed to other accounts" in missing.stdout
    assert "configurable-http-proxy" in missing.stdout and "npm install" in missing.stdout
    assert "WORKBENCH_DATA_ADMIN_URL" in missing.stdout and "cannot be reached" in missing.stdout

    # the hub's own choice of spawner, with the venv opened to users' accounts as an operator's install is
    with reachable(installed.parent):
        ready = workbench(installed, tmp_path, "check", WORKBENCH_PROXY_COMMAND=str(PROXY))
    assert (ready.returncode, ready.stdout.strip()) == (0, "Nothing is missing.")


def test_the_installed_hub_logs_in_spawns_opens_every_dashboard_and_shares_one(installed, tmp_path):
    from spawner.dashboards import load_manifest, shipped_manifest

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = outside_env(installed, WORKBENCH_PROXY_COMMAND=str(PROXY))
    with reachable(installed.parent):  # users' servers run the venv as their own accounts
        hub = Hub(tmp_path / "state", extra_env=env, command=[str(installed / "workbench"), "hub"], cwd=outside)
        try:
            alice = hub.signup_and_login("alice")
            bob = hub.signup_and_login("bob")
            progress = hub.start_server(alice, "alice", timeout=300)
            assert progress.ready, progress.messages
            assert any("playground" in message.lower() for message in progress.messages), progress.messages

            for dashboard in load_manifest(shipped_manifest()):
                started = time.monotonic()
                page = alice.get(f"{hub.user_url('alice')}voila/render/dashboards/{dashboard.notebook}", timeout=180)
                assert page.status_code == 200, (dashboard.notebook, page.status_code, page.text[-2000:])
                assert "application/vnd.jupyter.widget-view+json" in page.text, dashboard.notebook
                assert "There was an error when executing cell" not in page.text, dashboard.notebook
                assert time.monotonic() - started < 180
            fonts = alice.get(f"{hub.user_url('alice')}voila/templates/workbench/static/fontawesome/css/all.min.css",
                              timeout=30)
            assert fonts.status_code == 200

            server = "dash-query-optimization"
            response = hub.hub_api(alice, "POST", f"/users/alice/servers/{server}")
            assert response.status_code in (201, 202), response.text
            wait_until_ready(hub, alice, "alice", server, timeout=300)
            shared = hub.hub_api(alice, "POST", f"/shares/alice/{server}", json={"user": "bob"})
            assert shared.status_code == 200, shared.text
            page = open_page(bob, hub.user_url("alice", server))
            assert page.status_code == 200 and "Run one workload under several loading strategies" in page.text
        finally:
            leftovers = hub.stop()
    assert not leftovers, f"the installed hub left processes behind: {leftovers}"
