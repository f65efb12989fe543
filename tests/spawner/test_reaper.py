"""The reaper removes playgrounds nobody can use any more, and never one in use."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from spawner import names
from hub.services import reaper
from spawner.playground import PlaygroundSpawner
from spawner.stacks import AwsClients, StackClient
from tests.spawner.mocking import make_spawner
from testing.support import REPO_ROOT

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
HUB = "reaper-test-hub"  # the shared moto server holds other tests' stacks under the default hub id


def stack(owner: str, status: str = "CREATE_COMPLETE", age: dt.timedelta = dt.timedelta(minutes=5)) -> dict:
    return {"StackName": f"profiler-{owner}", "StackStatus": status, "CreationTime": NOW - age,
            "Tags": [{"Key": "owner", "Value": owner}, {"Key": "hub", "Value": HUB}]}


USERS = {"busy": reaper.HubUser("busy", active=True), "idle": reaper.HubUser("idle", active=False)}


@pytest.mark.parametrize(
    ("candidate", "options", "expected"),
    [
        (stack("ghost"), {}, "its owner 'ghost' no longer exists on the hub"),
        (stack("busy", "ROLLBACK_COMPLETE", dt.timedelta(days=9)), {"ttl_seconds": 60, "delete_idle": True}, None),
        (stack("idle"), {}, None),
        (stack("idle", "ROLLBACK_COMPLETE"), {}, "it is ROLLBACK_COMPLETE and 'idle' has no server starting"),
        (stack("idle", "CREATE_IN_PROGRESS", dt.timedelta(minutes=30)), {}, None),
        (stack("idle", "CREATE_IN_PROGRESS", dt.timedelta(hours=2)), {},
         "it has been CREATE_IN_PROGRESS for 120 min and 'idle' has no server starting"),
        (stack("idle", age=dt.timedelta(hours=30)), {"ttl_seconds": 24 * 3600},
         "it is 30.0 h old, past the 24.0 h TTL, and 'idle' is not using it"),
        (stack("idle"), {"delete_idle": True}, "playgrounds are deleted on stop and 'idle' has no server running"),
    ],
    ids=["owner-deleted", "in-use-never", "idle-kept", "broken", "young-in-progress", "stuck", "ttl", "delete-idle"],
)
def test_verdicts(candidate, options, expected):
    options = {"ttl_seconds": None, "stuck_seconds": 3600, "delete_idle": False, **options}
    assert reaper.verdict(candidate, USERS, NOW, **options) == expected


class FakeHubApi(BaseHTTPRequestHandler):
    """GET /users like JupyterHub: paginated when asked, with servers' ready/pending."""

    users: list[dict] = []
    token = "reaper-token"

    def do_GET(self):  # http.server's method name
        if self.headers.get("Authorization") != f"token {self.token}":
            self.send_error(403)
            return
        from urllib.parse import parse_qs, urlparse

        query = parse_qs(urlparse(self.path).query)
        offset, limit = int(query["offset"][0]), 2  # tiny pages, to exercise pagination
        page = self.users[offset:offset + limit]
        following = {"offset": offset + limit, "limit": limit} if offset + limit < len(self.users) else None
        body = json.dumps({"items": page, "_pagination": {"offset": offset, "limit": limit,
                                                          "total": len(self.users), "next": following}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def hub_api():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeHubApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hub/api"
    server.shutdown()
    server.server_close()


def test_hub_users_reads_every_page_and_who_is_busy(hub_api):
    FakeHubApi.users = [
        {"name": "a", "servers": {"": {"ready": True, "pending": None}}},
        {"name": "b", "servers": {}},
        {"name": "c", "servers": {"": {"ready": False, "pending": "spawn"}}},
    ]
    found = reaper.hub_users(hub_api, FakeHubApi.token)
    assert found == {"a": reaper.HubUser("a", True), "b": reaper.HubUser("b", False),
                     "c": reaper.HubUser("c", True)}


def test_an_unreachable_hub_means_nobody_is_judged(hub_api):
    with pytest.raises(reaper.HubUnavailable, match="cannot list the hub's users"):
        reaper.hub_users(hub_api, "wrong-token")


async def spawn_and_stop(username, tmp_path, moto_endpoint):
    spawner = make_spawner(PlaygroundSpawner, username, tmp_path, aws_endpoint_url=moto_endpoint, hub_id=HUB)
    await spawner.start()
    await spawner.stop(now=True)
    await spawner.run_post_stop_hook()


@pytest.mark.slow  # several playgrounds made and reaped
async def test_a_pass_deletes_orphans_and_leftover_target_groups_and_keeps_the_rest(tmp_path, moto_endpoint, aws):
    for username in ("reap-ghost", "reap-busy", "reap-idle", "reap-gone-stack"):
        await spawn_and_stop(username, tmp_path, moto_endpoint)
    # A stack deleted behind the spawner's back: moto leaves its target group (tagged by the drift repair).
    aws("cloudformation").delete_stack(StackName="profiler-reap-gone-stack")
    clients = AwsClients.connect("us-east-1", moto_endpoint)
    users = {"reap-busy": reaper.HubUser("reap-busy", True), "reap-idle": reaper.HubUser("reap-idle", False),
             "reap-gone-stack": reaper.HubUser("reap-gone-stack", False)}

    report = await asyncio.to_thread(reaper.reap, clients, lambda: users, hub_id=HUB, poll_interval=0.01)

    assert report.deleted == [("profiler-reap-ghost", "its owner 'reap-ghost' no longer exists on the hub")]
    assert [arn.split("/")[1] for arn in report.target_groups] == ["profiler-reap-gone-stack"]
    stack_client = StackClient(clients.cloudformation, clients.elbv2)
    assert stack_client.describe("profiler-reap-ghost") is None
    assert not stack_client.leftover_target_groups(names.for_user("reap-ghost"))
    assert not stack_client.leftover_target_groups(names.for_user("reap-gone-stack"))
    assert stack_client.describe("profiler-reap-busy") is not None
    assert stack_client.describe("profiler-reap-idle") is not None
    assert report.errors == []


@pytest.mark.slow  # runs the service as a process
def test_the_runnable_service_does_one_pass_and_prints_its_report(hub_api, moto_endpoint):
    FakeHubApi.users = [{"name": "someone", "servers": {}}]
    result = subprocess.run(
        [sys.executable, "-m", "hub.services.reaper", "--once", "--dry-run", "--hub-id", "nobody-uses-this-hub",
         "--endpoint-url", moto_endpoint, "--api-url", hub_api],
        env={"JUPYTERHUB_API_TOKEN": FakeHubApi.token, "PATH": "/usr/bin:/bin", "AWS_ACCESS_KEY_ID": "x",
             "AWS_SECRET_ACCESS_KEY": "x"},
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"deleted": [], "target_groups": [], "errors": []}


def test_the_service_refuses_to_run_without_the_hubs_api():
    result = subprocess.run([sys.executable, "-m", "hub.services.reaper", "--once"], env={"PATH": "/usr/bin:/bin"},
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "needs the hub's API" in result.stderr


def test_users_are_read_after_the_stacks_so_a_brand_new_user_is_never_an_orphan(moto_endpoint):
    looked = []

    class Recording:
        def __init__(self, real):
            self.real = real

        def get_paginator(self, name):
            looked.append("stacks")
            return self.real.get_paginator(name)

    real = AwsClients.connect("us-east-1", moto_endpoint)
    clients = AwsClients(Recording(real.cloudformation), real.elbv2, real.dynamodb, real.sts)
    reaper.reap(clients, lambda: looked.append("users") or {}, hub_id="nobody-uses-this-hub", dry_run=True)
    assert looked[:2] == ["stacks", "users"]
