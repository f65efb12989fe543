"""deploy/kubernetes: the Zero to JupyterHub values and the operator's Secrets, checked offline.

- Every key the values set is one the pinned chart knows: merged over the chart's defaults as Helm merges them, the
  result validates against the chart's own schema (tests/deploy/data, copied from the chart at that version).
- The hub's configuration they load (hub.extraConfig) runs against the installed package and gives the workbench's
  spawner and services.
- The users' network policy, rendered as the chart renders it, keeps pods from the hub's database, the cloud
  metadata server and each other; it and the Secrets validate against Kubernetes' schema (kubernetes-validate).
"""

from __future__ import annotations

import copy
import ipaddress
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from spawner.kube import HUB_IMAGE, USER_IMAGE, image_tag
from testing.support import REPO_ROOT

CHART_VERSION = "4.4.0"
DATA = Path(__file__).resolve().parent / "data"
DEPLOY = REPO_ROOT / "deploy" / "kubernetes"
# The chart's kubeVersion (>=1.32.0-0) and the newest Kubernetes the validator knows.
KUBERNETES_VERSIONS = ("1.32.0", kubernetes_validate.utils.latest_version())
# Example addresses that match values.yaml's: the hub's database and the workbench data live in different subnets.
HUB_DATABASE = "10.0.16.5"
WORKBENCH_DATA = "10.0.32.10"
ANOTHER_USERS_POD = "10.1.2.3"
AWS_PUBLIC_ENDPOINT = "52.94.0.10"  # a public address, as DynamoDB's endpoints are


def load(name: str, folder: Path = DEPLOY):
    return yaml.safe_load((folder / name).read_text())


@pytest.fixture(scope="module")
def values() -> dict:
    return load("values.yaml")


@pytest.fixture(scope="module")
def merged(values) -> dict:
    return helm_merge(load(f"z2jh-{CHART_VERSION}-values.yaml", DATA), values)


def helm_merge(defaults: dict, overrides: dict) -> dict:
    """Helm's coalescing of a chart's values with the user's: maps merge, anything else is replaced, and a null
    removes the chart's default."""
    result = copy.deepcopy(defaults)
    for key, value in overrides.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = helm_merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def test_every_key_is_one_the_pinned_chart_knows(merged):
    schema = load(f"z2jh-{CHART_VERSION}-values.schema.yaml", DATA)
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(merged), key=lambda error: list(error.path))
    assert not errors, "\n".join(f"{'.'.join(map(str, e.path))}: {e.message}" for e in errors)


def test_a_misspelt_key_would_be_refused(merged):
    schema = load(f"z2jh-{CHART_VERSION}-values.schema.yaml", DATA)
    misspelt = helm_merge(merged, {"singleuser": {"networkPolicy": {"egresAllowRules": {}}}})
    assert not jsonschema.Draft7Validator(schema).is_valid(misspelt)


def test_the_images_are_this_releases(values):
    tag = image_tag()
    assert (values["hub"]["image"]["name"], values["hub"]["image"]["tag"]) == (HUB_IMAGE, tag)
    assert (values["singleuser"]["image"]["name"], values["singleuser"]["image"]["tag"]) == (USER_IMAGE, tag)
    [provision] = values["hub"]["initContainers"]
    assert provision["image"] == f"{USER_IMAGE}:{tag}"


def test_every_key_is_explained():
    """Each key the values set, below the top level, has a comment: above it, on its line or opening its block."""
    lines = [line for line in (DEPLOY / "values.yaml").read_text().splitlines() if line.strip()]
    unexplained = []
    for number, line in enumerate(lines):
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if indent == 0 or stripped.startswith(("#", "-")) or ":" not in stripped or indent > 4:
            continue  # top-level sections, comments, list items and what is inside them
        around = [lines[number - 1].strip(), lines[number + 1].strip() if number + 1 < len(lines) else ""]
        if " #" not in stripped and not any(text.startswith("#") for text in around):
            unexplained.append(stripped)
    assert not unexplained, f"keys without a comment: {unexplained}"


# ---- the hub's configuration -----------------------------------------------------------------------------------

