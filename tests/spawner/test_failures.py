"""When AWS fails, the spawn page says why, half-made stacks are removed, retries work, others are unaffected.

moto never rolls back and never sticks, so CloudFormation here is a double replaying real event sequences;
the other services are the moto server.
"""

from __future__ import annotations

import asyncio

import pytest
from jupyterhub.spawner import SpawnException

from spawner import names
from spawner.playground import PlaygroundSpawner
from spawner.stacks import (
    AwsClients,
    EventLog,
    PlaygroundError,
    StackClient,
    build_request,
    create_or_adopt,
    watch,
)
from tests.spawner.mocking import (
    ScriptedCloudFormation,
    client_error,
    event,
    make_spawner,
    recorder,
    rollback_sequence,
    stuck_sequence,
    success_sequence,
)

TEMPLATE = PlaygroundSpawner.template_path.default_value


def scripted_spawner(username, tmp_path, moto_endpoint, cloudformation, **traits):
    real = AwsClients.connect("us-east-1", moto_endpoint)
    traits.setdefault("playground_timeout", 5.0)
    spawner = make_spawner(PlaygroundSpawner, username, tmp_path, aws_endpoint_url=moto_endpoint,
                           aws=AwsClients(cloudformation, real.elbv2, real.dynamodb, real.sts), **traits)
    return spawner


async def failed_spawn(spawner) -> tuple[str, list[str]]:
    progress = asyncio.ensure_future(_messages(spawner))
    with pytest.raises(SpawnException) as failure:
        await spawner.start()
    return failure.value.message, await progress


async def _messages(spawner):
    return [event["message"] async for event in spawner.progress()]


async def test_a_rolled_back_stack_shows_the_failing_resource_and_is_removed(tmp_path, moto_endpoint):
    cloudformation = ScriptedCloudFormation(rollback_sequence("profiler-rolled"))
    spawner = scripted_spawner("rolled", tmp_path, moto_endpoint, cloudformation)
    message, progress = await failed_spawn(spawner)
    assert "rollback complete" in message
    assert "LoadTestTable (AWS::DynamoDB::Table): Resource handler returned message: \"Table already exists" in message
    assert "you can try again" in message
    assert any("LoadTestTable (AWS::DynamoDB::Table): create failed" in line for line in progress)
    assert any("CloudFormation is undoing it" in line for line in progress)  # waited for the rollback's end
    assert cloudformation.deleted == ["arn:aws:cloudformation:us-east-1:123456789012:stack/profiler-rolled/1"]
    assert await spawner.poll() == 0  # not running: JupyterHub lets the user try again


async def test_a_stack_stuck_in_progress_times_out_with_patience_messages_then_is_removed(tmp_path, moto_endpoint):
    cloudformation = ScriptedCloudFormation(stuck_sequence("profiler-stuck"))
    spawner = scripted_spawner("stuck", tmp_path, moto_endpoint, cloudformation, playground_timeout=0.6,
                               patience_interval=0.2, stack_poll_interval=0.05)
    message, progress = await failed_spawn(spawner)
    assert "still create in progress after 0.6 s, with 0 of 5 resources ready" in message
    assert any(line.startswith("Still creating your playground") for line in progress)
    assert cloudformation.deleted  # the stuck stack is cancelled and deleted


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (client_error("Throttling", "Rate exceeded", "CreateStack"), "AWS is throttling requests"),
        (client_error("AccessDenied", "User: arn:aws:iam::123456789012:user/hub is not authorized to perform: "
                      "cloudformation:CreateStack", "CreateStack"), "AWS refused the hub's credentials"),
        (client_error("ValidationError", "Template format error: Unresolved resource dependencies [Vcp] in the "
                      "Resources block of the template", "CreateStack"),
         "CloudFormation rejected the playground template while creating your playground: Template format error"),
    ],
)
async def test_aws_refusing_to_create_says_why_and_deletes_nothing(tmp_path, moto_endpoint, error, expected):
    cloudformation = ScriptedCloudFormation(create_error=error)
    spawner = scripted_spawner("refused", tmp_path, moto_endpoint, cloudformation)
    message, _ = await failed_spawn(spawner)
    assert expected in message
    assert "delete_stack" not in cloudformation.calls  # there was no stack; and never touch a healthy one


