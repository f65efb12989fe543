r"""The benchmark's anchor: Locust users calling boto3, driving the same requests as the engine (built by the same
RequestFactory). Prints ``BENCH <completed requests> <process CPU seconds>`` every second for
benchmarks/load_generator.py, which measures the steady state between two samples.

    BENCH_ENDPOINT=http://127.0.0.1:PORT BENCH_SECONDS=8 \
        python -m locust -f benchmarks/load_generator_locust_boto3.py --headless ...
"""

from __future__ import annotations

import os

import boto3
from botocore.config import Config
from locust import User, constant, task

from benchmarks.locust_progress import report_every_second
from profiler.loadtest.spec import WorkloadSpec
from profiler.loadtest.workload import RequestFactory, Target

SPEC = WorkloadSpec(operations={"put": 1, "get": 1}, item_size=200, key_space=10_000, concurrency=64)
TARGET = Target(table="bench", hash_key="pk", hash_type="S", range_key="sk", range_type="S")
FACTORY = RequestFactory(SPEC, TARGET, seed=1)
CLIENT = boto3.client("dynamodb", endpoint_url=os.environ["BENCH_ENDPOINT"], region_name="us-east-1",
                      config=Config(max_pool_connections=256, retries={"mode": "standard"}))
METHODS = {"PutItem": CLIENT.put_item, "GetItem": CLIENT.get_item}
COMPLETED = 0


class Boto3User(User):
    wait_time = constant(0)

    @task
    def one_request(self):
        global COMPLETED
        api, params, _ = FACTORY.build(FACTORY.next_operation())
        METHODS[api](**params)
        COMPLETED += 1


report_every_second(lambda: COMPLETED)
