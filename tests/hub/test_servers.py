"""A logged-in user gets a working server through the real hub, and stopping the hub leaves nothing behind."""

from __future__ import annotations

import re
import signal
import time

import psutil
import pytest

from testing.support import port_open
from tests.support import artifact_path
from tests.test_server_timing import parse_server_timing

pytestmark = [pytest.mark.hub, pytest.mark.slow]


def assert_server_timing(header: str) -> None:
    metrics = parse_server_timing(header)
    assert {"wait", "handler", "total"} <= metrics.keys(), header
    assert metrics["total"] >= metrics["handler"] >= 0


def test_login_spawn_progress_ready_status_and_stop(start_hub):
    hub = start_hub()
    browser = hub.signup_and_login("ada")

    began = time.monotonic()
    progress = hub.start_server(browser, "ada")
    login_to_ready = time.monotonic() - began
    assert progress.ready, progress.events
    percentages = [event["progress"] for event in progress.events if "progress" in event]
    assert percentages == sorted(percentages) and percentages[-1] == 100
    print(f"hub ready in {hub.ready_seconds:.1f} s; spawn to ready in {login_to_ready:.1f} s")

    # the browser opens the server (JupyterLab), which logs it in to the server through the hub's OAuth
    lab = browser.get(f"{hub.user_url('ada')}lab", timeout=30)
    assert lab.status_code == 200 and "JupyterLab" in lab.text
    status = browser.get(f"{hub.user_url('ada')}api/status", timeout=30)
    assert status.status_code == 200, status.text[:300]
    assert "started" in status.json()
    assert_server_timing(status.headers["Server-Timing"])

    # the user's own database file lives in a private folder of their home; the built-ins are read-only
    data = hub.home_of("ada") / "data"
    assert data.is_dir() and data.stat().st_mode & 0o777 == 0o700
    assert (hub.state_dir / "builtin.sqlite").stat().st_mode & 0o222 == 0

    # the home page offers each dashboard as a banner that opens it in the user's server (Voila)
    home = browser.get(f"{hub.url}/hub/home", timeout=30).text
    assert 'data-dashboard="query_optimization.ipynb"' in home and "Query optimization" in home
    dashboard = browser.get(f"{hub.user_url('ada')}voila/render/dashboards/query_optimization.ipynb", timeout=120)
    assert dashboard.status_code == 200 and "Run one workload under several loading strategies" in dashboard.text
    assert_server_timing(dashboard.headers["Server-Timing"])

    # nobody else's session reaches it
    other = hub.signup_and_login("bob")
    denied = other.get(f"{hub.user_url('ada')}api/status", timeout=30)
    assert denied.status_code in (403, 404) or "/hub/login" in denied.url or "ada" not in denied.url

    # the user stops their server from the API, as the home page's button does
    stopped = hub.hub_api(browser, "DELETE", "/users/ada/server")
    assert stopped.status_code in (202, 204), stopped.text
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and hub.hub_api(browser, "GET", "/user").json()["servers"]:
        time.sleep(0.5)
    assert hub.hub_api(browser, "GET", "/user").json()["servers"] == {}


def test_ctrl_c_stops_the_hub_proxy_local_aws_and_user_servers(start_hub):
    hub = start_hub()
    browser = hub.signup_and_login("ada")
    assert hub.start_server(browser, "ada").ready
    aws_port = int(hub.env["WORKBENCH_LOCAL_AWS_PORT"])
    assert port_open(aws_port)
    commands = [" ".join(process.cmdline()) for process in hub.descendants()]
    assert any("configurable-http-proxy" in command for command in commands), commands
    assert any("hub.services.local_aws" in command for command in commands), commands
    assert any("jupyterhub.singleuser" in command for command in commands), commands

    leftovers = hub.stop(signal.SIGINT)
    assert leftovers == []
    assert hub.process.returncode is not None
    for port in (hub.port, aws_port, int(hub.env["WORKBENCH_HUB_PORT"])):
        assert not port_open(port), f"port {port} still answers after Ctrl-C"


def test_stopping_the_hub_stops_servers_while_the_services_they_use_still_run(start_hub):
    """A server stopping may still need the local AWS (here: its playground is deleted on stop)."""
    hub = start_hub(WORKBENCH_PLAYGROUND_RETENTION="delete")
    browser = hub.signup_and_login("ada")
    assert hub.start_server(browser, "ada").ready
    assert hub.stop(signal.SIGINT) == []
    log = hub.log()
    assert "Deleted ada's playground profiler-ada" in log, log[-3000:]
    assert "Could not delete" not in log
    servers_stopped = log.index("Stopping users' servers before the services they use")
    assert servers_stopped < re.search(r"Cleaning up \d+ services", log).start()


@pytest.mark.browser
def test_jupyterlab_renders_in_chromium_after_login(start_hub, browser):
    hub = start_hub()
    hub.signup("ada", "correct horse battery")
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        page.goto(f"{hub.url}/hub/login")
        page.fill("#username_input", "ada")
        page.fill("#password_input", "correct horse battery")
        page.click("#login_submit")
        # people land on the hub's home page, which opens JupyterLab; its launcher appears once the server is up
        page.wait_for_url(f"{hub.url}/hub/home", timeout=60_000)
        page.get_by_role("link", name="Open JupyterLab").click()
        page.wait_for_selector(".jp-Launcher", timeout=120_000)
        assert "/user/ada/lab" in page.url
        # the browser sees the user server's Server-Timing phases through the Performance API
        timing = page.evaluate(
            "performance.getEntriesByType('navigation')[0].serverTiming.map(m => [m.name, m.duration])"
        )
        assert {"wait", "handler", "total"} <= {name for name, _ in timing}, timing
        page.screenshot(path=str(artifact_path("jupyterlab-after-login.png")))
    finally:
        context.close()


def test_processes_of_a_stopped_hub_are_gone(start_hub):
    hub = start_hub()
    pids = [process.pid for process in hub.descendants()]
    assert pids
    hub.stop()
    assert not [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]


def test_a_user_cannot_pile_up_named_servers_beyond_the_limit(start_hub):
    hub = start_hub(WORKBENCH_NAMED_SERVERS_PER_USER="1", WORKBENCH_PLAYGROUND="false")
    alice = hub.signup_and_login("alice")
    first = hub.hub_api(alice, "POST", "/users/alice/servers/dash-caching")
    assert first.status_code in (201, 202), first.text
    second = hub.hub_api(alice, "POST", "/users/alice/servers/dash-load-test")
    assert second.status_code == 400
    assert "already has the maximum of 1 named servers" in second.json()["message"]