async def test_one_users_failure_leaves_another_users_spawn_alone(tmp_path, moto_endpoint):
    failing = scripted_spawner("storm", tmp_path, moto_endpoint,
                               ScriptedCloudFormation(rollback_sequence("profiler-storm")))
    calm = make_spawner(PlaygroundSpawner, "calm", tmp_path, aws_endpoint_url=moto_endpoint)
    outcomes = await asyncio.gather(failing.start(), calm.start(), return_exceptions=True)
    await calm.stop(now=True)
    assert isinstance(outcomes[0], SpawnException)
    assert outcomes[1][1] > 0  # (ip, port) of calm's running server


async def test_a_retry_after_a_failure_starts_from_a_clean_stack():
    # The previous attempt left a rolled-back stack (e.g. the hub died before removing it).
    cloudformation = ScriptedCloudFormation(success_sequence("profiler-again", [("Vpc", "AWS::EC2::VPC")]),
                                            existing="ROLLBACK_COMPLETE", existing_owner="again")
    request = build_request(names.for_user("again"), open(TEMPLATE).read(), "hub")
    messages, report = recorder()
    stack_id, created = await create_or_adopt(StackClient(cloudformation, _NoTargetGroups()), request,
                                              delete_timeout=5, poll_interval=0.01, report=report)
    assert created
    assert cloudformation.calls.index("delete_stack") < cloudformation.calls.index("create_stack")
    assert "rollback complete; removing it first" in messages[0]


async def test_progress_counts_finished_resources_against_the_template():
    resources = [("Vpc", "AWS::EC2::VPC"), ("LoadTestTable", "AWS::DynamoDB::Table"),
                 ("RunsTable", "AWS::DynamoDB::Table"), ("TargetGroup", "AWS::ElasticLoadBalancingV2::TargetGroup"),
                 ("ServerRole", "AWS::IAM::Role")]
    cloudformation = ScriptedCloudFormation(success_sequence("profiler-count", resources))
    client = StackClient(cloudformation, _NoTargetGroups())
    stack_id = client.create(build_request(names.for_user("count"), open(TEMPLATE).read(), "hub"))
    seen, report = recorder()
    await watch(client, stack_id, "profiler-count", total=5, timeout=5, poll_interval=0.001,
                patience_interval=60, report=report)
    done_counts = [progress.done for progress in seen]
    assert done_counts == sorted(done_counts)
    assert [p.done for p in seen if "create complete" in p.message and "Stack" not in p.message] == [1, 2, 3, 4, 5]
    assert seen[-1].fraction == 1.0 and seen[-1].message == "Playground profiler-count is ready."


def test_events_are_counted_once_in_time_order_whatever_order_they_arrive_in():
    log = EventLog()
    first = event("s", "Vpc", "CREATE_COMPLETE", "AWS::EC2::VPC")
    second = event("s", "RunsTable", "CREATE_FAILED", "AWS::DynamoDB::Table", reason="Limit exceeded")
    assert [e["EventId"] for e in log.add([second, first], "s")] == [first["EventId"], second["EventId"]]
    assert log.add([second, first], "s") == []
    assert log.completed == {"Vpc"}
    assert log.failures == ["RunsTable (AWS::DynamoDB::Table): Limit exceeded"]


def test_a_template_without_resources_is_refused_clearly():
    with pytest.raises(PlaygroundError, match="declares no Resources"):
        build_request(names.for_user("x"), "Outputs: {}\n", "hub").total_resources  # noqa: B018 - reading it raises
    with pytest.raises(PlaygroundError, match="not valid YAML"):
        build_request(names.for_user("x"), "Resources: [\n", "hub").total_resources  # noqa: B018 - reading it raises


class _NoTargetGroups:
    """An ELBv2 double with no target groups (the scripted stacks never made one)."""

    def describe_target_groups(self, Names):  # boto3's parameter name
        raise client_error("TargetGroupNotFound", "One or more target groups not found", "DescribeTargetGroups")


