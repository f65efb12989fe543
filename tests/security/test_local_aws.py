"""The local AWS a hostile user can connect to: IAM enforced on every request, moto's admin routes unreachable.

Every user's server is a process on the hub's machine, so it can reach the local AWS's port with any keys. These
tests run the service as the hub runs it (``python -m hub.services.local_aws``, a real subprocess on a free port,
handed the hub's keys in its environment), make two users' playgrounds with the real spawner and template, and
act as what a user holds: their scoped STS credentials, or keys they make up.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import stat
import subprocess
import sys
import time

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from hub.services import local_aws
from spawner import credentials, stacks
from spawner.playground import STATE_KEY, PlaygroundSpawner
from testing.support import REPO_ROOT, free_port, wait_for
from tests.spawner.mocking import make_spawner

REGION = "us-east-1"
USERS = ("anna", "boris")


# --- without the service: the gate and the hub's key file --------------------------------------------------------
def signed_environ(service: str, path: str = "/", **headers: str) -> dict:
    request = AWSRequest(method="POST", url=f"http://127.0.0.1:5000{path}", data=b"{}", headers=headers)
    SigV4Auth(Credentials("AKIAEXAMPLEEXAMPLE12", "secret"), service, REGION).add_auth(request)
    environ = {"PATH_INFO": path, "REQUEST_METHOD": "POST"}
    environ.update({"HTTP_" + name.upper().replace("-", "_"): value for name, value in request.headers.items()})
    return environ


def test_the_gate_lets_through_only_signed_calls_to_the_served_aws_apis():
    refusal = local_aws.AwsApiOnly.refusal
    assert refusal(signed_environ("dynamodb")) is None
    assert refusal(signed_environ("elasticloadbalancing")) is None
    for path in ("/moto-api/", "/moto-api/reset", "//moto-api/reset", "/moto-api/data.json", "/latest/meta-data/",
                 "/favicon.ico", "/anything"):
        assert refusal(signed_environ("dynamodb", path))[:2] == ("404 Not Found", "NotFound"), path
    assert refusal({"PATH_INFO": "/"})[1] == "MissingAuthenticationToken"
    assert refusal(signed_environ("s3"))[1] == "AccessDenied"
    assert refusal(signed_environ("dynamodb", **{"x-moto-account-id": "111111111111"}))[1] == "AccessDenied"


def test_the_hubs_keys_are_made_once_in_a_private_file(tmp_path):
    made = local_aws.hub_credentials(tmp_path)
    path = tmp_path / local_aws.HUB_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert made[local_aws.KEY_ID_VARIABLE].startswith("AKIA") and len(made[local_aws.SECRET_VARIABLE]) >= 40
    assert local_aws.hub_credentials(tmp_path) == made  # a restarted hub keeps its identity
    path.chmod(0o644)
    with pytest.raises(PermissionError):
        local_aws.hub_credentials(tmp_path)


def test_a_planted_link_is_never_followed(tmp_path):
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(json.dumps({"AccessKeyId": "AKIAPLANTED", "SecretAccessKey": "planted"}))
    elsewhere.chmod(0o600)
    state = tmp_path / "state"
    state.mkdir()
    (state / local_aws.HUB_KEY_FILE).symlink_to(elsewhere)
    with pytest.raises(OSError):
        local_aws.hub_credentials(state)


# --- the service, as the hub runs it -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def local_aws_service(tmp_path_factory):
    """(endpoint, the hub's keys) of a running local AWS service."""
    keys = local_aws.new_hub_credentials()
    port = free_port()
    log_path = tmp_path_factory.mktemp("local-aws") / "service.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "hub.services.local_aws", "--port", str(port)],
            env={"PATH": os.environ["PATH"], **keys}, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"

    def answers():
        if process.poll() is not None:
            raise RuntimeError(f"the local AWS exited with {process.returncode}:\n{log_path.read_text()}")
        return requests.get(f"{endpoint}/", timeout=2).status_code

    try:
        wait_for(answers, 90, f"the local AWS on {endpoint}", interval=0.2)
        yield endpoint, keys
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert keys[local_aws.SECRET_VARIABLE] not in log_path.read_text(), "the hub's secret must never be logged"


def client(endpoint: str, service: str, keys: dict[str, str] | credentials.ScopedCredentials, **config):
    if isinstance(keys, credentials.ScopedCredentials):
        secrets = {"aws_access_key_id": keys.access_key_id, "aws_secret_access_key": keys.secret_access_key,
                   "aws_session_token": keys.session_token}
    else:
        secrets = {"aws_access_key_id": keys[local_aws.KEY_ID_VARIABLE],
                   "aws_secret_access_key": keys[local_aws.SECRET_VARIABLE]}
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        config=Config(retries={"max_attempts": 1}, **config), **secrets)


