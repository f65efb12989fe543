"""The user's server holds only scoped, temporary credentials, which reach only their own playground and stay fresh.

moto can enforce IAM (``INITIAL_NO_AUTH_ACTION_COUNT``), but its DynamoDB checks every request against the
resource ``*``: a role allowed only its own table ARNs is then denied on its own table too, so moto cannot tell
"own table" from "other user's table". The isolation is therefore checked on the real policy documents — the
role policy as the stack created it in IAM, and the session policy — with moto's own IAM policy evaluator.
"""

from __future__ import annotations

import ast
import datetime as dt
import asyncio
import json
import os
import stat
from pathlib import Path

import botocore.session
import pytest
from moto.iam.access_control import IAMPolicy, PermissionResult

from spawner import credentials, environment
from spawner.playground import STATE_KEY, PlaygroundSpawner
from tests.spawner.conftest import HUB_KEY_ID
from tests.spawner.mocking import make_spawner, server_environment

SOON = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.timezone.utc)


def allows(policy: dict | str, action: str, resource: str) -> bool:
    document = policy if isinstance(policy, str) else json.dumps(policy)
    return IAMPolicy(document).is_action_permitted(action, resource) == PermissionResult.PERMITTED


@pytest.fixture(scope="module")
def two_playgrounds(tmp_path_factory, moto_endpoint):
    """The outputs of two users' playgrounds, made by the spawner."""
    made = {}

    async def make(username):
        spawner = make_spawner(PlaygroundSpawner, username, tmp_path_factory.mktemp(username),
                               aws_endpoint_url=moto_endpoint)
        await spawner.start()
        await spawner.stop(now=True)
        await spawner.run_post_stop_hook()
        return spawner.get_state()[STATE_KEY]["outputs"]

    for username in ("anna", "boris"):
        made[username] = asyncio.run(make(username))
    return made


@pytest.mark.parametrize("policy_source", ["role policy (as the stack made it)", "session policy"])
@pytest.mark.slow  # two stacks made by the spawner
def test_one_users_credentials_reach_their_tables_and_not_anothers(two_playgrounds, aws, policy_source):
    anna, boris = two_playgrounds["anna"], two_playgrounds["boris"]
    if policy_source == "session policy":
        policy = credentials.session_policy(anna)
    else:
        policy = aws("iam").get_role_policy(RoleName="profiler-anna-server", PolicyName="this-playground-only")[
            "PolicyDocument"]
        if isinstance(policy, str):
            policy = ast.literal_eval(policy)  # moto keeps a policy made by CloudFormation as a Python repr
    for action in ("dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchWriteItem"):
        assert allows(policy, action, anna["LoadTestTableArn"])
        assert allows(policy, action, anna["RunsTableArn"])
        assert not allows(policy, action, boris["LoadTestTableArn"])
        assert not allows(policy, action, boris["RunsTableArn"])
    assert allows(policy, "elasticloadbalancing:RegisterTargets", anna["TargetGroupArn"])
    assert not allows(policy, "elasticloadbalancing:RegisterTargets", boris["TargetGroupArn"])
    for dangerous in ("dynamodb:DeleteTable", "dynamodb:UpdateTable", "iam:PassRole", "sts:AssumeRole"):
        assert not allows(policy, dangerous, anna["LoadTestTableArn"])
        assert not allows(policy, dangerous, "*")


@pytest.mark.slow  # two stacks made by the spawner
def test_the_session_policy_fits_stss_size_limit(two_playgrounds):
    packed = json.dumps(credentials.session_policy(two_playgrounds["anna"]), separators=(",", ":"))
    assert len(packed) < 2048


def test_the_users_boto3_sees_refreshable_process_credentials(tmp_path, monkeypatch):
    # the user's server has none of these; a region set by other tests would hide the config file's
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(key, raising=False)
    files = credentials.CredentialFiles(tmp_path / "user")
    scoped = credentials.ScopedCredentials("ASIAUSER", "secret", "token", SOON + dt.timedelta(days=3650))
    files.write(scoped, "eu-west-1")
    env = files.environment(scoped)
    session = botocore.session.Session()
    for key in (environment.AWS_CONFIG_FILE, environment.AWS_SHARED_CREDENTIALS_FILE):
        session.set_config_variable({"AWS_CONFIG_FILE": "config_file",
                                     "AWS_SHARED_CREDENTIALS_FILE": "credentials_file"}[key], env[key])
    found = session.get_credentials()
    assert found.method == "custom-process" and found.access_key == "ASIAUSER"
    assert hasattr(found, "refresh_needed")  # RefreshableCredentials: botocore re-reads before expiry
    assert session.get_config_variable("region") == "eu-west-1"
    for path in (files.credentials_json, files.config, files.shared_credentials):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_refresh_is_due_margin_seconds_before_expiry():
    scoped = credentials.ScopedCredentials("a", "b", "c", SOON)
    assert credentials.seconds_until_refresh(scoped, 1200, now=SOON - dt.timedelta(hours=1)) == 2400
    assert credentials.seconds_until_refresh(scoped, 1200, now=SOON - dt.timedelta(minutes=5)) == 0


