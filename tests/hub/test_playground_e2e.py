"""The playground through the real hub: login makes the user's own stack, servers get only their own access,
20 people can log in at once, and a hub killed mid-spawn leaves nothing the reaper and a new login can't fix.

The user's side of isolation: moto's IAM enforcement checks DynamoDB requests against the resource ``*`` only
(see tests/spawner/test_credentials.py), so "cannot touch another user's table" is shown on the real role
policy the stack created, with moto's own policy evaluator, while "can write its own table" is a real write.
"""

from __future__ import annotations

import ast
import json
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import psutil
import pytest
from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.server import ThreadedMotoServer

from spawner import environment, names
from testing.hub import LOCAL_AWS_KEYS, Hub
from testing.support import REPO_ROOT, wait_for

pytestmark = [pytest.mark.hub, pytest.mark.slow]

HUB_KEYS = {name.lower(): value for name, value in LOCAL_AWS_KEYS.items()}  # what the harness gives the hub


def aws(endpoint: str, service: str):
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", **HUB_KEYS)


def server_environment(hub: Hub, username: str) -> dict[str, str]:
    """The real environment of the user's single-user server process."""
    for process in hub.descendants():
        try:
            if "jupyterhub.singleuser" in " ".join(process.cmdline()):
                env = process.environ()
                if env.get("JUPYTERHUB_USER") == username:
                    return env
        except psutil.Error:
            continue
    logged = [line for line in _log_tail(hub, 400).splitlines() if username in line][-15:]
    raise AssertionError(f"no running server for {username}; what the hub logged of them:\n" + "\n".join(logged))


def run_as_server(env: dict[str, str], code: str) -> subprocess.CompletedProcess:
    """Run Python with exactly what the hub handed the server (plus PATH), as code in its kernel would."""
    handed = {key: value for key, value in env.items() if key in environment.ALL or key in {"PATH", "HOME"}}
    return subprocess.run([sys.executable, "-c", code], env=handed, capture_output=True, text=True, timeout=60)


def hub_stacks(endpoint: str, hub_id: str = "profiler-workbench") -> dict[str, dict]:
    found = {}
    for stack in aws(endpoint, "cloudformation").describe_stacks()["Stacks"]:
        tags = {tag["Key"]: tag["Value"] for tag in stack.get("Tags", [])}
        if tags.get("hub") == hub_id and stack["StackStatus"] != "DELETE_COMPLETE":
            found[stack["StackName"]] = stack
    return found


def test_two_users_get_their_own_playgrounds_and_only_their_own_access(start_hub):
    hub = start_hub(WORKBENCH_ADMIN_USERS="boss")  # embedded defaults: the hub runs its own local AWS
    admin = hub.admin_login("boss")
    sessions = {name: hub.signup_and_login(name) for name in ("alice", "bob")}
    for name, browser in sessions.items():
        progress = hub.start_server(browser, name)
        assert progress.ready, progress.messages
        assert any("100% of your playground" in message for message in progress.messages), progress.messages

    stacks = hub_stacks(hub.aws_endpoint)
    assert {"profiler-alice", "profiler-bob"} <= set(stacks)
    envs = {name: server_environment(hub, name) for name in sessions}
    for name, env in envs.items():
        assert env[environment.LOADTEST_TABLE] == f"profiler-{name}-loadtest"
        assert env[environment.RUNS_TABLE] == f"profiler-{name}-runs"
        assert "local-hub" not in json.dumps(env)  # never the hub's own keys

    # Alice's server writes to her own table with what it was handed...
    written = run_as_server(envs["alice"], (
        "import boto3; boto3.client('dynamodb').put_item(TableName='profiler-alice-loadtest', "
        "Item={'pk': {'S': 'from-alice'}, 'sk': {'S': '1'}}); "
        "print(boto3.client('sts').get_caller_identity()['Arn'])"))
    assert written.returncode == 0, written.stderr
    assert ":assumed-role/profiler-alice-server/" in written.stdout
    assert aws(hub.aws_endpoint, "dynamodb").scan(TableName="profiler-alice-loadtest")["Count"] == 1
    # ...and the role she acts as reaches none of Bob's.
    iam = aws(hub.aws_endpoint, "iam")
    policy = iam.get_role_policy(RoleName="profiler-alice-server", PolicyName="this-playground-only")["PolicyDocument"]
    document = json.dumps(ast.literal_eval(policy) if isinstance(policy, str) else policy)
    bob_table = aws(hub.aws_endpoint, "dynamodb").describe_table(TableName="profiler-bob-loadtest")["Table"]["TableArn"]
    alice_table = bob_table.replace("profiler-bob-loadtest", "profiler-alice-loadtest")
    assert IAMPolicy(document).is_action_permitted("dynamodb:PutItem", alice_table) == PermissionResult.PERMITTED
    assert IAMPolicy(document).is_action_permitted("dynamodb:PutItem", bob_table) != PermissionResult.PERMITTED

    # The target group drains in 0 s (moto ignored the template; the spawner repaired it).
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks["profiler-alice"]["Outputs"]}
    attributes = aws(hub.aws_endpoint, "elbv2").describe_target_group_attributes(
        TargetGroupArn=outputs["TargetGroupArn"])["Attributes"]
    assert {a["Key"]: a["Value"] for a in attributes}["deregistration_delay.timeout_seconds"] == "0"

    # An admin deletes Bob from the hub: his playground goes, target group included.
    deleted = hub.hub_api(admin, "DELETE", "/users/bob")
    assert deleted.status_code == 204, deleted.text
    assert "profiler-bob" not in hub_stacks(hub.aws_endpoint)
    assert not [g for g in aws(hub.aws_endpoint, "elbv2").describe_target_groups()["TargetGroups"]
                if g["TargetGroupName"] == "profiler-bob"]
    assert "profiler-alice" in hub_stacks(hub.aws_endpoint)


