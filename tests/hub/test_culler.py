"""Idle servers and kernels are culled (hub/services/culler.py): a server nobody uses is stopped after the idle
time, a published dashboard whose viewer is at work is not, and inside a server kernels nobody has open are
shut down while the kernels kept ready for the dashboards stay."""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import psutil
import pytest
import requests
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from hub.services import culler
from hub.settings import load
from testing.support import REPO_ROOT
from testing.user_server import UserServer
from tests.hub.test_sharing import is_dashboard, open_page, wait_until_ready
from tests.security.test_access_ends import OpenKernel, server_url

SERVER = "dash-query-optimization"


def configured(**environ: str) -> Config:
    c = Config()
    c.JupyterHub.services = []
    c.JupyterHub.load_roles = []
    culler.configure(c, load(environ))
    return c


def test_the_culler_runs_as_a_service_with_only_the_scopes_it_needs():
    c = configured()
    assert load({}).idle_timeout == 3600
    (service,) = c.JupyterHub.services
    assert service["name"] == culler.SERVICE_NAME and "--timeout=3600" in service["command"]
    # it never loads a configuration file from the hub's working directory
    assert "--config=" in service["command"]
    (role,) = c.JupyterHub.load_roles
    assert role["services"] == [culler.SERVICE_NAME]
    assert sorted(role["scopes"]) == ["delete:servers", "list:users", "read:servers", "read:users:activity"]
    # a long timeout keeps JupyterHub's own 300 s between activity updates; a short one refreshes faster
    assert c.JupyterHub.last_activity_interval == 300
    assert configured(WORKBENCH_IDLE_TIMEOUT="20").JupyterHub.last_activity_interval == 4


def test_no_culling_at_all_with_an_idle_timeout_of_0():
    c = configured(WORKBENCH_IDLE_TIMEOUT="0")
    assert c.JupyterHub.services == [] and c.JupyterHub.load_roles == []
    assert "environment" not in c.Spawner and "last_activity_interval" not in c.JupyterHub


def users_server_config(**environ: str) -> Config:
    folder = REPO_ROOT / "user_server" / "jupyter_config"
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environ.items():
            patch.setenv(name, value)
        return PyFileConfigLoader("jupyter_server_config.py", path=str(folder)).load_config()


def test_users_servers_shut_down_kernels_after_the_idle_time_the_hub_gives_them():
    c = configured(WORKBENCH_IDLE_TIMEOUT="1800")
    environment = c.Spawner.environment.get_value({})
    assert environment == {culler.ACTIVITY_VARIABLE: "300", culler.KERNEL_IDLE_VARIABLE: "1800"}
    server = users_server_config(**environment)
    assert server.MappingKernelManager.cull_idle_timeout == 1800
    assert server.MappingKernelManager.cull_connected is False
    assert "cull_idle_timeout" not in users_server_config().MappingKernelManager


def write_notebook(path: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(
        "import os\nfrom pathlib import Path\nPath(f'ran-{os.getpid()}').touch()")]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)


@pytest.mark.slow
def test_kernel_culling_leaves_the_preheated_pool_alone(tmp_path):
    """Measured with voila 0.5.13: its pooling kernel manager exempts pool kernels from jupyter_server's culler.
    Were they culled, the pool would start a new kernel that runs the dashboard again, every idle period."""
    idle = 3
    write_notebook(tmp_path / "dashboards" / "d.ipynb")
    server = UserServer(tmp_path, tmp_path / "server.log", env={
        "WORKBENCH_PREHEAT_NOTEBOOKS": "dashboards/d.ipynb", "WORKBENCH_PREHEAT_POOL_SIZE": "1",
        culler.KERNEL_IDLE_VARIABLE: str(idle)}, args=("--PreheatingKernelManager.busy_threshold=1",))
    try:
        def kernels() -> set[str]:
            # no_track_activity: this test's own polling is not the server's activity
            listed = requests.get(server.url("api/kernels") + "&no_track_activity=1", timeout=10).json()
            return {kernel["id"] for kernel in listed}

        def runs() -> list[Path]:
            return list((tmp_path / "dashboards").glob("ran-*"))

        deadline = time.monotonic() + 60
        while not runs():
            assert time.monotonic() < deadline, "the pool never ran the dashboard"
            time.sleep(0.2)
        (pooled,) = kernels()
        left_open = requests.post(server.url("api/kernels"), json={"name": "python3"}, timeout=30).json()["id"]
        time.sleep(3 * idle + 2)  # several passes of the culler (every second at this timeout)
        assert kernels() == {pooled}, "the kernel nobody had open was not culled, or the pool's was"
        assert left_open not in kernels()
        assert len(runs()) == 1, "the pool ran the dashboard again"
    finally:
        server.stop()


