"""What a user sees when they log in: their own playground, then their server with scoped access to it."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys

import pytest
from jupyterhub.spawner import SpawnException

from spawner import environment, names
from spawner.playground import STATE_KEY, STATE_VERSION, PlaygroundSpawner
from spawner.stacks import AwsClients, StackClient, build_request
from testing.support import REPO_ROOT
from tests.spawner.conftest import HUB_KEY_ID, HUB_SECRET
from tests.spawner.mocking import hub_start, hub_stop, make_spawner, server_environment


def spawner_for(username, tmp_path, moto_endpoint, server_name="", **traits):
    # The base spawner would pass these on: the playground spawner must strip them.
    traits.setdefault("env_keep", ["PATH", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"])
    traits.setdefault("environment", {"AWS_PROFILE": "hub-admin"})
    return make_spawner(PlaygroundSpawner, username, tmp_path, server_name=server_name,
                        aws_endpoint_url=moto_endpoint, **traits)


async def collect_progress(spawner):
    return [event async for event in spawner.progress()]


async def started(spawner):
    progress = asyncio.ensure_future(collect_progress(spawner))
    await asyncio.sleep(0)  # the spawn page usually subscribes while the spawn runs
    await spawner.start()
    return await progress


async def test_login_creates_the_users_playground_and_hands_its_names_to_the_server(tmp_path, moto_endpoint, aws):
    spawner = spawner_for("ada", tmp_path, moto_endpoint)
    events = await started(spawner)
    try:
        env = server_environment(spawner)
    finally:
        await spawner.stop(now=True)

    stack = aws("cloudformation").describe_stacks(StackName="profiler-ada")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    tags = {tag["Key"]: tag["Value"] for tag in stack["Tags"]}
    assert re.fullmatch("[0-9a-f]{16}", tags.pop("template"))  # which template made it
    assert tags == {"owner": "ada", "hub": "profiler-workbench", "created-by": "PlaygroundSpawner"}
    assert env[environment.STACK_NAME] == "profiler-ada"
    assert env[environment.LOADTEST_TABLE] == "profiler-ada-loadtest"
    assert env[environment.RUNS_TABLE] == "profiler-ada-runs"
    assert env[environment.AWS_ENDPOINT_URL] == moto_endpoint
    assert aws("dynamodb").describe_table(TableName=env[environment.LOADTEST_TABLE])["Table"]["TableStatus"] == "ACTIVE"

    # The spawn page saw the playground finish, with honest numbers, and the bar never went back.
    messages = [event["message"] for event in events]
    assert any("[5/5 resources, 100% of your playground]" in message for message in messages)
    bar = [event["progress"] for event in events if "progress" in event]
    assert bar == sorted(bar) and bar[-1] >= 90  # JupyterHub itself sends 100 when the server answers


async def test_the_server_never_gets_the_hubs_keys_only_scoped_refreshable_ones(tmp_path, moto_endpoint, aws):
    spawner = spawner_for("grace", tmp_path, moto_endpoint)
    await spawner.start()
    try:
        env = server_environment(spawner)
    finally:
        await spawner.stop(now=True)
    dumped = json.dumps(env)
    assert HUB_KEY_ID not in dumped and HUB_SECRET not in dumped and "hub-admin" not in dumped
    assert environment.AWS_ACCESS_KEY_ID not in env  # file delivery: the refreshable path, nothing static

    # The server's own boto3, configured only by that environment, acts as the stack's role, scoped.
    probe = (
        "import boto3, json; "
        "print(json.dumps(boto3.client('sts').get_caller_identity()['Arn'])); "
        "boto3.client('dynamodb').put_item(TableName='profiler-grace-loadtest', "
        "Item={'pk': {'S': 'k'}, 'sk': {'S': 's'}})"
    )
    user_env = {key: value for key, value in env.items() if key in environment.ALL or key in {"PATH", "HOME"}}
    result = subprocess.run([sys.executable, "-c", probe], env=user_env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == "arn:aws:sts::123456789012:assumed-role/profiler-grace-server/profiler-grace"
    item = aws("dynamodb").get_item(TableName="profiler-grace-loadtest", Key={"pk": {"S": "k"}, "sk": {"S": "s"}})
    assert "Item" in item


async def test_the_target_group_reads_a_deregistration_delay_of_zero_after_spawn(tmp_path, moto_endpoint, aws,
                                                                                 caplog):
    spawner = spawner_for("delay", tmp_path, moto_endpoint)
    spawner.log.addHandler(caplog.handler)  # the hub's log, as an admin reads it
    try:
        await spawner.start()
        await spawner.stop(now=True)
    finally:
        spawner.log.removeHandler(caplog.handler)
    arn = spawner.get_state()[STATE_KEY]["outputs"]["TargetGroupArn"]
    attributes = aws("elbv2").describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]
    assert {a["Key"]: a["Value"] for a in attributes}["deregistration_delay.timeout_seconds"] == "0"
    # moto ignored the template's attribute, so the repair was needed and logged.
    assert "deregistration_delay.timeout_seconds was '300', set to '0'" in caplog.text


async def test_a_second_login_a_restarted_hub_and_two_tabs_share_one_stack(tmp_path, moto_endpoint, aws):
    first = spawner_for("linus", tmp_path, moto_endpoint)
    second = spawner_for("linus", tmp_path, moto_endpoint, cmd=first.cmd)
    await asyncio.gather(first.start(), second.start())  # two servers of one user at once
    await asyncio.gather(first.stop(now=True), second.stop(now=True))
    state = first.get_state()
    assert state[STATE_KEY]["version"] == STATE_VERSION

    restarted = spawner_for("linus", tmp_path, moto_endpoint)  # a new hub process: state from its database
    restarted.load_state(state)
    events = await started(restarted)
    await restarted.stop(now=True)
    assert any("Found your playground profiler-linus" in event["message"] for event in events)
    assert restarted.get_state()[STATE_KEY]["stack_id"] == state[STATE_KEY]["stack_id"]
    stacks = [s for s in aws("cloudformation").list_stacks()["StackSummaries"]
              if s["StackName"] == "profiler-linus" and s["StackStatus"] != "DELETE_COMPLETE"]
    assert len(stacks) == 1


async def test_a_hub_killed_mid_spawn_leaves_a_stack_the_next_login_adopts(tmp_path, moto_endpoint, aws):
    # The crashed hub had created the stack but never saved the spawner's state.
    playground = names.for_user("crash")
    request = build_request(playground, open(PlaygroundSpawner.template_path.default_value).read(),
                            "profiler-workbench")
    clients = AwsClients.connect("us-east-1", moto_endpoint)
    crashed_stack = StackClient(clients.cloudformation, clients.elbv2).create(request)

    spawner = spawner_for("crash", tmp_path, moto_endpoint)  # no load_state: the state was lost
    await spawner.start()
    await spawner.stop(now=True)
    assert spawner.get_state()[STATE_KEY]["stack_id"] == crashed_stack


async def test_a_playground_an_earlier_release_named_keeps_its_name_and_its_data(tmp_path, moto_endpoint, aws):
    # Releases with a 32-bit hash named "Ada Lovelace"'s playground differently: it is still hers.
    legacy = names.for_user("Ada Lovelace", legacy=True)
    assert legacy.stack != names.for_user("Ada Lovelace").stack
    request = build_request(legacy, open(PlaygroundSpawner.template_path.default_value).read(), "profiler-workbench")
    clients = AwsClients.connect("us-east-1", moto_endpoint)
    StackClient(clients.cloudformation, clients.elbv2).create(request)
    aws("dynamodb").put_item(TableName=legacy.loadtest_table, Item={"pk": {"S": "kept"}, "sk": {"S": "1"}})

    spawner = spawner_for("Ada Lovelace", tmp_path, moto_endpoint)
    await spawner.start()
    try:
        env = server_environment(spawner)
        state = spawner.get_state()
    finally:
        await spawner.stop(now=True)
    assert env[environment.STACK_NAME] == legacy.stack and env[environment.LOADTEST_TABLE] == legacy.loadtest_table
    assert state[STATE_KEY]["stack_name"] == legacy.stack
    names_made = {s["StackName"] for s in aws("cloudformation").list_stacks()["StackSummaries"]
                  if s["StackStatus"] != "DELETE_COMPLETE"}
    assert names.for_user("Ada Lovelace").stack not in names_made  # no second playground beside hers

    # after a hub restart, the saved state alone keeps the old name
    again = spawner_for("Ada Lovelace", tmp_path, moto_endpoint)
    again.load_state(state)
    assert again.playground_names == legacy
    await again.delete_playground()


async def test_a_legacy_named_stack_of_someone_else_is_not_taken(tmp_path, moto_endpoint, aws):
    # "Eve Smith"'s old-style name is claimed by a stack owned by another user: Eve gets a new playground.
    legacy = names.for_user("Eve Smith", legacy=True)
    other = build_request(names.for_user("mallory"), open(PlaygroundSpawner.template_path.default_value).read(),
                          "profiler-workbench")
    aws("cloudformation").create_stack(
        StackName=legacy.stack, TemplateBody=other.template_body,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in other.parameters],
        Tags=[{"Key": k, "Value": v} for k, v in other.tags])
    spawner = spawner_for("Eve Smith", tmp_path, moto_endpoint)
    await spawner.start()
    try:
        assert server_environment(spawner)[environment.STACK_NAME] == names.for_user("Eve Smith").stack
    finally:
        await spawner.stop(now=True)
        # the other tests of this module share the AWS: leave no stack of mallory's nor Eve's behind
        await spawner.delete_playground()
        aws("cloudformation").delete_stack(StackName=legacy.stack)
        for group in aws("elbv2").describe_target_groups()["TargetGroups"]:
            if group["TargetGroupName"] == names.for_user("mallory").target_group:
                aws("elbv2").delete_target_group(TargetGroupArn=group["TargetGroupArn"])


async def test_a_stack_of_the_users_name_but_another_owner_is_neither_adopted_nor_deleted(tmp_path, moto_endpoint,
                                                                                           aws):
    mallory = build_request(names.for_user("mallory"), open(PlaygroundSpawner.template_path.default_value).read(),
                            "profiler-workbench")
    squatted = aws("cloudformation").create_stack(
        StackName=names.for_user("victim").stack, TemplateBody=mallory.template_body,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in mallory.parameters],
        Tags=[{"Key": k, "Value": v} for k, v in mallory.tags])["StackId"]

    spawner = spawner_for("victim", tmp_path, moto_endpoint)
    with pytest.raises(SpawnException, match="belongs to mallory, not to you: nothing was changed"):
        await spawner.start()
    (stack,) = aws("cloudformation").describe_stacks(StackName=squatted)["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"


async def test_poll_reports_running_while_the_playground_is_being_made(tmp_path, moto_endpoint):
    spawner = spawner_for("patient", tmp_path, moto_endpoint)
    assert await spawner.poll() == 0  # nothing started, nothing loaded
    start = asyncio.ensure_future(spawner.start())
    await asyncio.sleep(0.05)
    polled_during_start = await spawner.poll()
    await start
    await spawner.stop(now=True)
    assert polled_during_start is None


async def test_state_of_an_unknown_version_is_ignored_and_the_stack_found_by_name(tmp_path, moto_endpoint):
    spawner = spawner_for("future", tmp_path, moto_endpoint)
    spawner.load_state({STATE_KEY: {"version": 99, "stack_id": "arn:from-the-future"}})
    assert STATE_KEY not in spawner.get_state()
    await spawner.start()
    await spawner.stop(now=True)
    assert spawner.get_state()[STATE_KEY]["stack_id"].startswith("arn:aws:cloudformation")


async def test_keep_retention_keeps_the_playground_and_its_data_across_a_stop(tmp_path, moto_endpoint, aws):
    spawner = spawner_for("keeper", tmp_path, moto_endpoint)
    await spawner.start()
    aws("dynamodb").put_item(TableName="profiler-keeper-runs", Item={"pk": {"S": "run#1"}, "sk": {"S": "0"}})
    await spawner.stop(now=True)
    await spawner.run_post_stop_hook()
    assert not spawner.credential_files.directory.exists()  # credentials die with the server
    assert aws("dynamodb").scan(TableName="profiler-keeper-runs")["Count"] == 1


async def test_delete_retention_removes_the_playground_and_its_target_group_on_stop(tmp_path, moto_endpoint, aws):
    spawner = spawner_for("tidy", tmp_path, moto_endpoint, retention="delete")
    await spawner.start()
    await spawner.stop(now=True)
    await spawner.run_post_stop_hook()
    assert aws("dynamodb").list_tables()["TableNames"].count("profiler-tidy-loadtest") == 0
    assert not StackClient(aws("cloudformation"), aws("elbv2")).leftover_target_groups(names.for_user("tidy"))
    # and the next login makes a fresh one (no DuplicateTargetGroupName)
    await spawner.start()
    await spawner.stop(now=True)
    assert spawner.get_state()[STATE_KEY]["stack_name"] == "profiler-tidy"


async def test_deleting_the_user_deletes_their_playground_even_without_state(tmp_path, moto_endpoint, aws):
    spawner = spawner_for("leaver", tmp_path, moto_endpoint)
    await spawner.start()
    await spawner.stop(now=True)
    fresh = spawner_for("leaver", tmp_path, moto_endpoint)  # e.g. the hub restarted, state not loaded
    await fresh.delete_forever()
    assert StackClient(aws("cloudformation"), aws("elbv2")).describe("profiler-leaver") is None
    assert not StackClient(aws("cloudformation"), aws("elbv2")).leftover_target_groups(names.for_user("leaver"))


async def test_a_playground_made_by_an_earlier_template_is_updated_in_place_keeping_its_items(tmp_path, moto_endpoint,
                                                                                           aws):
    shipped = (REPO_ROOT / "stacks" / "playground.yaml").read_text()
    earlier = tmp_path / "earlier.yaml"
    earlier.write_text(shipped.replace("  VpcId:\n", "  EarlierOnly:\n    Value: earlier\n  VpcId:\n"))
    first = spawner_for("upgrader", tmp_path, moto_endpoint, template_path=str(earlier))
    await first.start()
    await first.stop(now=True)
    made = aws("cloudformation").describe_stacks(StackName="profiler-upgrader")["Stacks"][0]
    aws("dynamodb").put_item(TableName="profiler-upgrader-loadtest", Item={"pk": {"S": "kept"}, "sk": {"S": "1"}})

    upgraded = spawner_for("upgrader", tmp_path, moto_endpoint)  # the hub's new release, the shipped template
    await upgraded.start()
    messages = [event["message"] for event in await collect_progress(upgraded)]
    await upgraded.stop(now=True)
    stack = aws("cloudformation").describe_stacks(StackName="profiler-upgrader")["Stacks"][0]
    assert stack["StackId"] == made["StackId"] and stack["StackStatus"] == "UPDATE_COMPLETE"
    assert "EarlierOnly" not in {output["OutputKey"] for output in stack["Outputs"]}
    assert aws("dynamodb").scan(TableName="profiler-upgrader-loadtest")["Items"] == [
        {"pk": {"S": "kept"}, "sk": {"S": "1"}}]
    assert any("Updating your playground" in message and "items are kept" in message for message in messages), messages
    # and the next login finds it current: nothing more to update
    again = spawner_for("upgrader", tmp_path, moto_endpoint)
    await again.start()
    await again.stop(now=True)
    assert not any("Updating" in event["message"] for event in await collect_progress(again))


async def test_removing_a_named_server_keeps_the_users_playground(tmp_path, moto_endpoint, aws):
    default = spawner_for("keeper", tmp_path, moto_endpoint)
    await default.start()
    named = spawner_for("keeper", tmp_path, moto_endpoint, server_name="scratch", user=default.user)
    await named.start()
    await named.stop(now=True)
    await named.delete_forever()  # what JupyterHub calls for DELETE /users/keeper/servers/scratch {"remove": true}
    try:
        assert StackClient(aws("cloudformation"), aws("elbv2")).describe("profiler-keeper") is not None
        assert "profiler-keeper-loadtest" in aws("dynamodb").list_tables()["TableNames"]
        assert default.credential_files.read() is not None  # the default server's credentials are untouched
    finally:
        await default.stop(now=True)


@pytest.mark.parametrize("username", ["Zoë O'Brien", "bob@example.com", "😀", "x" * 60])
@pytest.mark.slow  # a playground per username
async def test_usernames_with_odd_characters_get_working_playgrounds(tmp_path, moto_endpoint, aws, username):
    spawner = spawner_for(username, tmp_path, moto_endpoint)
    await spawner.start()
    try:
        env = server_environment(spawner)
    finally:
        await spawner.stop(now=True)
    playground = names.for_user(username)
    assert env[environment.LOADTEST_TABLE] == playground.loadtest_table
    stack = aws("cloudformation").describe_stacks(StackName=playground.stack)["Stacks"][0]
    assert {tag["Key"]: tag["Value"] for tag in stack["Tags"]}["owner"] == username


def test_every_option_is_documented():
    options = [name for name, trait in PlaygroundSpawner.class_traits(config=True).items()
               if name in vars(PlaygroundSpawner.__mro__[1])]
    assert len(options) >= 12
    for name in options:
        help_text = PlaygroundSpawner.class_traits()[name].help
        assert len(help_text) > 40, f"{name} needs a real help text"


def test_a_bad_name_prefix_is_refused_when_configured():
    with pytest.raises(Exception, match="name prefix"):
        PlaygroundSpawner(name_prefix="Bad_Prefix")


def test_the_credentials_lifetime_is_checked_against_sts_limits():
    with pytest.raises(Exception, match="between 900 and 43200"):
        PlaygroundSpawner(credentials_duration=60)


async def test_a_missing_template_fails_the_spawn_with_its_path(tmp_path, moto_endpoint):
    missing = tmp_path / "missing.yaml"
    spawner = spawner_for("broken", tmp_path, moto_endpoint, template_path=str(missing))
    with pytest.raises(SpawnException, match="missing.yaml"):
        await spawner.start()


async def test_a_restarted_hub_resumes_refreshing_a_running_servers_credentials(tmp_path, moto_endpoint):
    spawner = spawner_for("resume", tmp_path, moto_endpoint)
    await spawner.start()
    try:
        restarted = spawner_for("resume", tmp_path, moto_endpoint)
        restarted.load_state(spawner.get_state())
        spawner._stop_refresh()  # the old hub process is gone
        assert await restarted.poll() is None  # the server still runs
        assert restarted._refresh_task is not None and not restarted._refresh_task.done()
        restarted._stop_refresh()
    finally:
        await spawner.stop(now=True)


async def test_the_spawn_page_never_shows_the_previous_spawns_end(tmp_path, moto_endpoint):
    spawner = spawner_for("again", tmp_path, moto_endpoint)
    await spawner.start()
    await spawner.stop(now=True)
    await spawner.run_pre_spawn_hook()  # a new spawn begins; the page subscribes before start() runs
    page = asyncio.ensure_future(collect_progress(spawner))
    await asyncio.sleep(0.2)
    assert not page.done()
    await spawner.start()
    await spawner.stop(now=True)
    assert any("Preparing your playground" in event["message"] for event in await page)


def test_each_named_server_has_its_own_credential_files(tmp_path, moto_endpoint):
    default = spawner_for("multi", tmp_path, moto_endpoint)
    named = spawner_for("multi", tmp_path, moto_endpoint, server_name="lab2")
    assert default.credential_files.directory != named.credential_files.directory
    assert default.credential_files.directory.parent == named.credential_files.directory.parent


@pytest.mark.slow  # two servers' spawns and stops
async def test_delete_retention_waits_for_the_users_last_server(tmp_path, moto_endpoint, aws):
    first = spawner_for("twoservers", tmp_path, moto_endpoint, retention="delete")
    second = make_spawner(PlaygroundSpawner, "twoservers", tmp_path, user=first.user, server_name="lab2",
                          aws_endpoint_url=moto_endpoint, retention="delete")
    await hub_start(first)
    await hub_start(second)
    await hub_stop(first)
    stacks = StackClient(aws("cloudformation"), aws("elbv2"))
    assert stacks.describe("profiler-twoservers") is not None  # lab2 still uses it
    await hub_stop(second)
    assert stacks.describe("profiler-twoservers") is None