CHART_CONFIG = """
import json, os
from traitlets.config import Config

c = Config()
# what the chart's jupyterhub_config.py has set when hub.extraConfig runs
c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"
c.JupyterHub.authenticator_class = "dummy"  # the chart's default hub.config: any password lets anyone in
c.JupyterHub.services = []
c.JupyterHub.load_roles = []
c.KubeSpawner.environment = {}
c.KubeSpawner.start_timeout = 300
for snippet in json.loads(os.environ["EXTRA_CONFIG"]):
    exec(snippet)
print(json.dumps({
    "spawner_class": c.JupyterHub.spawner_class,
    "authenticator_class": c.JupyterHub.authenticator_class,
    "services": [service["name"] for service in c.JupyterHub.services],
    "service_environments": [service.get("environment", {}) for service in c.JupyterHub.services],
    "start_timeout": c.KubeSpawner.start_timeout,
    "mem_limit": c.KubeSpawner.mem_limit,
    "cpu_guarantee": c.KubeSpawner.cpu_guarantee,
    "aws_endpoint_url": c.PlaygroundSpawnerMixin.aws_endpoint_url,
    "environment": c.KubeSpawner.environment,
}))
"""


@pytest.mark.slow  # loads the configuration in a new Python
def test_the_hub_loads_the_workbench_configuration_from_the_installed_package(values, tmp_path):
    # what EKS puts into the hub pod for its service account's role (IRSA)
    irsa = {"AWS_ROLE_ARN": values["hub"]["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"],
            "AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"}
    environ = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **irsa}
    for name, value in values["hub"]["extraEnv"].items():
        # secrets come from the operator's Secret: a stand-in of the same shape here
        environ[name] = value if isinstance(value, str) else "postgresql+psycopg://admin:pw@data.example:5432/wb"
    environ["EXTRA_CONFIG"] = json.dumps([values["hub"]["extraConfig"][key]
                                         for key in sorted(values["hub"]["extraConfig"])])
    done = subprocess.run([sys.executable, "-c", CHART_CONFIG], env=environ, capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    config = json.loads(done.stdout.strip().splitlines()[-1])
    assert config["spawner_class"] == "workbench-kubernetes"
    assert config["authenticator_class"] == "hub.auth.local.WorkbenchAuthenticator", "never the chart's dummy"
    assert "local-aws" not in " ".join(config["services"]) and config["aws_endpoint_url"] == ""
    assert sorted(config["services"]) == ["idle-culler", "playground-reaper"]
    reaper = config["service_environments"][config["services"].index("playground-reaper")]
    assert irsa.items() <= reaper.items(), "the reaper acts in AWS with the hub's service-account role"
    assert config["start_timeout"] == int(values["hub"]["extraEnv"]["WORKBENCH_START_TIMEOUT"])
    assert config["mem_limit"] == values["hub"]["extraEnv"]["WORKBENCH_SERVER_MEMORY_LIMIT"]
    assert config["environment"]["WORKBENCH_KERNEL_IDLE_TIMEOUT"] == values["hub"]["extraEnv"]["WORKBENCH_IDLE_TIMEOUT"]


# ---- the users' network policy ---------------------------------------------------------------------------------


def singleuser_network_policy(merged: dict) -> dict:
    """The NetworkPolicy the chart makes for users' pods (templates/singleuser/netpol.yaml and the egress rules of
    _helpers-netpol.tpl at the pinned version), from the merged values."""
    policy = merged["singleuser"]["networkPolicy"]
    allow = policy["egressAllowRules"]
    metadata_ip = merged["singleuser"]["cloudMetadata"]["ip"]
    private = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
    component = {"app": "jupyterhub", "release": "workbench"}
    egress = [
        {"to": [{"podSelector": {"matchLabels": {**component, "component": "hub"}}}], "ports": [{"port": 8081}]},
        {"to": [{"podSelector": {"matchLabels": {**component, "component": "proxy"}}}], "ports": [{"port": 8000}]},
        {"to": [{"podSelector": {"matchLabels": {**component, "component": "autohttps"}}}],
         "ports": [{"port": 8080}, {"port": 8443}]},
    ]
    dns_to = ([{"ipBlock": {"cidr": f"{metadata_ip}/32"}}] if allow["dnsPortsCloudMetadataServer"] else []) + \
        ([{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}]
         if allow["dnsPortsKubeSystemNamespace"] else []) + \
        ([{"ipBlock": {"cidr": cidr}} for cidr in private] if allow["dnsPortsPrivateIPs"] else [])
    if dns_to:
        egress.append({"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}], "to": dns_to})
    if allow["nonPrivateIPs"]:
        egress.append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": [*private, f"{metadata_ip}/32"]}}]})
    if allow["privateIPs"]:
        egress.append({"to": [{"ipBlock": {"cidr": cidr}} for cidr in private]})
    if allow["cloudMetadataServer"]:
        egress.append({"to": [{"ipBlock": {"cidr": f"{metadata_ip}/32"}}]})
    egress.extend(policy["egress"])
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "singleuser"},
        "spec": {
            "podSelector": {"matchLabels": {**component, "component": "singleuser-server"}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"ports": [{"port": "notebook-port"}], "from": [
                {"podSelector": {"matchLabels": {"hub.jupyter.org/network-access-singleuser": "true"}}}]}],
            "egress": egress,
        },
    }


