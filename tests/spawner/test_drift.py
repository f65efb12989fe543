"""After create or adopt, what the template promised is checked against the live resources and repaired."""

from __future__ import annotations

import uuid

from spawner import drift

TAGS = {"owner": "drifter", "hub": "test-hub", "created-by": "PlaygroundSpawner"}


def make_target_group(aws) -> str:
    ec2, elbv2 = aws("ec2"), aws("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    name = "drift-" + uuid.uuid4().hex[:8]
    return elbv2.create_target_group(Name=name, Protocol="HTTP", Port=8888, VpcId=vpc,
                                     TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]


def make_table(aws, **billing) -> str:
    name = "drift-" + uuid.uuid4().hex[:8]
    aws("dynamodb").create_table(TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                                 AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], **billing)
    return name


def delay_of(aws, arn) -> str:
    attributes = aws("elbv2").describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]
    return {a["Key"]: a["Value"] for a in attributes}[drift.DEREGISTRATION_DELAY]


def test_a_target_group_draining_for_300_s_is_set_to_0_and_the_repair_reported(aws):
    arn = make_target_group(aws)
    assert delay_of(aws, arn) == "300"
    repairs = drift.repair_target_group(aws("elbv2"), arn, TAGS)
    assert delay_of(aws, arn) == "0"
    assert repairs[0].endswith("deregistration_delay.timeout_seconds was '300', set to '0'")
    tags = aws("elbv2").describe_tags(ResourceArns=[arn])["TagDescriptions"][0]["Tags"]
    assert {t["Key"]: t["Value"] for t in tags} == TAGS


def test_a_playground_as_promised_needs_no_repair(aws):
    arn = make_target_group(aws)
    drift.repair_target_group(aws("elbv2"), arn, TAGS)
    assert drift.repair_target_group(aws("elbv2"), arn, TAGS) == []


def test_a_provisioned_table_goes_back_to_on_demand(aws):
    table = make_table(aws, ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1})
    assert drift.repair_table(aws("dynamodb"), table) == [f"table {table}: billing mode was PROVISIONED, "
                                                          "set to PAY_PER_REQUEST"]
    description = aws("dynamodb").describe_table(TableName=table)["Table"]
    assert description["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert drift.repair_table(aws("dynamodb"), make_table(aws, BillingMode="PAY_PER_REQUEST")) == []
