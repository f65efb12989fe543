"""The hub's Kubernetes spawner through KubeSpawner's real start path, the Kubernetes API answered at the HTTP level
(tests/spawner/kube_api.py), AWS by the local moto server and the user's data by PostgreSQL.

What the spawner sent the API is validated against Kubernetes' own schema (kubernetes-validate, offline), for the
oldest Kubernetes the pinned Zero to JupyterHub chart supports and for the newest one the validator knows.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import uuid

import boto3
import kubernetes_validate
import pytest
from sqlalchemy import create_engine, text
from traitlets.config import Config

from spawner import environment
from spawner.kube import LOCKED_DOWN, USER_IMAGE, image_tag
from spawner.workbench import kube_workbench_spawner_class
from tests.scanners import kubernetes_findings
from tests.spawner.conftest import HUB_KEY_ID, HUB_SECRET, REGION
from tests.spawner.kube_api import FakeKubernetes, kubeconfig
from tests.spawner.mocking import hub_database, hub_stop

# The pinned chart (deploy/kubernetes/values.yaml, README) requires Kubernetes >= 1.32.
KUBERNETES_VERSIONS = ("1.32.0", kubernetes_validate.utils.latest_version())
NAMESPACE = "workbench"
HUB_COOKIE_SECRET = "c0ffee" * 10
MOUNT = "/run/workbench/aws"
RUN = uuid.uuid4().hex[:6]  # users (and so database roles) of this run only, whatever else shares the server


@pytest.fixture
async def kube_api(tmp_path, monkeypatch):
    """The fake API server, and the kubernetes_asyncio client pointed at it through a kubeconfig."""
    import kubernetes_asyncio.config.kube_config as kube_config
    from kubespawner import KubeSpawner

    fake = FakeKubernetes()
    url = await fake.start()
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig(tmp_path / "kubeconfig", url)))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)  # not in a cluster: use the kubeconfig
    yield fake
    await KubeSpawner._stop_all_reflectors()  # they are shared by the class, and watch this server
    await fake.stop()


@pytest.fixture(scope="module")
def workbench_database(postgres_url):
    """A database of its own for the workbench data (the hub takes PUBLIC's rights on it), dropped after."""
    name = f"workbench_kube_{uuid.uuid4().hex[:10]}"
    server = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    with server.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        for role in connection.execute(text("SELECT rolname FROM pg_roles WHERE rolname LIKE :mine"),
                                       {"mine": f"profiler_%{RUN}"}).scalars().all():
            connection.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
    server.dispose()


def kube_spawner(username: str, kube_api: FakeKubernetes, config: Config, **traits):
    """The hub's Kubernetes spawner for ``username``'s default server, made as JupyterHub makes it."""
    from jupyterhub.objects import Hub
    from jupyterhub.orm import User as OrmUser
    from jupyterhub.user import User

    db = hub_database()
    orm_user = OrmUser(name=username)
    db.add(orm_user)
    db.commit()
    user = User(orm_user, {})
    user._new_orm_spawner("", "")
    # KubeSpawner loads the client's configuration once per API host: a new fake server is a new host
    spawner = user._new_spawner("", spawner_class=kube_workbench_spawner_class(), config=config, hub=Hub(),
                                k8s_api_host=kube_api.url, **traits)
    user.spawners[""] = spawner
    return spawner


def hub_config(moto_endpoint: str, data_admin_url: str, tmp_path, **settings) -> Config:
    """The configuration a hub on Kubernetes has: what the chart wrote, then the workbench's (as hub.extraConfig
    applies it), then what the fake cluster needs."""
    from hub.configure import configure_kubernetes
    from hub.settings import load

    config = Config()
    # what the chart's own hub configuration writes, before hub.extraConfig runs (values.yaml defaults)
    config.KubeSpawner.start_timeout = 300
    config.KubeSpawner.mem_guarantee = "1G"
    config.KubeSpawner.environment = {"FROM_THE_CHART": "kept"}
    environ = {"WORKBENCH_SPAWNER": "kubernetes", "WORKBENCH_LOCAL_AWS": "false",
               "WORKBENCH_AWS_ENDPOINT_URL": moto_endpoint, "WORKBENCH_DATA_ADMIN_URL": data_admin_url,
               "WORKBENCH_STATE_DIR": str(tmp_path / "state"), **settings}
    configure_kubernetes(config, load(environ))
    config.KubeSpawner.namespace = NAMESPACE
    config.KubeSpawner.k8s_api_request_timeout = 5
    config.PlaygroundSpawnerMixin.stack_poll_interval = 0.01
    return config


# What checkov finds in a user's pod and Secret as KubeSpawner sends them, each with why it stays (the rest are
# fixed: the pod's own security context was one).
JUSTIFIED_CHECKOV_RESULTS = {
    # the namespace is in the API path KubeSpawner posts to, not in the body: the chart's namespace
    "CKV_K8S_21": {"Pod", "Secret"},
    # probes: the hub itself asks the server whether it is up, at start and at every poll; a kubelet restarting
    # a user's server behind the hub's back would lose the person's kernels
    "CKV_K8S_8": {"Pod"},
    "CKV_K8S_9": {"Pod"},
    # image by digest and pulled each time: the operator's registry alone knows the digest; the tag is the
    # package's version, which a new version replaces, never rewrites (the chart's singleuser.image settings)
    "CKV_K8S_43": {"Pod"},
    "CKV_K8S_15": {"Pod"},
    # uid above 10000: uid 1000 is the image's user, whose files the home volume holds (the chart's convention)
    "CKV_K8S_40": {"Pod"},
    # no NetworkPolicy in the same set of files: the chart's singleuser policy covers users' pods
    # (tests/deploy/test_kube_values.py renders and checks it)
    "CKV2_K8S_6": {"Pod"},
}


def validated(manifest: dict) -> dict:
    for version in KUBERNETES_VERSIONS:
        kubernetes_validate.validate(manifest, version, strict=True)
    return manifest


def secret_files(secret: dict) -> dict[str, str]:
    if "stringData" in secret:
        return secret["stringData"]
    return {name: base64.b64decode(value).decode() for name, value in secret["data"].items()}


async def wait_until(predicate, timeout: float, what: str):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.mark.postgres
async def test_a_pod_and_its_credentials_secret_as_kubespawner_sends_them(kube_api, moto_endpoint,
                                                                         workbench_database, tmp_path, monkeypatch):
    monkeypatch.setenv("JPY_COOKIE_SECRET", HUB_COOKIE_SECRET)  # the hub's own secrets, in its environment
    config = hub_config(moto_endpoint, workbench_database, tmp_path, WORKBENCH_SERVER_MEMORY_LIMIT="3G",
                        WORKBENCH_SERVER_CPU_LIMIT="1.5", WORKBENCH_SERVER_MEMORY_REQUEST="768M",
                        WORKBENCH_SERVER_CPU_REQUEST="0.25")
    # a careless operator keeping the hub's keys: they must still never reach the pod
    spawner = kube_spawner(f"kate-{RUN}", kube_api, config, env_keep=["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"])

    url = await spawner.start()
    assert url == "http://10.1.2.3:8888"

    [pod] = [validated(body) for body in kube_api.sent("pods")]
    [secret] = [validated(body) for body in kube_api.sent("secrets")]
    assert kubernetes_findings([pod, secret], tmp_path / "checkov") == JUSTIFIED_CHECKOV_RESULTS
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    sent = json.dumps(kube_api.posted)
    for hub_secret in (HUB_KEY_ID, HUB_SECRET, HUB_COOKIE_SECRET, workbench_database, "postgres@"):
        assert hub_secret not in sent, f"a hub secret reached the pod or its Secret: {hub_secret}"

    container = pod["spec"]["containers"][0]
    assert container["image"] == f"{USER_IMAGE}:{image_tag()}"
    assert container["args"] == ["jupyterhub-singleuser"], "the image's server (KubeSpawner sends cmd as args)"
    assert {key: container["securityContext"][key] for key in LOCKED_DOWN} == LOCKED_DOWN
    assert container["securityContext"]["runAsUser"] == 1000
    assert pod["spec"]["automountServiceAccountToken"] is False, "the pod must not act as any service account"
    assert container["resources"] == {"limits": {"memory": 3 * 2**30, "cpu": 1.5},
                                      "requests": {"memory": 768 * 2**20, "cpu": 0.25}}

    env = {item["name"]: item.get("value") for item in container["env"]}
    aws_variables = {name for name in env if name.startswith(("PLAYGROUND_", "AWS_"))}
    assert aws_variables <= set(environment.ALL), "only the contract's AWS variables reach the server"
    assert env[environment.STACK_NAME] == spawner.playground_names.stack
    assert env[environment.LOADTEST_TABLE] == f"{spawner.playground_names.stack}-loadtest"
    assert env[environment.DATA_URL].startswith("postgresql") and env[environment.DATA_SCHEMA]
    assert env[environment.AWS_CONFIG_FILE] == f"{MOUNT}/config"
    assert env[environment.AWS_SHARED_CREDENTIALS_FILE] == f"{MOUNT}/credentials"
    assert environment.AWS_ACCESS_KEY_ID not in env and environment.AWS_SESSION_TOKEN not in env
    assert env["FROM_THE_CHART"] == "kept"
    assert "JUPYTER_CONFIG_PATH" not in env, "the hub's install paths mean nothing in the image"
    assert env["WORKBENCH_KERNEL_IDLE_TIMEOUT"] == "3600"

    volumes = {volume["name"]: volume for volume in pod["spec"]["volumes"]}
    mounts = {mount["mountPath"]: mount for mount in container["volumeMounts"]}
    assert volumes[mounts[MOUNT]["name"]]["secret"]["secretName"] == secret["metadata"]["name"]
    assert mounts[MOUNT]["readOnly"] is True
    assert "emptyDir" in volumes[mounts["/tmp"]["name"]], "a read-only root still needs a writable /tmp"

    files = secret_files(secret)
    issued = json.loads(files["credentials.json"])
    assert issued["AccessKeyId"] not in ("", HUB_KEY_ID) and issued["SessionToken"]
    assert f"credential_process = cat {MOUNT}/credentials.json" in files["config"]
    assert issued["Expiration"] == env[environment.CREDENTIALS_EXPIRE]

    # the playground was made in the local AWS, for the pod's owner
    cloudformation = boto3.client("cloudformation", region_name=REGION, endpoint_url=moto_endpoint)
    [stack] = cloudformation.describe_stacks(StackName=spawner.playground_names.stack)["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert {"Key": "owner", "Value": f"kate-{RUN}"} in stack["Tags"]
    assert pod["metadata"]["labels"]["workbench-playground"] == stack["StackName"]
    assert pod["metadata"]["annotations"]["workbench/playground-stack"] == stack["StackName"]

    await hub_stop(spawner)
    assert kube_api.objects["pods"] == {} and kube_api.objects["secrets"] == {}, "the pod and its keys are gone"
    await spawner.delete_forever()


@pytest.mark.postgres
async def test_the_hub_replaces_the_secret_before_the_credentials_expire(kube_api, moto_endpoint,
                                                                        workbench_database, tmp_path):
    config = hub_config(moto_endpoint, workbench_database, tmp_path)
    # 900 s credentials (STS's shortest) refreshed 899 s before they expire: the hub replaces them at once
    spawner = kube_spawner(f"rory-{RUN}", kube_api, config, credentials_duration=900, credentials_refresh_margin=899)
    await spawner.start()
    [first] = kube_api.sent("secrets")

    await wait_until(lambda: kube_api.sent("secrets", "PUT"), 15, "the hub to replace the credentials Secret")
    replaced = validated(kube_api.sent("secrets", "PUT")[0])
    assert replaced["metadata"]["name"] == first["metadata"]["name"]
    old, new = (json.loads(secret_files(secret)["credentials.json"]) for secret in (first, replaced))
    assert new["AccessKeyId"] != old["AccessKeyId"] and new["Expiration"] >= old["Expiration"]

    # a restarted hub (a new spawner from the saved state) keeps refreshing the running server's Secret
    state = spawner.get_state()
    spawner._stop_refresh()
    restarted = kube_spawner(f"rory-{RUN}", kube_api, config, credentials_duration=900,
                             credentials_refresh_margin=899)
    restarted.load_state(state)
    replaced_before = len(kube_api.sent("secrets", "PUT"))
    assert await restarted.poll() is None
    await wait_until(lambda: len(kube_api.sent("secrets", "PUT")) > replaced_before, 15,
                     "the restarted hub to refresh the Secret")

    await hub_stop(restarted)
    assert kube_api.objects["secrets"] == {}
    await restarted.delete_forever()


@pytest.mark.postgres
async def test_a_secret_kubernetes_refuses_ends_the_spawn_with_the_reason_and_no_pod(kube_api, moto_endpoint,
                                                                                    workbench_database, tmp_path):
    from jupyterhub.spawner import SpawnException

    kube_api.forbidden.add(("POST", "secrets"))
    spawner = kube_spawner(f"lena-{RUN}", kube_api, hub_config(moto_endpoint, workbench_database, tmp_path))
    with pytest.raises(SpawnException, match=f"Kubernetes did not take the Secret {spawner.pod_name}-aws") as failed:
        await spawner.start()
    assert "403 Forbidden" in str(failed.value) and failed.value.reason == "credentials"
    assert kube_api.sent("pods") == [], "no pod without its credentials"
    await hub_stop(spawner)
    await spawner.delete_forever()


def test_the_hubs_kubernetes_spawner_has_every_layer_before_the_base():
    from spawner.kube import KubePlaygroundMixin, KubeServerMixin
    from spawner.userdata import UserDataSpawnerMixin
    from spawner.workbench import WorkbenchSpawnerMixin
    from tests.spawner.mocking import StandInKubeSpawner

    cls = kube_workbench_spawner_class(StandInKubeSpawner)
    order = [cls.__mro__.index(layer) for layer in
             (KubeServerMixin, WorkbenchSpawnerMixin, UserDataSpawnerMixin, KubePlaygroundMixin, StandInKubeSpawner)]
    assert order == sorted(order)
    assert cls().install_dashboards is False, "the server's image holds the dashboards"


def test_asking_for_kubernetes_without_kubespawner_says_what_to_install(monkeypatch):
    import spawner.workbench as module

    monkeypatch.setitem(sys.modules, "kubespawner", None)  # as if the extra were not installed
    monkeypatch.delitem(module.__dict__, "KubeWorkbenchSpawner", raising=False)
    with pytest.raises(ImportError, match=r"pip install 'profiler-workbench\[kubernetes\]'"):
        module.KubeWorkbenchSpawner  # noqa: B018 - the lazy attribute the entry point names


def test_the_hub_names_its_kubernetes_spawner_by_a_registered_entry_point():
    from importlib.metadata import entry_points

    from kubespawner import KubeSpawner

    import spawner.workbench
    from hub.configure import SPAWNERS

    (point,) = [p for p in entry_points(group="jupyterhub.spawners") if p.name == SPAWNERS["kubernetes"]]
    assert point.load() is spawner.workbench.KubeWorkbenchSpawner
    assert issubclass(point.load(), KubeSpawner)