def test_twenty_people_logging_in_at_once_get_twenty_servers_and_twenty_stacks(start_hub):
    hub = start_hub(WORKBENCH_ADMIN_USERS="boss")
    admin = hub.admin_login("boss")
    # Two with names the hub accepts but AWS and PostgreSQL do not take as they are ('.', '_', length).
    usernames = [f"crowd{number:02d}" for number in range(18)] + ["zoe.o_brien", "a-long-name-" + "x" * 40]
    # The accounts are made through the admin API: 20 sign-ups (bcrypt on the hub's event loop) would test
    # the authenticator, not the spawner. The 20 spawns then start at once, as 20 logins would start them.
    created = hub.hub_api(admin, "POST", "/users", json={"usernames": usernames})
    assert created.status_code == 201, created.text

    def spawn(name):
        requested = hub.hub_api(admin, "POST", f"/users/{name}/server")
        assert requested.status_code in (201, 202), (requested.text, _log_tail(hub))
        return hub.follow_progress(admin, name, timeout=180)

    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(spawn, usernames))
    elapsed = time.monotonic() - began
    print(f"20 concurrent spawns ready in {elapsed:.1f} s")
    not_ready = [(name, r.messages[-3:]) for name, r in zip(usernames, results, strict=True) if not r.ready]
    assert not not_ready, (not_ready, _log_tail(hub))
    stacks = hub_stacks(hub.aws_endpoint)
    expected = {name: names.for_user(name) for name in usernames}
    assert {playground.stack for playground in expected.values()} <= set(stacks)
    assert len({stacks[playground.stack]["StackId"] for playground in expected.values()}) == 20
    for name, playground in expected.items():
        assert server_environment(hub, name)[environment.LOADTEST_TABLE] == playground.loadtest_table


