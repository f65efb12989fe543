"""A user's work through a real hub's faults: the local AWS killed under a running hub; the whole hub stopped
(Ctrl-C) and started again on its state folder; the hub restarted (SIGTERM) while a load test runs in the user's
kernel. The user's load-test items and recorded runs are there after each, and a restart leaves their server,
kernel and run alone."""

from __future__ import annotations

import json
import time

import psutil
import pytest

from hub.services import aws_state
from testing.hub import Hub
from testing.kernel import UserKernel
from testing.support import wait_for
from tests.hub.test_playground_e2e import run_as_server, server_environment

pytestmark = [pytest.mark.hub, pytest.mark.slow]

PASSWORD = "correct horse battery"

# In the user's server, as their kernel would: a short load test that writes items and records its run.
RECORD_A_RUN = """
from profiler.loadtest import LoadTest, WorkloadSpec
test = LoadTest(WorkloadSpec(operations={"put": 1}, requests=200, concurrency=4, key_space=200, seed=7,
                             name="before the fault"))
test.start()
test.wait(120)
print(test.run_id)
"""

WHAT_IS_THERE = """
import json
from profiler.loadtest import default_store
from profiler.playground import current
playground = current()
dynamodb = playground.client("dynamodb")
pages = dynamodb.get_paginator("scan").paginate(TableName=playground.loadtest_table, Select="COUNT")
store = default_store()
runs = {info.run_id: {"name": info.name, "status": info.status,
                      "requests": sum(r.get("requests", 0) for r in store.load(info.run_id).intervals)}
        for info in store.list_runs()}
print(json.dumps({"items": sum(page["Count"] for page in pages), "runs": runs}))
"""


def in_users_server(hub: Hub, username: str, code: str) -> str:
    done = run_as_server(server_environment(hub, username), code)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def alive(process: psutil.Process) -> bool:
    """Running, not a zombie (an orphan whose exit nobody has reaped yet is gone for the user)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def local_aws_process(hub: Hub) -> psutil.Process:
    for process in hub.descendants():
        try:
            if "hub.services.local_aws" in " ".join(process.cmdline()):
                return process
        except psutil.Error:
            continue
    raise AssertionError("the hub runs no local AWS")


def test_a_users_items_and_runs_survive_a_crash_of_the_local_aws_and_a_restart_of_the_hub(tmp_path):
    state = tmp_path / "state"
    with Hub(state) as hub:
        browser = hub.signup_and_login("ada", PASSWORD)
        assert hub.start_server(browser, "ada").ready
        run_id = in_users_server(hub, "ada", RECORD_A_RUN)
        before = json.loads(in_users_server(hub, "ada", WHAT_IS_THERE))
        assert before["items"] > 50 and before["runs"][run_id] == {"name": "before the fault", "status": "finished",
                                                                 "requests": 200}, before

        # kill -9 of the local AWS under the running hub: the hub starts it again, with everything in it.
        crashed = local_aws_process(hub)
        time.sleep(aws_state.SNAPSHOT_INTERVAL * 2.5)  # the promise after a crash: all but the last second or so
        crashed.kill()
        wait_for(lambda: local_aws_process(hub).pid != crashed.pid and json.loads(
            in_users_server(hub, "ada", WHAT_IS_THERE)), 120, "the local AWS started again", interval=1)
        assert json.loads(in_users_server(hub, "ada", WHAT_IS_THERE)) == before
        leftovers = hub.stop()
        assert not leftovers, leftovers

    with Hub(state) as hub:
        browser, _ = hub.login("ada", PASSWORD)
        assert hub.start_server(browser, "ada").ready
        assert json.loads(in_users_server(hub, "ada", WHAT_IS_THERE)) == before


# Longer than any restart takes: the test stops it once the restarted hub has shown it still running.
START_A_LONG_RUN = """
import time
from profiler.loadtest import LoadTest, WorkloadSpec
test = LoadTest(WorkloadSpec(operations={"put": 1, "get": 1}, target_rate=20, duration=300, key_space=500,
                             name="across the restart"))
print(test.start())
started_at = time.monotonic()
"""
# A few seconds more after the restart, then stopped as a person would; how long it ran.
STOP_THE_RUN = """
time.sleep(3)
test.stop()
test.wait(60)
print(time.monotonic() - started_at)
"""


def crash(hub: Hub) -> list[psutil.Process]:
    """``kill -9`` of the hub process itself (JupyterHub, under the runner): return what it left running."""
    children = hub.descendants()
    jupyterhub = next(process for process in children if "hub.app" in " ".join(process.cmdline()))
    jupyterhub.kill()
    hub.process.wait(timeout=60)  # the runner ends with it
    return [child for child in children if child.pid != jupyterhub.pid and alive(child)]


@pytest.mark.parametrize("fault", ["restart", "kill -9"])
def test_a_restart_or_crash_of_the_hub_leaves_users_servers_kernels_and_running_load_tests_alone(tmp_path, fault):
    state = tmp_path / "state"
    first = Hub(state)
    left: list[psutil.Process] = []
    try:
        browser = first.signup_and_login("ben", PASSWORD)
        assert first.start_server(browser, "ben").ready
        server = next(process for process in first.descendants() if "singleuser" in " ".join(process.cmdline()))
        local_aws = local_aws_process(first)
        kernel = UserKernel(first, browser, "ben")
        run_id = kernel.run(START_A_LONG_RUN).strip()

        if fault == "restart":
            # SIGTERM, as a service manager restarting the hub sends: the hub and its proxy go, nothing else.
            left = first.restart_stop()
            assert "keep running until it is back" in first.log()
        else:
            left = crash(first)  # the hub dies; its proxy, users' servers and local AWS are orphaned
        assert {server.pid, local_aws.pid} <= {process.pid for process in left}, left

        with Hub(state, extra_env=first.same_ports()) as second:
            # The same server process, ready, without a new spawn; the same kernel, its run still going.
            browser, _ = second.login("ben", PASSWORD)
            model = second.hub_api(browser, "GET", "/users/ben").json()
            assert model["servers"][""]["ready"], model
            assert alive(server) and alive(local_aws)
            kernel.connect()
            assert kernel.run("print(test.run_id, test.done)").split() == [run_id, "False"]
            ran_for = float(kernel.run(STOP_THE_RUN, timeout=90).strip().splitlines()[-1])
            after = json.loads(kernel.run(WHAT_IS_THERE).strip().splitlines()[-1])
            # Every second of the run was recorded, those of the restart included (20 requests/s).
            assert after["runs"][run_id]["status"] == "stopped", after
            assert after["runs"][run_id]["requests"] >= 0.9 * 20 * ran_for, (ran_for, after)
            kernel.close()
            # Ctrl-C then stops everything, the server and the local AWS taken over from the first run included.
            assert not second.stop(), "Ctrl-C left processes running"
            wait_for(lambda: not alive(server) and not alive(local_aws), 30,
                     "the server and the local AWS taken over from the first run to stop")
    finally:
        first.stop()
        for process in left:
            if alive(process):
                process.kill()
