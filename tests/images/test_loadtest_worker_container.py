"""Load tests across machines: the Locust workers of a scale-out run as the Kubernetes Job of spawner/kube_jobs.py
describes them, each pod run here as a container of the users' image, their histograms merged by the master in
this process.

The Job's container is run as Kubernetes would run it: its image, command and environment as written, its user,
read-only root filesystem and dropped capabilities, the credentials Secret's files (``credentials.delivery_files``,
what the hub puts in it) mounted read-only where the manifest mounts them, and an empty /tmp. One thing differs:
the containers share this machine's network, standing in for the cluster network between the workers' pods and
the user's pod, so they reach the master and the local AWS on 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
import uuid
from contextlib import ExitStack
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from profiler.loadtest import WorkloadSpec
from profiler.loadtest.scaleout import LocustLoadTest
from profiler.playground import Playground
from spawner import credentials
from spawner.kube_jobs import worker_job
from testing.support import free_port
from tests.images.support import Images, container
from tests.loadtest.conftest import create_table, table_count

pytestmark = [pytest.mark.images, pytest.mark.slow, pytest.mark.timeout(1800)]

REGION = "us-east-1"
# Where the users' image installs the workbench (deploy/images/user-server.Containerfile: /opt/workbench)
LOCUSTFILE = "/opt/workbench/lib/python3.11/site-packages/profiler/loadtest/locustfile.py"


@pytest.fixture
def local_aws(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def run_args(pod: dict, secret_folder: str) -> list[str]:
    """``podman run`` arguments for one pod of the Job: what its manifest says the container is."""
    spec = pod["spec"]
    (box,) = spec["containers"]
    security = box["securityContext"]
    assert security["readOnlyRootFilesystem"] and security["capabilities"]["drop"] == ["ALL"]
    assert not security["allowPrivilegeEscalation"] and spec["securityContext"]["runAsNonRoot"]
    mounts = {mount["name"]: mount for mount in box["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in spec["volumes"]}
    args = ["--network", "host", "--user", str(security["runAsUser"]), "--read-only", "--read-only-tmpfs=false",
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges"]
    for name, mount in mounts.items():
        if "secret" in volumes[name]:
            args += ["--volume", f"{secret_folder}:{mount['mountPath']}:ro"]
        else:
            assert "emptyDir" in volumes[name]
            args += ["--tmpfs", f"{mount['mountPath']}:rw,mode=1777"]
    for variable in box["env"]:
        args += ["--env", f"{variable['name']}={variable['value']}"]
    return [*args, "--entrypoint", box["command"][0]]


def test_the_jobs_workers_run_as_containers_and_the_master_merges_their_histograms(images: Images, local_aws,
                                                                                   tmp_path):
    suffix = uuid.uuid4().hex[:8]
    playground = Playground(stack_name=f"playground-{suffix}", loadtest_table=f"loadtest-{suffix}",
                            runs_table=f"runs-{suffix}", region=REGION, endpoint_url=local_aws)
    client = boto3.client("dynamodb", region_name=REGION, endpoint_url=local_aws)
    create_table(client, playground.loadtest_table, "LoadTestTable")
    create_table(client, playground.runs_table, "RunsTable")

    # the credentials Secret's files, as the hub writes them (the local AWS takes any keys)
    secret, mount_path = tmp_path / "secret", "/run/workbench/aws"
    secret.mkdir(mode=0o755)
    scoped = credentials.ScopedCredentials("ASIAWORKER", "worker-secret", "worker-token",
                                           dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1))
    for name, content in credentials.delivery_files(scoped, REGION, Path(mount_path)).items():
        (secret / name).write_text(content)  # naming paths below the mount, as the pod sees them
        (secret / name).chmod(0o444)  # the Secret's defaultMode

    pushed = []
    spec = WorkloadSpec(operations={"put": 1, "get": 1}, target_rate=40, requests=80, key_space=1_000_000, seed=7,
                        interval=0.5)
    test = LocustLoadTest(spec, workers=2, local_workers=0, playground=playground, on_interval=pushed.append,
                          start_timeout=180)
    test.start()
    job = worker_job(namespace="workbench", owner_pod="jupyter-alice", run_id=test.run_id, image=images.user,
                     master_host="127.0.0.1", master_port=test.master_port, workers=2, job=test.job(),
                     locustfile=LOCUSTFILE, credentials_secret="jupyter-alice-aws", region=REGION,
                     credentials_mount_path=mount_path)
    pod = job["spec"]["template"]
    command = pod["spec"]["containers"][0]["command"]
    assert job["spec"]["parallelism"] == 2
    with ExitStack() as pods:
        try:
            for _ in range(job["spec"]["parallelism"]):
                pods.enter_context(container(images.user, *run_args(pod, str(secret)),
                                             command=command[1:]))
            end = test.wait(180)
        finally:
            test.cancel()

    assert end is not None and end["status"] == "finished", (end, test._log_tail("master.log"))
    intervals = [record for record in pushed if record["kind"] == "interval"]
    assert intervals and all(record["workers"] == 2 for record in intervals)
    # both containers' requests, each counted once in the merged histogram
    assert sum(record["requests"] for record in intervals) == 80 == end["cumulative"]["requests"]
    assert end["cumulative"]["latency_us"]["count"] == 80
    assert sum(record["items_written"] for record in intervals) == table_count(playground) > 0
