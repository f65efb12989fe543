"""A user's playground inside the hub's deployment: the hub's settings reach the playground spawner, and a spawn
makes the playground's target group in the deployment's VPC, its server role under the deployment's boundary."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from spawner.playground import PlaygroundSpawner
from spawner.stacks import StackClient, outputs_of
from testing.support import REPO_ROOT
from tests.deploy.test_deployment_stack import aws, create, zone_and_certificate  # noqa: F401 - fixtures by name
from tests.spawner.mocking import make_spawner

READ_SPAWNER_CONFIG = """
import json, sys
from jupyterhub.app import JupyterHub
app = JupyterHub()
app.load_config_file(sys.argv[1])
mixin = app.config.PlaygroundSpawnerMixin
print(json.dumps({key: mixin.get(key) for key in ("vpc_id", "subnet_ids", "permissions_boundary")}))
"""


def spawner_config(tmp_path, **env) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", READ_SPAWNER_CONFIG, str(REPO_ROOT / "hub" / "jupyterhub_config.py")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "WORKBENCH_STATE_DIR": str(tmp_path / "state"),
             **env})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # loads the hub's configuration in a new Python
def test_the_deployment_settings_reach_the_playground_spawner(tmp_path):
    boundary = "arn:aws:iam::123456789012:policy/workbench-home-PlaygroundServerBoundary-ABC"
    assert spawner_config(tmp_path, WORKBENCH_PLAYGROUND_VPC_ID="vpc-0123456789abcdef0",
                          WORKBENCH_PLAYGROUND_SUBNET_IDS="subnet-0aaaaaaaaaaaaaaaa, subnet-0bbbbbbbbbbbbbbbb",
                          WORKBENCH_PLAYGROUND_PERMISSIONS_BOUNDARY=boundary) == {
        "vpc_id": "vpc-0123456789abcdef0", "subnet_ids": ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"],
        "permissions_boundary": boundary}
    assert spawner_config(tmp_path) == {"vpc_id": "", "subnet_ids": [], "permissions_boundary": ""}


async def test_a_spawned_playground_lives_in_the_deployment(tmp_path, aws, zone_and_certificate):  # noqa: F811
    deployment = outputs_of(create(aws, "workbench-spawn", zone_and_certificate, VpcCidr="10.42.0.0/16"))
    endpoint = aws("sts").meta.endpoint_url
    spawner = make_spawner(PlaygroundSpawner, "dana", tmp_path, aws_endpoint_url=endpoint, env_keep=["PATH"],
                           vpc_id=deployment["VpcId"], subnet_ids=deployment["PrivateSubnetIds"].split(","),
                           permissions_boundary=deployment["PlaygroundPermissionsBoundaryArn"])
    await spawner.start()
    try:
        stack = aws("cloudformation").describe_stacks(StackName="profiler-dana")["Stacks"][0]
        outputs = outputs_of(stack)
        (group,) = aws("elbv2").describe_target_groups(TargetGroupArns=[outputs["TargetGroupArn"]])["TargetGroups"]
        assert group["VpcId"] == deployment["VpcId"]
        assert outputs["ServerSubnetIds"] == deployment["PrivateSubnetIds"]
        role = aws("iam").get_role(RoleName="profiler-dana-server")["Role"]
        assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == deployment["PlaygroundPermissionsBoundaryArn"]
    finally:
        await spawner.stop(now=True)
        await spawner.delete_forever()
    assert StackClient(aws("cloudformation"), aws("elbv2")).describe("profiler-dana") is None