@pytest.mark.slow  # a spawn and a wait for the refresh
async def test_the_hub_refreshes_the_servers_credentials_before_they_expire(tmp_path, moto_endpoint):
    # 900 s credentials refreshed 899 s before expiry: a refresh about every second.
    spawner = make_spawner(PlaygroundSpawner, "refresh", tmp_path, aws_endpoint_url=moto_endpoint,
                           credentials_duration=900, credentials_refresh_margin=899)
    await spawner.start()
    try:
        first = spawner.credential_files.read()
        for _ in range(100):
            await asyncio.sleep(0.05)
            latest = spawner.credential_files.read()
            if latest and latest.access_key_id != first.access_key_id:
                break
        assert latest.access_key_id != first.access_key_id
        assert latest.expiration >= first.expiration
    finally:
        await spawner.stop(now=True)
        await spawner.run_post_stop_hook()
    assert spawner._refresh_task is None and not spawner.credential_files.directory.exists()


async def test_environment_delivery_gives_scoped_sts_keys_never_the_hubs(tmp_path, moto_endpoint):
    spawner = make_spawner(PlaygroundSpawner, "kube-like", tmp_path, aws_endpoint_url=moto_endpoint,
                           credentials_delivery="environment", env_keep=["PATH", "AWS_ACCESS_KEY_ID"])
    await spawner.start()
    try:
        env = server_environment(spawner)
    finally:
        await spawner.stop(now=True)
    assert env[environment.AWS_ACCESS_KEY_ID] != HUB_KEY_ID
    assert env[environment.AWS_SESSION_TOKEN]
    assert environment.AWS_CONFIG_FILE not in env
    expires = dt.datetime.fromisoformat(env[environment.CREDENTIALS_EXPIRE].replace("Z", "+00:00"))
    assert dt.timedelta(minutes=50) < expires - dt.datetime.now(dt.timezone.utc) <= dt.timedelta(hours=1)


@pytest.mark.skipif(os.geteuid() != 0, reason="handing files to another OS user needs root, as the hub has")
def test_with_system_users_the_servers_own_account_can_read_its_credentials_and_only_it(tmp_path):
    import pwd
    import subprocess
    import tempfile

    nobody = pwd.getpwnam("nobody")
    owner = (nobody.pw_uid, nobody.pw_gid)

    # Not under /tmp: on this machine /tmp is 0700, which no other user can pass through (the check below).
    closed = Path(tempfile.mkdtemp(prefix="credentials-closed-"))
    closed.chmod(0o700)
    with pytest.raises(PermissionError, match="is not traversable by others"):
        credentials.CredentialFiles(closed / "inner" / "root" / "nobody" / "default").write(
            credentials.ScopedCredentials("A", "s", "t", SOON), "us-east-1", owner=owner)
    scratch = Path(tempfile.mkdtemp(prefix="credentials-owner-", dir="/var/tmp"))
    try:
        scratch.chmod(0o755)
        files = credentials.CredentialFiles(scratch / "root" / "nobody" / "default")
        files.write(credentials.ScopedCredentials("ASIAUSER", "s", "t", SOON), "us-east-1", owner=owner)
        as_nobody = subprocess.run(["cat", str(files.credentials_json)], user=nobody.pw_uid, capture_output=True,
                                   text=True, timeout=10)
        assert as_nobody.returncode == 0 and "ASIAUSER" in as_nobody.stdout
        listing = subprocess.run(["ls", str(scratch / "root")], user=nobody.pw_uid, capture_output=True, timeout=10)
        assert listing.returncode != 0  # other users' folders cannot be listed
        # the folders stay the hub's: the user cannot put a link where the hub writes next time
        plant = subprocess.run(["ln", "-s", "/etc/shadow", str(files.directory / "planted")], user=nobody.pw_uid,
                               capture_output=True, timeout=10)
        assert plant.returncode != 0
        assert files.directory.stat().st_uid == 0 and files.credentials_json.stat().st_uid == nobody.pw_uid
        assert files.credentials_json.stat().st_mode & 0o777 == 0o600
    finally:
        import shutil

        shutil.rmtree(scratch)
        shutil.rmtree(closed)


@pytest.mark.parametrize("content", ["{}", "[]", '{"AccessKeyId": 1}', "x" * (200 * 1024), "not json"])
def test_a_credentials_file_its_user_rewrote_is_ignored_not_trusted(tmp_path, content):
    files = credentials.CredentialFiles(tmp_path / "root" / "user" / "default")
    files.write(credentials.ScopedCredentials("A", "s", "t", SOON), "us-east-1")
    assert files.read() is not None
    files.credentials_json.write_text(content)
    assert files.read() is None