@pytest.fixture(scope="module")
def playgrounds(local_aws_service, tmp_path_factory):
    """Per user: the playground's outputs and the scoped credentials the spawner handed their server."""
    endpoint, keys = local_aws_service
    saved = {name: os.environ.get(name) for name in keys}
    os.environ.update(keys)  # the hub's own keys, as `workbench hub` puts them in the hub's environment
    made = {}

    async def spawn(username):
        spawner = make_spawner(PlaygroundSpawner, username, tmp_path_factory.mktemp(username),
                               aws_endpoint_url=endpoint, env_keep=["PATH"])
        await spawner.start()
        try:
            return spawner.get_state()[STATE_KEY]["outputs"], spawner.credential_files.read()
        finally:
            await spawner.stop(now=True)

    try:
        for username in USERS:
            made[username] = asyncio.run(spawn(username))
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return made


def denied(call, *args, **kwargs) -> str:
    """The error code a user sees for a refused call (fails the test when the call succeeds)."""
    with pytest.raises(ClientError) as refused:
        call(*args, **kwargs)
    return refused.value.response["Error"]["Code"]


ITEM = {"pk": {"S": "probe"}, "sk": {"S": "1"}}


@pytest.mark.slow
def test_a_users_scoped_credentials_work_on_their_own_tables(local_aws_service, playgrounds):
    endpoint, hub_keys = local_aws_service
    outputs, anna = playgrounds["anna"]
    dynamodb = client(endpoint, "dynamodb", anna)
    for table in (outputs["LoadTestTableName"], outputs["RunsTableName"]):
        dynamodb.put_item(TableName=table, Item=ITEM)
        assert dynamodb.get_item(TableName=table, Key=ITEM)["Item"] == ITEM
        assert dynamodb.query(TableName=table, KeyConditionExpression="pk = :p",
                              ExpressionAttributeValues={":p": {"S": "probe"}})["Count"] == 1
        dynamodb.describe_table(TableName=table)
    dynamodb.batch_write_item(RequestItems={
        outputs["LoadTestTableName"]: [{"PutRequest": {"Item": {**ITEM, "sk": {"S": "2"}}}}],
        outputs["RunsTableName"]: [{"PutRequest": {"Item": {**ITEM, "sk": {"S": "2r"}}}}]})
    dynamodb.transact_write_items(TransactItems=[
        {"Put": {"TableName": outputs["LoadTestTableName"], "Item": {**ITEM, "sk": {"S": "3"}}}},
        {"ConditionCheck": {"TableName": outputs["RunsTableName"], "Key": ITEM,
                            "ConditionExpression": "attribute_exists(pk)"}}])
    assert client(endpoint, "dynamodb", hub_keys).scan(TableName=outputs["LoadTestTableName"])["Count"] == 3
    # ...and their own target group; who they are is no secret.
    client(endpoint, "elbv2", anna).register_targets(TargetGroupArn=outputs["TargetGroupArn"],
                                                      Targets=[{"Id": "10.0.0.5", "Port": 8888}])
    arn = client(endpoint, "sts", anna).get_caller_identity()["Arn"]
    assert arn.endswith(":assumed-role/profiler-anna-server/" + arn.rsplit("/", 1)[1])