async def test_a_timeout_on_a_stack_that_was_complete_once_never_deletes_it(tmp_path, moto_endpoint):
    # An update (by an admin, or a newer hub) still running when the user logs in, past our timeout.
    updating = [("UPDATE_IN_PROGRESS", [event("profiler-busy", "profiler-busy", "UPDATE_IN_PROGRESS")])]
    cloudformation = ScriptedCloudFormation(updating, existing="UPDATE_IN_PROGRESS", existing_owner="busy")
    cloudformation._frame = 0
    spawner = scripted_spawner("busy", tmp_path, moto_endpoint, cloudformation, playground_timeout=0.3,
                               stack_poll_interval=0.05)
    message, _ = await failed_spawn(spawner)
    assert "still update in progress after 0.3 s" in message
    assert cloudformation.deleted == []  # the user's data stays


class _StsStillPropagating:
    """STS refusing a brand-new role twice, as real IAM does for a few seconds after creating it."""

    def __init__(self, real, refusals: int):
        self.real, self.refusals = real, refusals

    def assume_role(self, **kwargs):
        if self.refusals:
            self.refusals -= 1
            raise client_error("AccessDenied", "User: arn:aws:iam::123456789012:user/hub is not authorized to "
                               "perform: sts:AssumeRole on resource: " + kwargs["RoleArn"], "AssumeRole")
        return self.real.assume_role(**kwargs)


@pytest.mark.slow  # waits out real retries
async def test_a_new_role_that_sts_refuses_for_a_moment_is_retried(tmp_path, moto_endpoint):
    real = AwsClients.connect("us-east-1", moto_endpoint)
    spawner = make_spawner(PlaygroundSpawner, "propagating", tmp_path, aws_endpoint_url=moto_endpoint,
                           role_propagation_wait=5.0,
                           aws=AwsClients(real.cloudformation, real.elbv2, real.dynamodb,
                                          _StsStillPropagating(real.sts, 2)))
    await spawner.start()
    await spawner.stop(now=True)
    assert spawner.aws.sts.refusals == 0


async def test_a_role_sts_keeps_refusing_fails_the_spawn_but_keeps_the_playground(tmp_path, moto_endpoint, aws):
    real = AwsClients.connect("us-east-1", moto_endpoint)
    spawner = make_spawner(PlaygroundSpawner, "refusedrole", tmp_path, aws_endpoint_url=moto_endpoint,
                           role_propagation_wait=0.5,
                           aws=AwsClients(real.cloudformation, real.elbv2, real.dynamodb,
                                          _StsStillPropagating(real.sts, 99)))
    message, _ = await failed_spawn(spawner)
    assert "AWS refused the hub's credentials while getting scoped credentials for your server" in message
    assert StackClient(aws("cloudformation"), aws("elbv2")).describe("profiler-refusedrole") is not None


async def test_create_failed_without_rollback_names_the_resource_and_is_removed(tmp_path, moto_endpoint):
    stack = "profiler-nofallback"
    frames = [
        ("CREATE_IN_PROGRESS", [event(stack, stack, "CREATE_IN_PROGRESS", reason="User Initiated")]),
        ("CREATE_FAILED", [
            event(stack, "ServerRole", "CREATE_FAILED", "AWS::IAM::Role",
                  reason="Resource handler returned message: \"User: arn:aws:iam::123456789012:user/hub is not "
                         "authorized to perform: iam:CreateRole\" (HandlerErrorCode: AccessDenied)"),
            event(stack, stack, "CREATE_FAILED", reason="The following resource(s) failed to create: [ServerRole]."),
        ]),
    ]
    cloudformation = ScriptedCloudFormation(frames)
    spawner = scripted_spawner("nofallback", tmp_path, moto_endpoint, cloudformation)
    message, _ = await failed_spawn(spawner)
    assert message.startswith("Creating your playground failed (create failed): ServerRole (AWS::IAM::Role): ")
    assert "iam:CreateRole" in message
    assert len(cloudformation.deleted) == 1
