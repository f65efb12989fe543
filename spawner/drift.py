"""After create or adopt: check through the service APIs that the playground is what the template promises.

CloudFormation (and moto, which ignores some template properties) can leave a resource different from its
template: moto's target groups keep the 300 s deregistration delay and lose their tags. Each check reads the
live resource, repairs what differs and returns one line per repair for the hub's log.
"""

from __future__ import annotations

from typing import Any, Mapping

DEREGISTRATION_DELAY = "deregistration_delay.timeout_seconds"
EXPECTED_DELAY = "0"
ON_DEMAND = "PAY_PER_REQUEST"


def repair_target_group(elbv2: Any, target_group_arn: str, tags: Mapping[str, str]) -> list[str]:
    repairs: list[str] = []
    attributes = {
        item["Key"]: item["Value"]
        for item in elbv2.describe_target_group_attributes(TargetGroupArn=target_group_arn)["Attributes"]
    }
    if attributes.get(DEREGISTRATION_DELAY) != EXPECTED_DELAY:
        elbv2.modify_target_group_attributes(
            TargetGroupArn=target_group_arn,
            Attributes=[{"Key": DEREGISTRATION_DELAY, "Value": EXPECTED_DELAY}],
        )
        repairs.append(
            f"target group {target_group_arn}: {DEREGISTRATION_DELAY} was {attributes.get(DEREGISTRATION_DELAY)!r}, "
            f"set to {EXPECTED_DELAY!r}"
        )
    descriptions = elbv2.describe_tags(ResourceArns=[target_group_arn])["TagDescriptions"]
    present = {tag["Key"]: tag["Value"] for tag in (descriptions[0]["Tags"] if descriptions else [])}
    missing = {key: value for key, value in tags.items() if present.get(key) != value}
    if missing:
        elbv2.add_tags(ResourceArns=[target_group_arn], Tags=[{"Key": k, "Value": v} for k, v in missing.items()])
        repairs.append(f"target group {target_group_arn}: tags {sorted(missing)} were missing, added")
    return repairs


def repair_table(dynamodb: Any, table_name: str) -> list[str]:
    table = dynamodb.describe_table(TableName=table_name)["Table"]
    mode = table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
    if mode != ON_DEMAND:
        dynamodb.update_table(TableName=table_name, BillingMode=ON_DEMAND)
        return [f"table {table_name}: billing mode was {mode}, set to {ON_DEMAND}"]
    return []


def check_and_repair(elbv2: Any, dynamodb: Any, outputs: Mapping[str, str], tags: Mapping[str, str]) -> list[str]:
    """Repair every difference found; returns what was repaired (empty when the playground was as promised)."""
    repairs = repair_target_group(elbv2, outputs["TargetGroupArn"], tags)
    for key in ("LoadTestTableName", "RunsTableName"):
        repairs += repair_table(dynamodb, outputs[key])
    return repairs
