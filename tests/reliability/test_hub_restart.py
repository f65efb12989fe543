"""A user's playground through a real hub's faults: the local AWS killed under a running hub, then the whole hub
stopped (Ctrl-C) and started again on its state folder. The user's load-test items and recorded runs are there
after each."""

from __future__ import annotations

import json
import time

import psutil
import pytest

from hub.services import aws_state
from testing.hub import Hub
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