def user_server_environments(hub) -> list[dict]:
    found = []
    for process in hub.descendants():
        try:
            if "jupyterhub.singleuser" in " ".join(process.cmdline()):
                found.append(process.environ())
        except psutil.Error:
            continue  # exited meanwhile
    return found


def server_state(hub, browser, user: str) -> dict:
    return hub.hub_api(browser, "GET", f"/users/{user}").json()["servers"]


@pytest.mark.slow
def test_idle_servers_are_stopped_and_a_dashboard_in_use_is_not(start_hub):
    idle = 12  # seconds; the culler passes, and the hub refreshes activity, every 2 s at this timeout
    interval = culler.activity_interval(idle)
    stop_seconds = 10  # the hub stopping a server and the test's polling
    hub = start_hub(WORKBENCH_IDLE_TIMEOUT=str(idle))
    alice, bob = hub.signup_and_login("alice"), hub.signup_and_login("bob")

    assert hub.start_server(alice, "alice").ready
    lab_ready = time.monotonic()
    # the hub hands its idle time to users' servers (their kernels) and asks them for fresh activity
    (environ,) = user_server_environments(hub)
    assert environ[culler.KERNEL_IDLE_VARIABLE] == str(idle) and environ[culler.ACTIVITY_VARIABLE] == str(interval)
    started = hub.hub_api(alice, "POST", f"/users/alice/servers/{SERVER}")
    assert started.status_code in (201, 202), started.text
    base = server_url(hub, wait_until_ready(hub, alice, "alice", SERVER))
    dashboard_ready = time.monotonic()
    assert hub.hub_api(alice, "POST", f"/shares/alice/{SERVER}", json={"user": "bob"}).status_code == 200
    page = open_page(bob, base)
    assert is_dashboard(page)
    kernel = OpenKernel(bob, base, page.text)
    try:
        # bob keeps using the dashboard (every frame he sends counts at the proxy); alice's Lab server sits idle
        while "" in server_state(hub, alice, "alice"):
            assert time.monotonic() - lab_ready < idle + interval + stop_seconds, "the idle server still runs"
            assert kernel.answers()
            time.sleep(1)
        lab_stopped = time.monotonic() - lab_ready
        print(f"idle server stopped {lab_stopped:.1f} s after it was ready (idle time {idle} s)")
        assert lab_stopped >= idle - 1, "stopped before the idle time"
        # the published server has now run longer than the idle time, and more than a culler pass beyond it
        busy_until = dashboard_ready + idle + 2 * interval + 1
        while time.monotonic() < busy_until:
            assert server_state(hub, alice, "alice").get(SERVER, {}).get("ready"), "the dashboard in use was stopped"
            assert kernel.answers()
            time.sleep(1)
    finally:
        kernel.close()
    left = time.monotonic()
    while SERVER in server_state(hub, alice, "alice"):
        assert time.monotonic() - left < idle + interval + stop_seconds, "the published server nobody uses still runs"
        time.sleep(1)
    print(f"published server stopped {time.monotonic() - left:.1f} s after its viewer left")
    assert f"Culling server alice/{SERVER}" in hub.log() and "Culling server alice " in hub.log()
    # stopped, not removed: bob's share is there for when alice publishes again
    shares = hub.hub_api(alice, "GET", f"/shares/alice/{SERVER}").json()
    assert [share["user"]["name"] for share in shares["items"] if share.get("user")] == ["bob"]