@pytest.mark.slow
def test_the_load_test_engines_own_signed_requests_are_accepted_on_their_tables_only(local_aws_service,
                                                                                      playgrounds):
    from profiler.loadtest.transport import DynamoHttpClient

    endpoint, _ = local_aws_service
    anna_outputs, anna = playgrounds["anna"]
    boris_outputs, _ = playgrounds["boris"]
    frozen = Credentials(anna.access_key_id, anna.secret_access_key, anna.session_token)

    async def put(table):
        engine = DynamoHttpClient(region=REGION, endpoint_url=endpoint, credentials=lambda: frozen, max_attempts=1)
        try:
            return await engine.call("PutItem", {"TableName": table, "Item": {**ITEM, "sk": {"S": "engine"}}})
        finally:
            await engine.close()

    assert asyncio.run(put(anna_outputs["LoadTestTableName"])).error is None
    assert asyncio.run(put(boris_outputs["LoadTestTableName"])).error == "AccessDeniedException"


@pytest.mark.slow
def test_a_user_cannot_touch_another_users_tables(local_aws_service, playgrounds):
    endpoint, hub_keys = local_aws_service
    anna_outputs, anna = playgrounds["anna"]
    boris_outputs, _ = playgrounds["boris"]
    hub = client(endpoint, "dynamodb", hub_keys)
    boris_table = boris_outputs["LoadTestTableName"]
    hub.put_item(TableName=boris_table, Item=ITEM)
    dynamodb = client(endpoint, "dynamodb", anna)
    assert denied(dynamodb.get_item, TableName=boris_table, Key=ITEM) == "AccessDeniedException"
    assert denied(dynamodb.scan, TableName=boris_table) == "AccessDeniedException"
    assert denied(dynamodb.query, TableName=boris_table, KeyConditionExpression="pk = :p",
                  ExpressionAttributeValues={":p": {"S": "probe"}}) == "AccessDeniedException"
    assert denied(dynamodb.put_item, TableName=boris_table, Item={**ITEM, "sk": {"S": "x"}}) == "AccessDeniedException"
    assert denied(dynamodb.delete_item, TableName=boris_table, Key=ITEM) == "AccessDeniedException"
    assert denied(dynamodb.delete_table, TableName=boris_table) == "AccessDeniedException"
    assert denied(dynamodb.delete_table, TableName=anna_outputs["LoadTestTableName"]) == "AccessDeniedException"
    assert denied(dynamodb.list_tables) == "AccessDeniedException"
    # A batch or a transaction naming Anna's table and Boris's is refused whole.
    assert denied(dynamodb.batch_write_item, RequestItems={
        anna_outputs["LoadTestTableName"]: [{"PutRequest": {"Item": {**ITEM, "sk": {"S": "b"}}}}],
        boris_table: [{"DeleteRequest": {"Key": ITEM}}]}) == "AccessDeniedException"
    assert denied(dynamodb.batch_get_item, RequestItems={boris_table: {"Keys": [ITEM]}}) == "AccessDeniedException"
    assert denied(dynamodb.transact_write_items, TransactItems=[
        {"Put": {"TableName": anna_outputs["LoadTestTableName"], "Item": {**ITEM, "sk": {"S": "t"}}}},
        {"Delete": {"TableName": boris_table, "Key": ITEM}}]) == "AccessDeniedException"
    # Nothing of Boris's changed, and nothing of the refused batch or transaction was done on Anna's side.
    assert hub.scan(TableName=boris_table)["Items"] == [ITEM]
    assert hub.describe_table(TableName=boris_table)["Table"]["TableStatus"] == "ACTIVE"
    for sort_key in ("b", "t"):
        assert "Item" not in hub.get_item(TableName=anna_outputs["LoadTestTableName"],
                                          Key={**ITEM, "sk": {"S": sort_key}})