def allows(policy: dict, address: str, port: int) -> bool:
    """Whether an egress rule lets a user's pod open a TCP connection to ``address:port`` (an address outside
    the cluster's pods: pod selectors never match it)."""
    ip = ipaddress.ip_address(address)
    for rule in policy["spec"]["egress"]:
        ports = rule.get("ports")
        if ports and not any(p.get("port") == port and p.get("protocol", "TCP") == "TCP" for p in ports):
            continue
        for peer in rule.get("to", []):
            block = peer.get("ipBlock")
            if block and ip in ipaddress.ip_network(block["cidr"]) and not any(
                    ip in ipaddress.ip_network(cidr) for cidr in block.get("except", [])):
                return True
    return False


def test_users_pods_reach_aws_and_their_data_but_not_the_hubs_database_the_metadata_server_or_each_other(merged):
    policy = singleuser_network_policy(merged)
    for version in KUBERNETES_VERSIONS:
        kubernetes_validate.validate(policy, version, strict=True)
    assert merged["singleuser"]["networkPolicy"]["enabled"] and merged["hub"]["networkPolicy"]["enabled"]
    assert allows(policy, AWS_PUBLIC_ENDPOINT, 443)
    assert allows(policy, WORKBENCH_DATA, 5432)
    assert not allows(policy, WORKBENCH_DATA, 22), "only PostgreSQL on the data's subnet"
    assert not allows(policy, HUB_DATABASE, 5432), "the hub's database is not the users'"
    assert not allows(policy, merged["singleuser"]["cloudMetadata"]["ip"], 80), "the node's AWS role stays the node's"
    assert not allows(policy, ANOTHER_USERS_POD, 8888)
    # and no other pod may open a connection to a user's server: only those labelled for it (hub and proxy)
    [ingress] = policy["spec"]["ingress"]
    assert ingress["from"] == [{"podSelector": {"matchLabels": {"hub.jupyter.org/network-access-singleuser": "true"}}}]
    assert "hub.jupyter.org/network-access-singleuser" not in merged["singleuser"]["extraLabels"]


def test_the_rule_check_itself_sees_an_open_policy(merged):
    opened = helm_merge(merged, {"singleuser": {"networkPolicy": {"egressAllowRules": {"privateIPs": True}}}})
    assert allows(singleuser_network_policy(opened), HUB_DATABASE, 5432)


def test_the_hubs_identity_is_its_service_accounts_and_never_a_users(merged):
    role = merged["hub"]["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert role.startswith("arn:aws:iam::") and ":role/" in role
    assert merged["singleuser"].get("serviceAccountName") is None, "users' pods get no service account's token"
    assert merged["hub"]["extraEnv"]["WORKBENCH_LOCAL_AWS"] == "false"
    assert not any(name.startswith("AWS_") for name in merged["hub"]["extraEnv"]), "no keys: IRSA gives them"


def test_the_secrets_are_valid_and_are_the_ones_the_values_name(values):
    secrets = list(yaml.safe_load_all((DEPLOY / "secrets.yaml").read_text()))
    for secret in secrets:
        for version in KUBERNETES_VERSIONS:
            kubernetes_validate.validate(secret, version, strict=True)
    keys = {secret["metadata"]["name"]: set(secret["stringData"]) for secret in secrets}
    referenced = [value["valueFrom"]["secretKeyRef"] for value in values["hub"]["extraEnv"].values()
                  if isinstance(value, dict)]
    referenced += [item["valueFrom"]["secretKeyRef"] for container in values["hub"]["initContainers"]
                   for item in container["env"] if "valueFrom" in item]
    assert referenced and all(ref["key"] in keys.get(ref["name"], ()) for ref in referenced)
    tls = values["proxy"]["https"]["secret"]["name"]
    assert {"tls.crt", "tls.key"} <= keys[tls]
