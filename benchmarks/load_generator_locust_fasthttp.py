r"""The benchmark's second anchor: Locust's FastHttpUser (geventhttpclient) sending the engine's DynamoDB requests
(built by the same RequestFactory, JSON-encoded the same way) itself, signed with SigV4, and decoding the replies.
Prints ``BENCH <completed requests> <process CPU seconds>`` every second for benchmarks/load_generator.py, which
measures the steady state between two samples.

Signing uses the engine's :class:`~profiler.loadtest.protocol.SigV4Signer` (the Authorization header botocore's
``SigV4Auth`` gives, tests/loadtest/test_signing.py checks it) unless ``BENCH_SIGNER=botocore``: signing with
botocore took this anchor from 138 to 244 µs of CPU per request (one 4 s run each against dynamo_stub.py), which
would make it measure signing rather than Locust's HTTP client and framework.

    BENCH_ENDPOINT=http://127.0.0.1:PORT BENCH_SECONDS=8 \
        python -m locust -f benchmarks/load_generator_locust_fasthttp.py --headless ...
"""

from __future__ import annotations

import json
import os

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials
from locust import FastHttpUser, constant, task

from benchmarks.locust_progress import report_every_second
from profiler.loadtest.protocol import CONTENT_TYPE, TARGET_PREFIX, SigV4Signer, endpoint_for
from profiler.loadtest.spec import WorkloadSpec
from profiler.loadtest.workload import RequestFactory, Target

SPEC = WorkloadSpec(operations={"put": 1, "get": 1}, item_size=200, key_space=10_000, concurrency=64)
TARGET = Target(table="bench", hash_key="pk", hash_type="S", range_key="sk", range_type="S")
FACTORY = RequestFactory(SPEC, TARGET, seed=1)
REGION = "us-east-1"
URL = endpoint_for(REGION, os.environ["BENCH_ENDPOINT"])
CREDENTIALS = ReadOnlyCredentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"],
                                  os.environ.get("AWS_SESSION_TOKEN"))
SIGNER = SigV4Signer(REGION, URL)
COMPLETED = 0


def lean_headers(api: str, body: bytes) -> dict[str, str]:
    return SIGNER.headers(CREDENTIALS, api, body)


def botocore_headers(api: str, body: bytes) -> dict[str, str]:
    request = AWSRequest(method="POST", url=URL, data=body,
                         headers={"Content-Type": CONTENT_TYPE, "X-Amz-Target": TARGET_PREFIX + api})
    SigV4Auth(CREDENTIALS, "dynamodb", REGION).add_auth(request)
    return dict(request.headers.items())


SIGN = botocore_headers if os.environ.get("BENCH_SIGNER") == "botocore" else lean_headers


class DynamoFastHttpUser(FastHttpUser):
    host = URL.rstrip("/")
    wait_time = constant(0)
    concurrency = 1  # one request at a time per user: 64 users, 64 connections, as the engine keeps
    network_timeout = connection_timeout = 10.0

    @task
    def one_request(self):
        global COMPLETED
        api, params, _ = FACTORY.build(FACTORY.next_operation())
        body = json.dumps(params, separators=(",", ":")).encode()
        response = self.client.post("/", data=body, headers=SIGN(api, body), name=api)
        if response.status_code == 200:  # Locust itself counts a failure for any other status
            json.loads(response.content)
            COMPLETED += 1


report_every_second(lambda: COMPLETED)