@pytest.mark.slow
def test_a_user_cannot_touch_stacks_iam_roles_or_another_target_group(local_aws_service, playgrounds):
    endpoint, hub_keys = local_aws_service
    _, anna = playgrounds["anna"]
    boris_outputs, _ = playgrounds["boris"]
    cloudformation = client(endpoint, "cloudformation", anna)
    assert denied(cloudformation.describe_stacks, StackName="profiler-boris") == "AccessDenied"
    assert denied(cloudformation.delete_stack, StackName="profiler-boris") == "AccessDenied"
    assert denied(cloudformation.delete_stack, StackName="profiler-anna") == "AccessDenied"
    iam = client(endpoint, "iam", anna)
    assert denied(iam.list_roles) == "AccessDenied"
    assert denied(iam.delete_role, RoleName="profiler-boris-server") == "AccessDenied"
    assert denied(iam.put_role_policy, RoleName="profiler-anna-server", PolicyName="more",
                  PolicyDocument=json.dumps(local_aws.ADMINISTRATOR_POLICY)) == "AccessDenied"
    assert denied(iam.create_access_key, UserName=local_aws.HUB_USER) == "AccessDenied"
    sts = client(endpoint, "sts", anna)
    assert denied(sts.assume_role, RoleArn=boris_outputs["ServerRoleArn"], RoleSessionName="intruder") == "AccessDenied"
    assert denied(client(endpoint, "elbv2", anna).register_targets, TargetGroupArn=boris_outputs["TargetGroupArn"],
                  Targets=[{"Id": "10.0.0.6", "Port": 8888}]) == "AccessDenied"
    # Still there, untouched.
    hub_cloudformation = client(endpoint, "cloudformation", hub_keys)
    assert hub_cloudformation.describe_stacks(StackName="profiler-boris")["Stacks"][0]["StackStatus"] in stacks.HEALTHY
    client(endpoint, "iam", hub_keys).get_role(RoleName="profiler-boris-server")
    assert client(endpoint, "iam", hub_keys).list_role_policies(RoleName="profiler-anna-server")["PolicyNames"] == [
        "this-playground-only"]


@pytest.mark.slow
def test_the_session_policy_narrows_what_the_role_allows(local_aws_service, playgrounds):
    """moto alone ignores session policies: here a session allowed only the runs table is denied the load-test
    table, which the role itself allows."""
    endpoint, hub_keys = local_aws_service
    outputs, _ = playgrounds["anna"]
    narrow = credentials.session_policy(outputs)
    narrow["Statement"][0]["Resource"] = [outputs["RunsTableArn"]]
    scoped = credentials.assume(client(endpoint, "sts", hub_keys), outputs["ServerRoleArn"], "narrow", narrow, 900)
    dynamodb = client(endpoint, "dynamodb", scoped)
    dynamodb.put_item(TableName=outputs["RunsTableName"], Item={**ITEM, "sk": {"S": "narrow"}})
    assert denied(dynamodb.put_item, TableName=outputs["LoadTestTableName"], Item=ITEM) == "AccessDeniedException"


