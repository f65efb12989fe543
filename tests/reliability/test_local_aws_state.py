"""The local AWS keeps every user's playground across a clean stop and a ``kill -9``.

A real playground is made by the real spawner and template on the service as the hub runs it; the user writes
items into both of their tables with the scoped credentials their server holds; the service is stopped (or
killed) and started again on the same state file; the items, the stack, the role and the user's credentials are
all still there.
"""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from hub.services import aws_state, local_aws
from spawner import credentials
from spawner.playground import STATE_KEY, PlaygroundSpawner
from testing.local_aws import LocalAwsProcess
from tests.spawner.mocking import make_spawner

REGION = "us-east-1"


def client(endpoint: str, service: str, keys) -> boto3.client:
    if isinstance(keys, credentials.ScopedCredentials):
        secrets = {"aws_access_key_id": keys.access_key_id, "aws_secret_access_key": keys.secret_access_key,
                   "aws_session_token": keys.session_token}
    else:
        secrets = {"aws_access_key_id": keys[local_aws.KEY_ID_VARIABLE],
                   "aws_secret_access_key": keys[local_aws.SECRET_VARIABLE]}
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        config=Config(retries={"max_attempts": 1}), **secrets)


def make_playground(service: LocalAwsProcess, username: str, folder) -> tuple[dict, credentials.ScopedCredentials]:
    """The playground as the spawner keeps it (stack name, outputs) and the scoped credentials it hands the
    user's server."""
    saved = {name: os.environ.get(name) for name in service.keys}
    os.environ.update(service.keys)  # the hub's own keys, as `workbench hub` puts them in the hub's environment

    async def spawn():
        spawner = make_spawner(PlaygroundSpawner, username, folder, aws_endpoint_url=service.endpoint,
                               env_keep=["PATH"])
        await spawner.start()
        try:
            return spawner.get_state()[STATE_KEY], spawner.credential_files.read()
        finally:
            await spawner.stop(now=True)

    try:
        return asyncio.run(spawn())
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def put_items(dynamodb, table: str, first: int, count: int) -> None:
    for start in range(first, first + count, 25):
        dynamodb.batch_write_item(RequestItems={table: [
            {"PutRequest": {"Item": {"pk": {"S": f"item-{number}"}, "sk": {"S": "v"}, "data": {"S": "x" * 200}}}}
            for number in range(start, min(first + count, start + 25))]})


def item_numbers(dynamodb, table: str) -> set[int]:
    pages = dynamodb.get_paginator("scan").paginate(TableName=table)
    return {int(item["pk"]["S"].removeprefix("item-")) for page in pages for item in page["Items"]}


@pytest.fixture
def durable_service(tmp_path):
    service = LocalAwsProcess(tmp_path, state_file=tmp_path / "state" / aws_state.SNAPSHOT_FILE)
    (tmp_path / "state").mkdir(mode=0o700)
    try:
        yield service.start()
    finally:
        if service.process.poll() is None:
            service.stop()
    assert service.keys[local_aws.SECRET_VARIABLE] not in service.log(), "the hub's secret must never be logged"


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["clean stop", "kill -9"])
def test_a_users_playground_survives_a_restart_of_the_local_aws(durable_service, tmp_path, fault):
    service = durable_service
    playground, user_keys = make_playground(service, "anna", tmp_path)
    outputs = playground["outputs"]
    dynamodb = client(service.endpoint, "dynamodb", user_keys)
    put_items(dynamodb, outputs["LoadTestTableName"], 0, 500)
    dynamodb.put_item(TableName=outputs["RunsTableName"],
                      Item={"pk": {"S": "run#1"}, "sk": {"S": "summary"}, "requests": {"N": "1234"}})
    if fault == "kill -9":
        # The promise after a crash: changes older than a second or so are on disk.
        time.sleep(aws_state.SNAPSHOT_INTERVAL * 2.5)
        service.kill()
    else:
        assert service.stop() == 0
    service.start()

    # The user's server keeps the credentials it was given: they still work, on the same tables.
    dynamodb = client(service.endpoint, "dynamodb", user_keys)
    assert item_numbers(dynamodb, outputs["LoadTestTableName"]) == set(range(500))
    run = dynamodb.get_item(TableName=outputs["RunsTableName"], Key={"pk": {"S": "run#1"}, "sk": {"S": "summary"}})
    assert run["Item"]["requests"] == {"N": "1234"}
    # ...and no more than before: the other user's tables are still closed to them.
    with pytest.raises(ClientError) as refused:
        dynamodb.scan(TableName=outputs["LoadTestTableName"].replace("anna", "boris"))
    assert refused.value.response["Error"]["Code"] in ("AccessDeniedException", "AccessDenied")
    # The hub finds the stack as it left it, with its role and target group.
    hub_cloudformation = client(service.endpoint, "cloudformation", service.keys)
    stack = hub_cloudformation.describe_stacks(StackName=playground["stack_name"])
    assert stack["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    attributes = client(service.endpoint, "elbv2", service.keys).describe_target_group_attributes(
        TargetGroupArn=outputs["TargetGroupArn"])["Attributes"]
    assert {"Key": "deregistration_delay.timeout_seconds", "Value": "0"} in attributes
    if fault == "kill -9":
        assert "restored" in service.log()


