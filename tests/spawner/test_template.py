"""stacks/playground.yaml: lint-clean, tagged, and making exactly the names the hub side computes."""

from __future__ import annotations

import pytest
import yaml
from cfnlint.api import lint_all

from spawner import drift, names
from spawner.playground import DEFAULT_TEMPLATE
from spawner.stacks import _AnyTagLoader, build_request, outputs_of



TEMPLATE = DEFAULT_TEMPLATE.read_text()
REQUIRED_TAGS = {"owner", "hub", "created-by"}
OUTPUTS_THE_SPAWNER_READS = {"LoadTestTableName", "LoadTestTableArn", "RunsTableName", "RunsTableArn",
                             "TargetGroupArn", "ServerRoleArn"}


class _KeepTags(yaml.SafeLoader):
    """Keeps ``!Sub``/``!Ref`` values as (tag, value) so the test can read what a property refers to."""


_KeepTags.add_multi_constructor("!", lambda loader, tag, node: (tag, loader.construct_scalar(node))
                                if isinstance(node, yaml.ScalarNode) else (tag, None))
parsed = yaml.load(TEMPLATE, Loader=_KeepTags)  # a SafeLoader subclass


def test_cfn_lint_finds_no_error_or_warning():
    problems = [match for match in lint_all(TEMPLATE) if match.rule.id[0] in "EW"]
    assert problems == []


@pytest.mark.parametrize("logical_id", sorted(parsed["Resources"]))
def test_every_resource_carries_the_owner_hub_and_creator_tags(logical_id):
    tags = {tag["Key"] for tag in parsed["Resources"][logical_id]["Properties"]["Tags"]}
    assert REQUIRED_TAGS <= tags


def test_the_target_group_drains_in_zero_seconds_under_the_key_the_drift_check_reads():
    # cfn-lint (1.58) accepted a misspelled target-group attribute key, so the exact key is checked here.
    attributes = parsed["Resources"]["TargetGroup"]["Properties"]["TargetGroupAttributes"]
    assert {"Key": drift.DEREGISTRATION_DELAY, "Value": drift.EXPECTED_DELAY} in attributes


def test_tables_are_on_demand():
    for table in ("LoadTestTable", "RunsTable"):
        assert parsed["Resources"][table]["Properties"]["BillingMode"] == "PAY_PER_REQUEST"


def test_the_server_role_reaches_only_this_stacks_tables_and_target_group():
    policy = parsed["Resources"]["ServerRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    resources = [resource for statement in policy["Statement"] for resource in
                 (statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]])]
    assert resources == [("GetAtt", "LoadTestTable.Arn"), ("Sub", "${LoadTestTable.Arn}/index/*"),
                         ("GetAtt", "RunsTable.Arn"), ("Sub", "${RunsTable.Arn}/index/*"),
                         ("Ref", "TargetGroup")]
    assert all("*" not in action for statement in policy["Statement"] for action in statement["Action"])


def test_the_template_outputs_everything_the_spawner_reads():
    assert OUTPUTS_THE_SPAWNER_READS <= set(parsed["Outputs"])


def test_the_counted_resources_are_the_templates_resources():
    assert build_request(names.for_user("a"), TEMPLATE, "h").total_resources == len(parsed["Resources"]) == 5
    assert yaml.load(TEMPLATE, Loader=_AnyTagLoader)["Resources"].keys() == parsed["Resources"].keys()


@pytest.mark.parametrize("username", ["alice", "Émile Zola the Second"])
def test_the_stack_makes_the_names_spawner_names_computes(aws, username):
    playground = names.for_user(username, prefix="tpl")
    request = build_request(playground, TEMPLATE, "test-hub")
    cloudformation = aws("cloudformation")
    cloudformation.create_stack(
        StackName=playground.stack, TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_NAMED_IAM"],
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in request.parameters])
    try:
        outputs = outputs_of(cloudformation.describe_stacks(StackName=playground.stack)["Stacks"][0])
        assert outputs["LoadTestTableName"] == playground.loadtest_table
        assert outputs["RunsTableName"] == playground.runs_table
        assert outputs["ServerRoleArn"].endswith(":role/" + playground.role)
        assert f":targetgroup/{playground.target_group}/" in outputs["TargetGroupArn"]
    finally:
        cloudformation.delete_stack(StackName=playground.stack)
        for group in aws("elbv2").describe_target_groups(Names=[playground.target_group])["TargetGroups"]:
            aws("elbv2").delete_target_group(TargetGroupArn=group["TargetGroupArn"])