@pytest.mark.slow
def test_read_only_credentials_read_the_users_tables_and_change_nothing(local_aws_service, playgrounds):
    """What a published dashboard's kernels get when its owner ticks read-only access."""
    endpoint, hub_keys = local_aws_service
    outputs, anna = playgrounds["anna"]
    client(endpoint, "dynamodb", anna).put_item(TableName=outputs["RunsTableName"], Item={**ITEM, "sk": {"S": "ro"}})
    policy = credentials.session_policy(outputs, read_only=True)
    scoped = credentials.assume(client(endpoint, "sts", hub_keys), outputs["ServerRoleArn"], "reader", policy, 900)
    dynamodb = client(endpoint, "dynamodb", scoped)
    key = {**ITEM, "sk": {"S": "ro"}}
    assert dynamodb.get_item(TableName=outputs["RunsTableName"], Key=key)["Item"] == key
    assert dynamodb.scan(TableName=outputs["RunsTableName"])["Count"] >= 1
    dynamodb.describe_table(TableName=outputs["LoadTestTableName"])
    for table in (outputs["RunsTableName"], outputs["LoadTestTableName"]):
        assert denied(dynamodb.put_item, TableName=table, Item={**ITEM, "sk": {"S": "no"}}) == "AccessDeniedException"
        assert denied(dynamodb.delete_item, TableName=table, Key=key) == "AccessDeniedException"
    assert denied(client(endpoint, "elbv2", scoped).register_targets, TargetGroupArn=outputs["TargetGroupArn"],
                  Targets=[{"Id": "10.0.0.6", "Port": 8888}]) == "AccessDenied"


@pytest.mark.slow
def test_expired_credentials_are_refused(local_aws_service, playgrounds):
    endpoint, hub_keys = local_aws_service
    outputs, _ = playgrounds["anna"]
    # STS's minimum is 900 s; moto takes 1 s when the client does not check it.
    sts = client(endpoint, "sts", hub_keys, parameter_validation=False)
    scoped = credentials.assume(sts, outputs["ServerRoleArn"], "short", credentials.session_policy(outputs), 1)
    wait_for(lambda: scoped.expiration < dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1), 10,
             "the credentials to expire")
    assert denied(client(endpoint, "dynamodb", scoped).get_item, TableName=outputs["LoadTestTableName"],
                  Key=ITEM) == "ExpiredTokenException"
    assert denied(client(endpoint, "sts", scoped).get_caller_identity) == "ExpiredToken"


@pytest.mark.slow
def test_made_up_keys_are_refused_everywhere(local_aws_service, playgrounds):
    endpoint, hub_keys = local_aws_service
    outputs, _ = playgrounds["anna"]
    made_up = {local_aws.KEY_ID_VARIABLE: "AKIAMADEUPMADEUP1234", local_aws.SECRET_VARIABLE: "made-up"}
    table = outputs["LoadTestTableName"]
    assert denied(client(endpoint, "dynamodb", made_up).get_item, TableName=table, Key=ITEM) == \
        "UnrecognizedClientException"
    assert denied(client(endpoint, "dynamodb", made_up).delete_table, TableName=table) == \
        "UnrecognizedClientException"
    assert denied(client(endpoint, "cloudformation", made_up).describe_stacks) == "InvalidClientTokenId"
    assert denied(client(endpoint, "iam", made_up).list_roles) == "InvalidClientTokenId"
    assert denied(client(endpoint, "sts", made_up).assume_role, RoleArn=outputs["ServerRoleArn"],
                  RoleSessionName="intruder") == "InvalidClientTokenId"
    assert denied(client(endpoint, "elbv2", made_up).describe_target_groups) == "InvalidClientTokenId"
    assert denied(client(endpoint, "ec2", made_up).describe_vpcs) == "AuthFailure"
    # The hub's key id without its secret is no better.
    guessed = {**hub_keys, local_aws.SECRET_VARIABLE: "guessed"}
    assert denied(client(endpoint, "dynamodb", guessed).get_item, TableName=table, Key=ITEM) == \
        "InvalidSignatureException"
    assert denied(client(endpoint, "iam", guessed).list_roles) == "SignatureDoesNotMatch"
    # An assumed role's key id and secret without its session token are not enough either.
    _, anna = playgrounds["anna"]
    tokenless = {local_aws.KEY_ID_VARIABLE: anna.access_key_id, local_aws.SECRET_VARIABLE: anna.secret_access_key}
    assert denied(client(endpoint, "dynamodb", tokenless).get_item, TableName=table, Key=ITEM) == \
        "UnrecognizedClientException"