@pytest.fixture
def outside_aws():
    """AWS that outlives the hub (as real AWS does): a moto server owned by the test, not by the hub."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_a_hub_killed_mid_spawn_then_restarted_leaves_no_orphan_and_the_user_logs_in_again(tmp_path, outside_aws):
    settings = {"WORKBENCH_AWS_ENDPOINT_URL": outside_aws, "WORKBENCH_ADMIN_USERS": "boss"}
    state = tmp_path / "hub"
    # An orphan from an earlier life of this hub: its owner no longer exists (say, the hub database was lost).
    ghost = names.for_user("ghost")
    template = (REPO_ROOT / "stacks" / "playground.yaml").read_text()
    aws(outside_aws, "cloudformation").create_stack(
        StackName=ghost.stack, TemplateBody=template, Capabilities=["CAPABILITY_NAMED_IAM"],
        Parameters=[{"ParameterKey": "UserSlug", "ParameterValue": ghost.slug},
                    {"ParameterKey": "Owner", "ParameterValue": "ghost"}],
        Tags=[{"Key": "owner", "Value": "ghost"}, {"Key": "hub", "Value": "profiler-workbench"}])

    first = Hub(state, extra_env=settings)
    try:
        first.admin_login("boss")
        browser = first.signup_and_login("kim")
        spawn = threading.Thread(target=lambda: _request_spawn(first, browser, "kim"), daemon=True)
        spawn.start()
        wait_for(lambda: "profiler-kim" in hub_stacks(outside_aws), 60, "kim's stack")
        # SIGKILL the JupyterHub process itself (not only the `hub.cli` wrapper): mid-spawn, the stack
        # exists and the server is not ready yet. Then whatever it had started dies too (as on a host crash),
        # so the next login must spawn again and find the stack the dead hub never recorded.
        for process in first.descendants():
            if "-m hub.app -f" in " ".join(process.cmdline()):
                process.kill()
        first.process.kill()
    finally:
        first.stop(signal.SIGKILL)
    spawn.join(timeout=30)
    _kill_and_wait(_processes_of(first))

    second = Hub(state, extra_env=settings)
    try:
        # The hub's own reaper (a managed service) makes a pass when the hub starts: the orphan goes.
        wait_for(lambda: "profiler-ghost" not in hub_stacks(outside_aws), 90, "the hub's reaper to remove the orphan")
        groups = aws(outside_aws, "elbv2").describe_target_groups()["TargetGroups"]
        leftover_groups = [g["TargetGroupName"] for g in groups]
        assert "profiler-ghost" not in leftover_groups
        # A pass by hand finds nothing else to delete and no error: every playground left has a living owner.
        admin, _ = second.login("boss", "correct horse battery")
        token = second.hub_api(admin, "POST", "/users/boss/tokens", json={"note": "reaper"}).json()["token"]
        reaped = subprocess.run(
            [sys.executable, "-m", "hub.services.reaper", "--once", "--endpoint-url", outside_aws,
             "--api-url", f"{second.listening_url}/hub/api"],
            env={"PATH": "/usr/bin:/bin", "JUPYTERHUB_API_TOKEN": token, **{k.upper(): v for k, v in HUB_KEYS.items()}},
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
        assert reaped.returncode == 0, reaped.stderr
        assert json.loads(reaped.stdout.strip().splitlines()[-1]) == {"deleted": [], "target_groups": [], "errors": []}
        remaining = hub_stacks(outside_aws)
        assert set(remaining) == {"profiler-kim"}
        kims_stack = remaining["profiler-kim"]["StackId"]

        browser, _ = second.login("kim", "correct horse battery")
        progress = second.start_server(browser, "kim")
        assert progress.ready, progress.messages
        assert any("Found your playground profiler-kim" in message for message in progress.messages)
        assert hub_stacks(outside_aws)["profiler-kim"]["StackId"] == kims_stack  # adopted, not made twice
    finally:
        leftovers = second.stop()
    assert leftovers == []


def _log_tail(hub: Hub, lines: int = 60) -> str:
    """The hub's log without the moto request lines: what to read when a spawn failed."""
    return "\n".join([line for line in hub.log().splitlines() if "werkzeug" not in line and "POST / HTTP" not in line]
                     [-lines:])


def _processes_of(hub: Hub) -> list[psutil.Process]:
    """Processes a hub left behind: its proxy (inherits the hub's environment) and user servers (run in their
    home folders)."""
    found = []
    homes = hub.homes_dir if hub.isolated else hub.state_dir
    for process in psutil.process_iter():
        try:
            if (process.environ().get("WORKBENCH_STATE_DIR") == str(hub.state_dir)
                    or process.cwd().startswith(f"{homes}/")):
                found.append(process)
        except psutil.Error:
            continue
    return found


def _kill_and_wait(processes: list[psutil.Process]) -> None:
    for process in processes:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    wait_for(lambda: not any(psutil.pid_exists(p.pid) for p in processes), 60, "the dead hub's processes to go")


def _request_spawn(hub: Hub, browser, username: str) -> None:
    try:
        browser.get(f"{hub.url}/hub/spawn/{username}", timeout=60, allow_redirects=False)
    except Exception:  # noqa: BLE001 - the hub is killed under this request on purpose
        pass