@pytest.mark.slow
def test_writes_after_a_restart_are_kept_by_the_next_one(durable_service, tmp_path):
    service = durable_service
    playground, user_keys = make_playground(service, "boris", tmp_path)
    table = playground["outputs"]["LoadTestTableName"]
    put_items(client(service.endpoint, "dynamodb", user_keys), table, 0, 100)
    service.stop()
    service.start()
    put_items(client(service.endpoint, "dynamodb", user_keys), table, 100, 100)
    time.sleep(aws_state.SNAPSHOT_INTERVAL * 2.5)
    service.kill()
    service.start()
    assert item_numbers(client(service.endpoint, "dynamodb", user_keys), table) == set(range(200))


@pytest.mark.slow
def test_a_hub_with_new_keys_replaces_its_old_ones(tmp_path):
    state_file = tmp_path / aws_state.SNAPSHOT_FILE
    with LocalAwsProcess(tmp_path, state_file=state_file) as first:
        client(first.endpoint, "iam", first.keys).create_role(RoleName="kept", AssumeRolePolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": []}))
        old_keys = first.keys
    with LocalAwsProcess(tmp_path, state_file=state_file) as second:
        assert second.keys != old_keys
        assert client(second.endpoint, "iam", second.keys).get_role(RoleName="kept")["Role"]["RoleName"] == "kept"
        with pytest.raises(ClientError) as refused:
            client(second.endpoint, "iam", old_keys).get_role(RoleName="kept")
        assert refused.value.response["Error"]["Code"] == "InvalidClientTokenId"


# --- the snapshot file ------------------------------------------------------------------------------------------
def test_reads_never_cause_a_snapshot_and_anything_else_does():
    def action(target="", body=b""):
        return aws_state.action_of({"HTTP_X_AMZ_TARGET": target} if target else {}, body)

    for read in (action("DynamoDB_20120810.GetItem"), action("DynamoDB_20120810.Query"),
                 action("DynamoDB_20120810.BatchGetItem"), action(body=b"Action=DescribeStacks&Version=2010-05-15"),
                 action(body=b"Action=GetCallerIdentity&Version=2011-06-15")):
        assert not aws_state.may_change(read), read
    for change in (action("DynamoDB_20120810.PutItem"), action("DynamoDB_20120810.BatchWriteItem"),
                   action(body=b"Action=CreateStack&StackName=x"), action(body=b"Action=AssumeRole"),
                   action(body=b"\xff\xfe not a form"), action()):
        assert aws_state.may_change(change), change


def test_a_snapshot_is_written_whole_and_private(tmp_path):
    path = tmp_path / aws_state.SNAPSHOT_FILE
    aws_state.write_snapshot(path, {"dynamodb": {}})
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)
    assert aws_state.read_snapshot(path) == {"dynamodb": {}}
    assert [entry.name for entry in tmp_path.iterdir()] == [aws_state.SNAPSHOT_FILE]  # no draft left behind
    assert aws_state.read_snapshot(tmp_path / "none-yet") is None


def test_a_snapshot_anyone_else_could_have_written_is_refused(tmp_path):
    path = tmp_path / aws_state.SNAPSHOT_FILE
    aws_state.write_snapshot(path, {})
    path.chmod(0o620)
    with pytest.raises(PermissionError):
        aws_state.read_snapshot(path)
    path.chmod(0o600)
    link = tmp_path / "link.snapshot"
    link.symlink_to(path)
    with pytest.raises(OSError):
        aws_state.read_snapshot(link)


def test_a_snapshot_of_another_format_is_refused_with_its_version(tmp_path):
    path = tmp_path / aws_state.SNAPSHOT_FILE
    path.write_bytes(pickle.dumps({"version": 99, "backends": {}}))
    path.chmod(0o600)
    with pytest.raises(ValueError, match="format 99"):
        aws_state.read_snapshot(path)