def signed(keys: dict[str, str], service: str, method: str, url: str, body: bytes = b"") -> requests.Response:
    request = AWSRequest(method=method, url=url, data=body)
    SigV4Auth(Credentials(keys[local_aws.KEY_ID_VARIABLE], keys[local_aws.SECRET_VARIABLE]), service,
              REGION).add_auth(request)
    return requests.request(method, url, data=body, headers=dict(request.headers.items()), timeout=10)


@pytest.mark.slow
def test_motos_admin_routes_answer_nobody_and_the_state_survives(local_aws_service, playgrounds):
    endpoint, hub_keys = local_aws_service
    outputs, _ = playgrounds["anna"]
    admin = ["/moto-api/reset", "/moto-api/reset-auth", "/moto-api/data.json", "/moto-api/", "/moto-api",
             "/moto-api/seed?a=42", "/moto-api/config", "/moto-api/recorder/download-recording",
             "/moto-api/state-manager/get-transition", "/moto-api/proxy/passthrough", "//moto-api/reset",
             "/latest/meta-data/iam/security-credentials/", "/favicon.ico"]
    for path in admin:
        for method in ("GET", "POST"):
            response = requests.request(method, f"{endpoint}{path}", data=b"0", timeout=10)
            assert response.status_code in (403, 404), (method, path, response.status_code)
        # Not even for the hub: moto's admin routes are not an AWS API.
        assert signed(hub_keys, "dynamodb", "POST", f"{endpoint}{path}", b"0").status_code in (403, 404), path
    # A signed request for a service this AWS does not serve, or moto's account switch, is refused too.
    assert signed(hub_keys, "s3", "GET", f"{endpoint}/").status_code == 403
    with pytest.raises(ClientError) as switched:
        hub = client(endpoint, "dynamodb", hub_keys)
        hub.meta.events.register("before-sign.dynamodb.*",
                                 lambda request, **_: request.headers.__setitem__("x-moto-account-id", "111111111111"))
        hub.list_tables()
    assert switched.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # The state survived every attempt, and IAM is still enforced (reset-auth did nothing).
    hub = client(endpoint, "dynamodb", hub_keys)
    assert {outputs["LoadTestTableName"], outputs["RunsTableName"]} <= set(hub.list_tables()["TableNames"])
    assert hub.scan(TableName=outputs["LoadTestTableName"])["Count"] >= 1
    made_up = {local_aws.KEY_ID_VARIABLE: "AKIAMADEUPMADEUP1234", local_aws.SECRET_VARIABLE: "made-up"}
    assert denied(client(endpoint, "dynamodb", made_up).list_tables) == "UnrecognizedClientException"


@pytest.mark.slow
def test_the_hubs_readiness_check_needs_no_admin_route(local_aws_service):
    endpoint, _ = local_aws_service
    started = time.monotonic()
    assert asyncio.run(stacks.endpoint_answers(endpoint))
    asyncio.run(stacks.wait_until_answering(endpoint, timeout=5))
    assert time.monotonic() - started < 2


def test_the_service_refuses_to_start_without_the_hubs_keys():
    started = subprocess.run([sys.executable, "-m", "hub.services.local_aws", "--port", str(free_port())],
                             env={"PATH": os.environ["PATH"]}, cwd=REPO_ROOT, capture_output=True, text=True,
                             timeout=60)
    assert started.returncode == 2
    assert local_aws.KEY_ID_VARIABLE in started.stderr


def test_the_service_definition_hands_the_hubs_keys_in_its_environment_not_its_command(monkeypatch, tmp_path):
    keys = local_aws.new_hub_credentials()
    for name, value in keys.items():
        monkeypatch.setenv(name, value)
    definition = local_aws.service_definition(5000, tmp_path)
    assert definition["environment"] == keys
    assert not any(value in " ".join(definition["command"]) for value in keys.values())

