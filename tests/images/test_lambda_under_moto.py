"""The load-test worker as a Lambda function of the local AWS: created with moto's Lambda API, invoked through it,
run by moto in a container, its replies merged exactly by the driver.

moto runs a function's code in a container through the Docker API; podman serves that API here
(``podman system service``). The runtime image is ``testing/lambda_image``: the Debian base with the workbench and its
dependencies from the users' server image, answering moto's ``IMAGE HANDLER EVENT`` contract. moto first copies the
function's zip into a volume with a ``busybox`` container, which cannot be pulled here: the Debian base the images
are built from stands in for it (it has ``sleep``). The containers share the host's network, so the worker reaches
the moto server on 127.0.0.1.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import time
import zipfile

import boto3
import pytest
from moto.server import ThreadedMotoServer

from profiler.loadtest import WorkloadSpec
from profiler.loadtest.lambda_worker import lambda_invoker, run_workers
from profiler.loadtest.stats import decode_histogram
from profiler.playground import Playground
from testing.support import REPO_ROOT, free_port, wait_for
from tests.images.support import Images, as_root, build_images, podman
from tests.loadtest.conftest import create_table, table_count

pytestmark = [pytest.mark.images, pytest.mark.slow, pytest.mark.timeout(1800)]

LAMBDA_IMAGE = "localhost/profiler-workbench-lambda:test"
BUSYBOX = "docker.io/library/busybox:latest"  # the name moto asks for (moto.utilities.docker_utilities)
REGION = "us-east-1"
# The worker's module in the function's zip: the code itself is the workbench installed in the image.
WORKER_MODULE = "from profiler.loadtest.lambda_worker import handler  # noqa: F401\n"


@pytest.fixture(scope="module")
def docker_api(tmp_path_factory):
    """podman's Docker-compatible API on a socket of this test's own, starting containers with the limits the
    image build gives them (build_images.ULIMITS: the defaults are refused here)."""
    as_root()
    folder = tmp_path_factory.mktemp("podman")
    socket, settings = folder / "docker.sock", folder / "containers.conf"
    limits = [value for value in build_images.ULIMITS if value != "--ulimit"]
    settings.write_text(f"[containers]\ndefault_ulimits = {json.dumps(limits)}\n")
    service = subprocess.Popen(["podman", *build_images.PODMAN_GLOBAL, "system", "service", "--time=0",
                                f"unix://{socket}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "CONTAINERS_CONF": str(settings)})
    try:
        wait_for(socket.exists, 30, "podman's API socket")
        yield f"unix://{socket}"
    finally:
        service.terminate()
        service.wait(timeout=30)
        # what moto leaves when an invocation fails half-way: its containers and the volumes holding the code
        for image in (LAMBDA_IMAGE, BUSYBOX):
            listed = podman("ps", "--all", "--quiet", "--filter", f"ancestor={image}", check=False).stdout.split()
            if listed:
                podman("rm", "--force", *listed, check=False)
        podman("volume", "prune", "--force", check=False)


@pytest.fixture(scope="module")
def lambda_image(images: Images) -> str:
    podman("build", *build_images.ULIMITS, "--tag", LAMBDA_IMAGE, "--build-arg", f"USER_IMAGE={images.user}",
           "--build-arg", f"BASE_IMAGE={build_images.BASE_TAG}", str(REPO_ROOT / "testing" / "lambda_image"),
           timeout=900)
    podman("tag", build_images.BASE_TAG, BUSYBOX)
    return LAMBDA_IMAGE


@pytest.fixture(scope="module")
def local_aws(docker_api, lambda_image):
    """A moto server whose Lambda runs functions in ``lambda_image`` through podman."""
    wanted = {"DOCKER_HOST": docker_api, "MOTO_DOCKER_LAMBDA_IMAGE": lambda_image,
              "MOTO_DOCKER_NETWORK_MODE": "host", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
              "AWS_DEFAULT_REGION": REGION}
    saved = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def worker_zip() -> bytes:
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as archive:
        archive.writestr("worker.py", WORKER_MODULE)
    return packed.getvalue()


def test_two_lambda_workers_run_in_moto_and_merge_into_one_histogram(local_aws):
    playground = Playground(stack_name="lambda", loadtest_table="loadtest-lambda", runs_table="runs-lambda",
                            region=REGION, endpoint_url=local_aws)
    dynamodb = boto3.client("dynamodb", region_name=REGION, endpoint_url=local_aws)
    create_table(dynamodb, playground.loadtest_table)
    role = boto3.client("iam", region_name=REGION, endpoint_url=local_aws).create_role(
        RoleName="loadtest-worker", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": "lambda.amazonaws.com"}}]}))
    functions = boto3.client("lambda", region_name=REGION, endpoint_url=local_aws)
    functions.create_function(FunctionName="loadtest-worker", Runtime="python3.11", Role=role["Role"]["Arn"],
                              Handler="worker.handler", Code={"ZipFile": worker_zip()}, Timeout=60,
                              MemorySize=1769)

    spec = WorkloadSpec(operations={"put": 1, "get": 1}, concurrency=2, key_space=1_000_000, seed=11)
    event = {"spec": spec.to_dict(), "table": playground.loadtest_table, "region": REGION,
             "endpoint_url": local_aws, "seconds": 3}
    started = time.monotonic()
    merged = run_workers(event, 2, lambda_invoker("loadtest-worker", functions))
    print(f"two Lambda workers in moto: {time.monotonic() - started:.1f} s, {merged['requests']} requests")

    workers = merged["workers"]
    assert [w["status"] for w in workers] == ["finished", "finished"], workers
    assert all(w["requests"] > 0 for w in workers)
    assert merged["requests"] == sum(w["requests"] for w in workers) == merged["latency_us"]["count"]
    histogram = decode_histogram(merged["histogram"])
    assert histogram.get_total_count() == merged["requests"]
    per_worker = [decode_histogram(w["histogram"]) for w in workers]
    assert sum(h.get_total_count() for h in per_worker) == histogram.get_total_count()
    assert histogram.get_max_value() == max(h.get_max_value() for h in per_worker)
    # the puts really reached the table, from inside the containers
    assert merged["items_written"] == table_count(playground) > 0

    # a worker that fails says why, through Lambda's FunctionError
    with pytest.raises(Exception, match="table"):
        lambda_invoker("loadtest-worker", functions)({**event, "table": ""})
