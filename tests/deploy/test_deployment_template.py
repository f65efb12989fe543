"""stacks/deployment.yaml read as a reviewer would: lint-clean, scanned for security findings, and saying what it
promises (health check, drain time, who may reach what, what the hub's role may touch).

The security scanner is cfripper (CloudFormation rules: IAM wildcards and privilege escalation, open security
groups, public load balancers, hard-coded passwords, KMS trust). checkov 3.3.30, the first choice, pins
``boto3==1.35.49`` and ``packaging<24`` (``pip install --dry-run checkov`` would downgrade boto3 1.44 and
packaging 26), so it cannot share this environment. A finding is accepted only where the template says why, in the
resource's ``Metadata.cfripper.skip`` (rule + reason).
"""

from __future__ import annotations

import json

import pytest
import yaml
from cfn_flip import to_json
from cfnlint.api import lint_all
from cfripper.cli import init_cfripper
from cfripper.model.result import Result
from jupyterhub.handlers import pages
from pycfmodel import parse

from spawner import drift
from spawner.stacks import _AnyTagLoader
from testing.support import REPO_ROOT

TEMPLATE_PATH = REPO_ROOT / "stacks" / "deployment.yaml"
TEMPLATE = TEMPLATE_PATH.read_text()
RESOURCES = json.loads(to_json(TEMPLATE))["Resources"]
ACCOUNT = "123456789012"
REGION = "us-east-1"
REQUIRED = {"HubDomainName": "workbench.example.org", "HostedZoneId": "Z0123456789ABCDEFGHIJ",
            "CertificateArn": f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/0f0f0f0f-aaaa-bbbb-cccc-0123456789ab"}
VARIANTS = [{"Compute": compute, "DatabaseEngine": engine}
            for compute in ("eks", "single-host") for engine in ("postgres", "aurora-postgresql")]


def test_cfn_lint_finds_no_error_or_warning():
    problems = [str(match) for match in lint_all(TEMPLATE) if match.rule.id[0] in "EW"]
    assert problems == []


def test_every_parameter_is_documented():
    parameters = yaml.load(TEMPLATE, Loader=_AnyTagLoader)["Parameters"]
    undocumented = [name for name, spec in parameters.items() if len(spec.get("Description", "")) < 20]
    assert undocumented == []


# --- the security scan --------------------------------------------------------------------------------------------
def _as_deployed(template):
    """``Fn::GetAZs`` evaluated as CloudFormation would in REGION: cfripper's resolver does not implement it
    (``Fn::Select`` over it raised KeyError: 0 in cfripper 1.22.1)."""
    if isinstance(template, list):
        return [_as_deployed(item) for item in template]
    if not isinstance(template, dict):
        return template
    if set(template) == {"Fn::GetAZs"}:
        return [f"{REGION}a", f"{REGION}b"]
    return {key: _as_deployed(value) for key, value in template.items()}


def justified_skips() -> set[tuple[str, str]]:
    """(rule, resource) pairs the template accepts, each with its reason written beside the resource."""
    skips = set()
    for logical_id, resource in RESOURCES.items():
        for skip in resource.get("Metadata", {}).get("cfripper", {}).get("skip", []):
            assert len(skip.get("reason", "")) >= 30, f"{logical_id}: {skip['rule']} is skipped without a reason"
            skips.add((skip["rule"], logical_id))
    return skips


def scan(parameters: dict[str, str]) -> Result:
    template = _as_deployed(json.loads(to_json(TEMPLATE)))
    model = parse(template).resolve(extra_params={**REQUIRED, **parameters, "AWS::Region": REGION,
                                                  "AWS::AccountId": ACCOUNT})
    config, processor = init_cfripper(None, None, ACCOUNT, None)  # every rule cfripper has
    return processor.process_cf_template(model, config)


@pytest.mark.parametrize("parameters", VARIANTS, ids=lambda v: f"{v['Compute']}-{v['DatabaseEngine']}")
def test_the_security_scan_finds_nothing_the_template_does_not_justify(parameters):
    result = scan(parameters)
    accepted = justified_skips()
    crashed = [failure.reason for failure in result.failures if "crashed" in failure.reason]
    findings = sorted({(failure.rule, resource, failure.reason) for failure in result.failures
                       for resource in (failure.resource_ids or {"<template>"})
                       if (failure.rule, resource) not in accepted})
    assert crashed == []
    assert findings == []


def test_every_justified_skip_still_matches_a_finding():
    """A justification whose finding went away is stale: it would silently excuse a future one."""
    found = {(failure.rule, resource) for parameters in VARIANTS for failure in scan(parameters).failures
             for resource in failure.resource_ids or ()}
    assert justified_skips() - found == set()


# --- what the template promises ---------------------------------------------------------------------------------
def properties(logical_id: str) -> dict:
    return RESOURCES[logical_id]["Properties"]


def test_the_health_check_is_the_path_jupyterhub_serves_without_a_login():
    hub_paths = [pattern for pattern, *_ in pages.default_handlers]
    target_group = properties("HubTargetGroup")
    # JupyterHub mounts its pages under {base_url}hub/; the hub is served at base_url "/".
    assert "/health$" in hub_paths
    assert target_group["HealthCheckPath"] == "/hub/health"
    assert target_group["Matcher"] == {"HttpCode": "200"}


def test_the_hub_target_group_drains_in_zero_seconds_under_the_exact_key():
    attributes = properties("HubTargetGroup")["TargetGroupAttributes"]
    assert {"Key": drift.DEREGISTRATION_DELAY, "Value": drift.EXPECTED_DELAY} in attributes


def test_http_only_redirects_to_https_and_https_uses_the_certificate_parameter():
    redirect = properties("HttpRedirectListener")
    assert redirect["Port"] == 80 and [action["Type"] for action in redirect["DefaultActions"]] == ["redirect"]
    assert redirect["DefaultActions"][0]["RedirectConfig"]["Protocol"] == "HTTPS"
    https = properties("HttpsListener")
    assert https["Protocol"] == "HTTPS" and https["Certificates"] == [{"CertificateArn": {"Ref": "CertificateArn"}}]


def ingress_sources(logical_id: str) -> list:
    rules = []
    for rule in properties(logical_id)["SecurityGroupIngress"]:
        rules += rule["Fn::If"][1:] if "Fn::If" in rule else [rule]
    return [rule.get("SourceSecurityGroupId", rule.get("CidrIp")) for rule in rules]


def test_only_the_load_balancer_reaches_the_hub_and_only_the_hub_side_reaches_the_data():
    assert ingress_sources("HubSecurityGroup") == [{"Ref": "LoadBalancerSecurityGroup"}]
    cluster = {"Fn::GetAtt": ["EksCluster", "ClusterSecurityGroupId"]}
    assert ingress_sources("HubDatabaseSecurityGroup") == [cluster, {"Ref": "HubSecurityGroup"}]
    assert set(map(json.dumps, ingress_sources("DataSecurityGroup"))) == {
        json.dumps(cluster), json.dumps({"Ref": "HubSecurityGroup"})}
    for data in ("HubDatabase", "DataDatabase", "HubDatabaseClusterInstance", "DataDatabaseClusterInstance"):
        assert properties(data)["PubliclyAccessible"] is False


def test_no_password_is_a_parameter_and_every_database_password_is_generated():
    parameters = yaml.load(TEMPLATE, Loader=_AnyTagLoader)["Parameters"]
    assert not [name for name in parameters if "password" in name.lower() or "secret" in name.lower()]
    for database in ("HubDatabase", "DataDatabase", "HubDatabaseCluster", "DataDatabaseCluster"):
        password = properties(database)["MasterUserPassword"]["Fn::Sub"]
        assert password.startswith("{{resolve:secretsmanager:${") and password.endswith(":SecretString:password}}")
    for secret in ("CookieSecret", "HubDatabaseSecret", "DataDatabaseSecret", "CacheSecret"):
        assert "GenerateSecretString" in properties(secret) and "SecretString" not in properties(secret)


def statements(logical_id: str) -> list[dict]:
    return properties(logical_id)["PolicyDocument"]["Statement"]


def test_the_hub_role_writes_only_resources_named_with_the_playground_prefix():
    read_only = ("Describe", "List", "Get")
    for statement in statements("PlaygroundsPolicy"):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resource = statement["Resource"]
        if resource == "*":
            assert all(action.split(":")[1].startswith(read_only) for action in actions), statement["Sid"]
            continue
        arn = resource["Fn::Sub"]
        assert "${PlaygroundNamePrefix}-" in arn or arn.endswith(":vpc/*"), statement["Sid"]
        if arn.endswith(":vpc/*") or "cloudformation" in arn and not actions[0].startswith("cloudformation:Describe"):
            # creating a stack or a VPC needs the hub tag on the request; changing one needs it on the resource
            assert statement["Condition"] in ({"StringEquals": {"aws:RequestTag/hub": {"Ref": "HubId"}}},
                                              {"StringEquals": {"aws:ResourceTag/hub": {"Ref": "HubId"}}})



def test_the_hub_may_write_a_server_role_only_while_it_carries_the_playground_boundary():
    role_writes = {"iam:CreateRole", "iam:PutRolePolicy", "iam:PutRolePermissionsBoundary", "iam:AttachRolePolicy"}
    for statement in statements("PlaygroundsPolicy"):
        if role_writes & set(statement["Action"]):
            assert statement["Condition"] == {
                "StringEquals": {"iam:PermissionsBoundary": {"Ref": "PlaygroundServerBoundary"}}}
    boundary = statements("PlaygroundServerBoundary")
    assert all("*" not in action for statement in boundary for action in statement["Action"])
    arns = [resource["Fn::Sub"] for statement in boundary for resource in
            (statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]])]
    assert arns and all("/${PlaygroundNamePrefix}-*" in arn for arn in arns)
