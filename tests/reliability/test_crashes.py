"""Crashes mid-work end in a consistent state the user is told about: the local AWS killed while a user's
playground stack is being made; a user's kernel killed mid load test, and while it changes a model. (A hub
killed mid-spawn: tests/hub/test_playground_e2e.py; a load test's process killed mid-run:
tests/loadtest/test_persistence.py; a data load interrupted: tests/datagen/test_loader.py.)"""

from __future__ import annotations

import json

import boto3
import psutil
import pytest

from spawner import names
from testing.hub import LOCAL_AWS_KEYS, Hub, SpawnProgress
from testing.kernel import UserKernel
from tests.reliability.test_hub_restart import (RECORD_A_RUN, START_A_LONG_RUN, WHAT_IS_THERE, alive,
                                                 in_users_server, local_aws_process)

pytestmark = [pytest.mark.hub, pytest.mark.slow]

PASSWORD = "correct horse battery"


def spawn_killing_at(hub: Hub, browser, username: str, message_start: str, victim) -> SpawnProgress:
    """Ask for the user's server and follow its progress as the spawn page does; kill ``victim`` when a message
    starting with ``message_start`` arrives."""
    response = browser.get(f"{hub.url}/hub/spawn/{username}", timeout=30, allow_redirects=False)
    assert response.status_code in (302, 303), response.text[:500]
    progress = SpawnProgress()
    url = f"{hub.url}/hub/api/users/{username}/server/progress"
    headers = {"Accept": "text/event-stream", "X-XSRFToken": hub.hub_xsrf(browser)}
    with browser.get(url, stream=True, timeout=300, headers=headers) as stream:
        for line in stream.iter_lines(decode_unicode=True):
            if not (line and line.startswith("data:")):
                continue
            progress.events.append(json.loads(line[len("data:"):]))
            if progress.messages[-1].startswith(message_start) and alive(victim):
                victim.kill()
            if progress.ready or progress.failed:
                break
    return progress


def playground_stacks(hub: Hub, username: str) -> list[dict]:
    cloudformation = boto3.client("cloudformation", endpoint_url=hub.aws_endpoint, region_name="us-east-1",
                                  aws_access_key_id=LOCAL_AWS_KEYS["AWS_ACCESS_KEY_ID"],
                                  aws_secret_access_key=LOCAL_AWS_KEYS["AWS_SECRET_ACCESS_KEY"])
    name = names.for_user(username).stack
    return [stack for stack in cloudformation.describe_stacks()["Stacks"]
            if stack["StackName"] == name and stack["StackStatus"] != "DELETE_COMPLETE"]


def test_a_crash_of_the_local_aws_while_a_playground_is_made_ends_in_one_working_playground(tmp_path):
    with Hub(tmp_path / "state") as hub:
        browser = hub.signup_and_login("cleo")
        crashed = local_aws_process(hub)
        # kill -9 as the spawner starts on the stack (looks for it, then creates it): whatever the moment, the
        # local AWS comes back with the state of its last whole request, never half a stack
        first = spawn_killing_at(hub, browser, "cleo", "Preparing your playground", crashed)
        assert not alive(crashed)
        # the spawn waits for the hub to start its local AWS again and goes on, saying so
        assert first.ready, first.messages
        assert any("local AWS stopped answering" in message and "nothing of yours is lost" in message
                   for message in first.messages), first.messages
        assert local_aws_process(hub).pid != crashed.pid
        # One playground, whole, tagged for its owner; the server uses it.
        (stack,) = playground_stacks(hub, "cleo")
        assert stack["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE"), stack["StackStatus"]
        assert {tag["Key"]: tag["Value"] for tag in stack["Tags"]}["owner"] == "cleo"
        there = json.loads(in_users_server(hub, "cleo", WHAT_IS_THERE))
        assert there == {"items": 0, "runs": {}}, there


