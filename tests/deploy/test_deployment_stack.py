"""stacks/deployment.yaml created, updated and deleted on the local AWS (a moto server), every output read back
through the service that owns it; and a user's playground made inside the deployment's VPC.

What the local AWS (moto 5.2.6) cannot model, each measured here by trying it (:data:`NOT_MODELLED` and the tests
that pin each gap, so a moto that learns one makes its test fail and the gap is checked again):

- EKS: moto's CloudFormation has no EKS types; Compute=eks fails with "Fn::GetAtt references undefined resource
  EksCluster". The single-host compute is what is deployed here.
- Aurora: no ``AWS::RDS::DBCluster`` model; DatabaseEngine=aurora-postgresql fails (HTTP 500, KeyError
  'aurora-postgresql' in moto's RDS when it creates the cluster's instance without its cluster).
- Target group attributes from a template are ignored: ``deregistration_delay.timeout_seconds`` reads moto's
  default 300, not the template's 0 (the spawner's drift repair sets it afterwards for playgrounds).
- The target group's ``Targets`` are not registered either: on single-host, the hub's host is not in
  ``describe_target_health`` (it lists nobody).
- The instance's ``MetadataOptions`` are ignored: the hub's host reads ``HttpTokens: optional``, not the
  template's ``required`` (IMDSv2 only).
- The load balancer's ``CanonicalHostedZoneID`` is not implemented (moto logs the GetAtt and gives nothing), so
  the Route 53 aliases are checked by name and target DNS name only.
- ``{{resolve:secretsmanager:...}}`` dynamic references are not resolved: the databases get the literal reference
  as master user name (read back below), where AWS would use the generated secret's values.
- Secrets Manager secrets and ElastiCache have a service but no CloudFormation model in moto:
  :mod:`tests.deploy.moto_resources` creates them through moto's own service backends.
- An update evaluates conditioned-out resources too (``EksLoadBalancerIngress`` on single-host when ``HubPort``
  changes: "references undefined resource EksCluster"); an update of the RDS instances loses them ("Fn::GetAtt
  references undefined resource DataDatabase" after DatabaseStorageGiB changed); and after an update the outputs
  of the resources it touched are missing (VpcId and HubHostId after HubId changed). The update here changes
  HubId; even then the hub's managed policy keeps its old document (IAM still reads the old hub id), so the
  update is checked for its status and the outputs moto keeps.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

from hub.settings import WorkbenchSettings
from spawner import names
from spawner.stacks import build_request, outputs_of
from testing.support import REPO_ROOT, free_port, wait_for

REGION = "us-east-1"
TEMPLATE = (REPO_ROOT / "stacks" / "deployment.yaml").read_text()
PLAYGROUND = (REPO_ROOT / "stacks" / "playground.yaml").read_text()
DOMAIN = "workbench.example.org"
EXPECTED_OUTPUTS = {"HubUrl", "LoadBalancerDnsName", "HubTargetGroupArn", "VpcId", "PrivateSubnetIds",
                    "HubDatabaseEndpoint", "DataDatabaseEndpoint", "CacheEndpoint", "CookieSecretArn",
                    "HubDatabaseSecretArn", "DataDatabaseSecretArn", "CacheSecretArn", "HubRoleArn", "HubHostId",
                    "PlaygroundPermissionsBoundaryArn", "HubDatabaseCidrs", "DataCidrs"}
NOT_MODELLED = {"deregistration_delay.timeout_seconds": "300"}


# A moto server in a process of its own, with the models of :mod:`tests.deploy.moto_resources`: moto keeps its
# state per process, and the stacks it cannot model stay broken in it (listing every stack then fails), so they
# must not reach the in-process moto servers that other tests of this process use.
SERVE = ("import sys; from tests.deploy import moto_resources; moto_resources.register(); "
         "from moto.server import main; main(['-H', '127.0.0.1', '-p', sys.argv[1]])")


@pytest.fixture(scope="module")
def aws(tmp_path_factory):
    port = free_port()
    log_path = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen([sys.executable, "-c", SERVE, str(port)], cwd=REPO_ROOT, stdout=log,
                                  stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: server.poll() is None and requests.get(f"{endpoint}/moto-api/", timeout=2).ok, 60,
                 f"moto on {endpoint} (log: {log_path})", interval=0.2)
        session = boto3.session.Session(region_name=REGION, aws_access_key_id="deploy-test",
                                        aws_secret_access_key="deploy-test-secret")
        yield lambda service: session.client(service, endpoint_url=endpoint)
    finally:
        server.terminate()
        server.wait(30)


@pytest.fixture(scope="module")
def zone_and_certificate(aws):
    zone = aws("route53").create_hosted_zone(Name="example.org", CallerReference="deploy-test")["HostedZone"]["Id"]
    certificate = aws("acm").request_certificate(DomainName=DOMAIN, SubjectAlternativeNames=[f"*.{DOMAIN}"])
    return zone.split("/")[-1], certificate["CertificateArn"]


def parameters(zone_and_certificate, **overrides) -> list[dict]:
    zone, certificate = zone_and_certificate
    values = {"HubDomainName": DOMAIN, "HostedZoneId": zone, "CertificateArn": certificate,
              "Compute": "single-host", "DatabaseEngine": "postgres", **overrides}
    return [{"ParameterKey": key, "ParameterValue": value} for key, value in values.items()]


def create(aws, name: str, zone_and_certificate, **overrides) -> dict:
    aws("cloudformation").create_stack(StackName=name, TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_IAM"],
                                       Parameters=parameters(zone_and_certificate, **overrides))
    return aws("cloudformation").describe_stacks(StackName=name)["Stacks"][0]


def check_outputs(aws, outputs: dict[str, str], zone: str) -> None:
    assert set(outputs) == EXPECTED_OUTPUTS
    assert outputs["HubUrl"] == f"https://{DOMAIN}"
    elbv2, ec2, rds = aws("elbv2"), aws("ec2"), aws("rds")

    (balancer,) = [lb for lb in elbv2.describe_load_balancers()["LoadBalancers"]
                   if lb["DNSName"] == outputs["LoadBalancerDnsName"]]
    assert balancer["Scheme"] == "internet-facing" and balancer["VpcId"] == outputs["VpcId"]
    listeners = {item["Port"]: item for item in
                 elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]}
    assert listeners[443]["Protocol"] == "HTTPS"
    assert listeners[443]["DefaultActions"][0]["TargetGroupArn"] == outputs["HubTargetGroupArn"]
    assert listeners[80]["DefaultActions"][0]["RedirectConfig"]["Protocol"] == "HTTPS"

    (group,) = elbv2.describe_target_groups(TargetGroupArns=[outputs["HubTargetGroupArn"]])["TargetGroups"]
    assert (group["HealthCheckPath"], group["Port"], group["VpcId"]) == ("/hub/health", 8000, outputs["VpcId"])
    health = elbv2.describe_target_health(TargetGroupArn=outputs["HubTargetGroupArn"])["TargetHealthDescriptions"]
    # moto does not register a template's Targets (see the list above): when it does, this lists the hub's host.
    assert [target["Target"]["Id"] for target in health] == []
    attributes = {item["Key"]: item["Value"] for item in
                  elbv2.describe_target_group_attributes(TargetGroupArn=outputs["HubTargetGroupArn"])["Attributes"]}
    # moto keeps its default here (see NOT_MODELLED): when it starts honouring the template, this reads "0".
    assert attributes["deregistration_delay.timeout_seconds"] == NOT_MODELLED["deregistration_delay.timeout_seconds"]

    private = outputs["PrivateSubnetIds"].split(",")
    subnets = ec2.describe_subnets(SubnetIds=private)["Subnets"]
    assert {subnet["VpcId"] for subnet in subnets} == {outputs["VpcId"]}
    assert len({subnet["AvailabilityZone"] for subnet in subnets}) == 2
    assert not any(subnet["MapPublicIpOnLaunch"] for subnet in subnets)

    hub_ranges, data_ranges = outputs["HubDatabaseCidrs"].split(","), outputs["DataCidrs"].split(",")
    compute_ranges = {subnet["CidrBlock"] for subnet in subnets}
    assert len(set(hub_ranges) | set(data_ranges) | compute_ranges) == 6  # three pairs, none shared
    for output, database_name, ranges in (("HubDatabaseEndpoint", "jupyterhub", hub_ranges),
                                          ("DataDatabaseEndpoint", "workbench", data_ranges)):
        (database,) = [db for db in rds.describe_db_instances()["DBInstances"]
                       if db["Endpoint"]["Address"] == outputs[output]]
        assert (database["DBName"], database["Engine"], database["PubliclyAccessible"]) == (
            database_name, "postgres", False)
        assert database["StorageEncrypted"] and database["MultiAZ"]
        database_subnets = [subnet["SubnetIdentifier"] for subnet in database["DBSubnetGroup"]["Subnets"]]
        assert sorted(subnet["CidrBlock"] for subnet in ec2.describe_subnets(SubnetIds=database_subnets)[
            "Subnets"]) == sorted(ranges)
        assert database["MasterUsername"].startswith("{{resolve:secretsmanager:")  # not resolved: NOT_MODELLED

    (cache,) = [group for group in aws("elasticache").describe_replication_groups()["ReplicationGroups"]
                if group["NodeGroups"][0]["PrimaryEndpoint"]["Address"] == outputs["CacheEndpoint"]]
    assert cache["TransitEncryptionEnabled"] and cache["AtRestEncryptionEnabled"] and cache["AuthTokenEnabled"]

    secrets = aws("secretsmanager")
    cookie = secrets.get_secret_value(SecretId=outputs["CookieSecretArn"])["SecretString"]
    assert len(cookie) == 64 and cookie.isalnum()
    for output, user in (("HubDatabaseSecretArn", "workbench_hub"), ("DataDatabaseSecretArn", "workbench_admin")):
        secret = json.loads(secrets.get_secret_value(SecretId=outputs[output])["SecretString"])
        assert secret["username"] == user and len(secret["password"]) == 40 and secret["password"].isalnum()

    boundary = aws("iam").get_policy(PolicyArn=outputs["PlaygroundPermissionsBoundaryArn"])["Policy"]
    assert boundary["Arn"] == outputs["PlaygroundPermissionsBoundaryArn"]

    (reservation,) = ec2.describe_instances(InstanceIds=[outputs["HubHostId"]])["Reservations"]
    (host,) = reservation["Instances"]
    assert host["SubnetId"] in private and "PublicIpAddress" not in host
    assert host["MetadataOptions"]["HttpTokens"] == "optional"  # the template's "required" is ignored: see above
    user_data = ec2.describe_instance_attribute(InstanceId=outputs["HubHostId"], Attribute="userData")
    settings = dict(line.strip().split("=", 1) for line in base64.b64decode(user_data["UserData"]["Value"]).decode()
                    .splitlines() if line.strip().startswith("WORKBENCH_"))
    known = {f"WORKBENCH_{name.upper()}" for name in WorkbenchSettings.class_trait_names(config=True)}
    assert settings.keys() <= known, settings.keys() - known
    assert settings["WORKBENCH_PUBLIC_URL"] == outputs["HubUrl"] and settings["WORKBENCH_LOCAL_AWS"] == "false"
    assert (settings["WORKBENCH_PLAYGROUND_VPC_ID"], settings["WORKBENCH_PLAYGROUND_SUBNET_IDS"],
            settings["WORKBENCH_PLAYGROUND_PERMISSIONS_BOUNDARY"]) == (
        outputs["VpcId"], outputs["PrivateSubnetIds"], outputs["PlaygroundPermissionsBoundaryArn"])
    profile = aws("iam").get_instance_profile(InstanceProfileName=host["IamInstanceProfile"]["Arn"].split("/")[-1])
    assert [role["Arn"] for role in profile["InstanceProfile"]["Roles"]] == [outputs["HubRoleArn"]]
    groups = {group["GroupId"]: group for group in ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [outputs["VpcId"]]}])["SecurityGroups"]}

    def sources(group) -> set[str]:
        return {pair["GroupId"] for rule in group["IpPermissions"] for pair in rule["UserIdGroupPairs"]} | {
            ip["CidrIp"] for rule in group["IpPermissions"] for ip in rule["IpRanges"]}

    (balancer_group,) = balancer["SecurityGroups"]
    assert sources(groups[balancer_group]) == {"0.0.0.0/0"}
    (hub_group,) = [key for key, group in groups.items() if sources(group) == {balancer_group}]
    data_groups = [key for key, group in groups.items() if sources(group) == {hub_group}]
    assert len(data_groups) == 2  # the hub database's and the workbench data's (with the cache)
    assert {key for key in groups if key not in {balancer_group, hub_group, *data_groups}} <= {
        key for key, group in groups.items() if group["GroupName"] == "default"}

    zone_records = aws("route53").list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    # Route 53 spells the wildcard's "*" as \052 in what it returns.
    aliases = {record["Name"].replace("\\052", "*").rstrip("."): record["AliasTarget"]["DNSName"].rstrip(".")
               for record in zone_records if "AliasTarget" in record}
    assert aliases == {DOMAIN: outputs["LoadBalancerDnsName"], f"*.{DOMAIN}": outputs["LoadBalancerDnsName"]}


def test_the_single_host_deployment_is_created_updated_and_deleted(aws, zone_and_certificate):
    stack = create(aws, "workbench", zone_and_certificate)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = outputs_of(stack)
    check_outputs(aws, outputs, zone_and_certificate[0])

    aws("cloudformation").update_stack(StackName="workbench", TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_IAM"],
                                       Parameters=parameters(zone_and_certificate, HubId="workbench-two"))
    updated = aws("cloudformation").describe_stacks(StackName="workbench")["Stacks"][0]
    assert updated["StackStatus"] == "UPDATE_COMPLETE"
    new_outputs = outputs_of(updated)
    # moto drops the outputs of resources an update touched (see above); those it keeps are unchanged.
    assert new_outputs.items() <= outputs.items() and {"LoadBalancerDnsName", "HubTargetGroupArn",
                                                         "DataDatabaseEndpoint"} <= new_outputs.keys()

    stack_id = updated["StackId"]
    aws("cloudformation").delete_stack(StackName="workbench")
    assert aws("cloudformation").describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    assert not [lb for lb in aws("elbv2").describe_load_balancers()["LoadBalancers"]
                if lb["DNSName"] == new_outputs["LoadBalancerDnsName"]]
    # The cookie secret goes with the stack; the database secrets are kept (the only way into the final snapshots).
    with pytest.raises(ClientError):
        aws("secretsmanager").describe_secret(SecretId=new_outputs["CookieSecretArn"])
    assert aws("secretsmanager").describe_secret(SecretId=new_outputs["DataDatabaseSecretArn"])["ARN"]


@pytest.mark.parametrize("overrides, measured", [
    ({"Compute": "eks"}, "references undefined resource EksCluster"),
    ({"DatabaseEngine": "aurora-postgresql"}, "Internal Server Error"),
], ids=["eks", "aurora"])
def test_what_the_local_aws_cannot_model_still_fails_as_measured(aws, zone_and_certificate, overrides, measured):
    """If one of these starts to pass, moto learned it: deploy that variant in the test above instead."""
    name = "cannot-" + next(iter(overrides.values())).split("-")[0]
    # moto answers a ClientError or an unparsable HTTP 500, so any exception is the failure measured
    with pytest.raises(Exception) as failure:
        create(aws, name, zone_and_certificate, **overrides)
    assert measured in str(failure.value)


def test_a_playground_lives_in_the_deployments_vpc_under_its_boundary(aws, zone_and_certificate):
    deployment = outputs_of(create(aws, "workbench-net", zone_and_certificate, VpcCidr="10.41.0.0/16"))
    subnets = tuple(deployment["PrivateSubnetIds"].split(","))
    playground = names.for_user("alice", prefix="net")
    request = build_request(playground, PLAYGROUND, "test-hub", vpc_id=deployment["VpcId"], subnet_ids=subnets,
                            permissions_boundary=deployment["PlaygroundPermissionsBoundaryArn"])
    vpcs_before = {vpc["VpcId"] for vpc in aws("ec2").describe_vpcs()["Vpcs"]}
    cloudformation = aws("cloudformation")
    cloudformation.create_stack(
        StackName=playground.stack, TemplateBody=PLAYGROUND, Capabilities=["CAPABILITY_NAMED_IAM"],
        Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in request.parameters])
    try:
        outputs = outputs_of(cloudformation.describe_stacks(StackName=playground.stack)["Stacks"][0])
        (group,) = aws("elbv2").describe_target_groups(TargetGroupArns=[outputs["TargetGroupArn"]])["TargetGroups"]
        assert group["VpcId"] == outputs["VpcId"] == deployment["VpcId"]
        assert tuple(outputs["ServerSubnetIds"].split(",")) == subnets
        assert {vpc["VpcId"] for vpc in aws("ec2").describe_vpcs()["Vpcs"]} == vpcs_before  # no VPC of its own
        role = aws("iam").get_role(RoleName=playground.role)["Role"]
        assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == deployment["PlaygroundPermissionsBoundaryArn"]
    finally:
        cloudformation.delete_stack(StackName=playground.stack)
        for group in aws("elbv2").describe_target_groups(Names=[playground.target_group])["TargetGroups"]:
            aws("elbv2").delete_target_group(TargetGroupArn=group["TargetGroupArn"])
        try:
            cloudformation.delete_stack(StackName="workbench-net")
        except ClientError as error:  # moto's delete order after a playground was in the VPC: DependencyViolation
            assert "DependencyViolation" in str(error)


def test_without_the_deployment_a_playgrounds_parameters_and_so_its_digest_are_unchanged():
    playground = names.for_user("alice")
    request = build_request(playground, PLAYGROUND, "test-hub")
    assert {key for key, _ in request.parameters} == {"NamePrefix", "UserSlug", "Owner", "Hub", "CreatedBy"}