# In a user's kernel: a model with 1,000 rows, then a fill of a million more in a thread; once its first chunk is
# written (not committed: a fill is one transaction), the number of chunks written so far.
FILL_MID_CHANGE = """
import threading, time
from profiler.catalog.catalog import Catalog, Model
catalog = Catalog.connect()
catalog.create(Model("readings", {"id": "integer", "value": "decimal", "note": "text"}))
catalog.fill("readings", 1_000)
chunks = []
threading.Thread(target=lambda: catalog.fill("readings", 1_000_000, progress=lambda done, rows: chunks.append(done)),
                 daemon=True).start()
while not chunks:
    time.sleep(0.05)
print(len(chunks))
"""

ROWS_THEN_FILL_AGAIN = """
from profiler.catalog.catalog import Catalog
catalog = Catalog.connect()
def count():
    with catalog.engine.connect() as connection:
        return connection.exec_driver_sql("SELECT count(*) FROM readings").scalar()
before = count()
catalog.fill("readings", 500)
print(catalog.names(), before, count())
"""

# In the user's next kernel: what the data-models dashboard says as it opens, once the database has rolled the
# killed kernel's fill back (its server process notices the kernel is gone within moments).
DASHBOARD_SAYS = """
import time
from html import unescape
from dashboards.data_models import DataModelsDashboard
from profiler.catalog.catalog import Catalog
catalog = Catalog.connect()
deadline = time.monotonic() + 30
while not catalog.interrupted() and time.monotonic() < deadline:
    time.sleep(0.2)
dashboard = DataModelsDashboard(catalog)
print(unescape(dashboard.interrupted_notice.value) if dashboard.interrupted_box.layout.display is None else "nothing")
"""

# In the kernel running the test: wait for three whole seconds of the run to be stored; their requests.
STORED_SO_FAR = """
import time
from profiler.loadtest import default_store
store = default_store()
while len(store.load(test.run_id).intervals) < 3:
    time.sleep(0.25)
print(sum(interval.get("requests", 0) for interval in store.load(test.run_id).intervals))
"""


def kill_kernel(kernel: UserKernel) -> None:
    """kill -9 of the kernel's process, as the OS's out-of-memory killer or a crash would."""
    process = next(p for p in psutil.process_iter(["cmdline"])
                   if any(kernel.kernel_id in part for part in p.info["cmdline"] or []))
    process.kill()
    process.wait(30)


def test_a_users_kernel_killed_mid_model_change_or_mid_load_test_leaves_everything_before_it(tmp_path):
    with Hub(tmp_path / "state") as hub:
        browser = hub.signup_and_login("dora")
        assert hub.start_server(browser, "dora").ready

        # mid model change: the change in flight is gone whole, the user is told so when the data-models dashboard
        # opens, what was there before stays, and it can be redone
        filling = UserKernel(hub, browser, "dora")
        assert int(filling.run(FILL_MID_CHANGE).strip().splitlines()[-1]) >= 1
        kill_kernel(filling)
        again = UserKernel(hub, browser, "dora")
        told = again.run(DASHBOARD_SAYS)
        assert "Your fill of 'readings' with 1,000,000 rows, started " in told, told
        assert "was interrupted (the kernel stopped) and rolled back: none of its rows were kept" in told, told
        assert again.run(ROWS_THEN_FILL_AGAIN).strip().splitlines()[-1] == "['readings'] 1000 1500"

        # mid load test: the run is listed as "incomplete" (as the load-test dashboard shows it) with every whole
        # second it stored and the items it wrote, and the next test runs on the same playground
        testing = UserKernel(hub, browser, "dora")
        run_id = testing.run(START_A_LONG_RUN).strip().splitlines()[-1]
        stored = int(testing.run(STORED_SO_FAR).strip().splitlines()[-1])
        kill_kernel(testing)
        after = json.loads(in_users_server(hub, "dora", WHAT_IS_THERE))
        run = after["runs"][run_id]
        assert run["status"] == "incomplete", run
        assert run["requests"] >= stored > 0 and after["items"] > 0, (stored, after)
        assert again.run(RECORD_A_RUN).strip().splitlines()[-1]
        again.close()
