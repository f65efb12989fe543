"""DynamoDB load tests on the user's playground tables: workload specs, the engine (in-process, or scaled out
over Locust worker processes), HDR-histogram statistics and the stored runs. No UI code: dashboards subscribe to
the per-interval records.

    from profiler.loadtest import LoadTest, WorkloadSpec, default_store, compare
    test = LoadTest(WorkloadSpec(operations={"get": 3, "put": 1}, target_rate=100, duration=30), on_interval=print)
    test.start()
    store = default_store()                      # the runs table of your playground
    compare(store.load(info.run_id) for info in store.list_runs())

May import boto3/botocore, httptools, hdrhistogram, numpy, :mod:`profiler.playground` and :mod:`profiler.inputs`;
Locust only in the worker processes (``locustfile``), never in the kernel.
"""

from .engine import LoadTest, default_store
from .guard import CapacityWarning
from .scaleout import LocustLoadTest
from .spec import OPERATIONS, SpecError, WorkloadSpec
from .store import DynamoRunStore, FileRunStore, Run, RunInfo, compare

__all__ = ["LoadTest", "LocustLoadTest", "CapacityWarning", "OPERATIONS", "SpecError", "WorkloadSpec",
           "DynamoRunStore", "FileRunStore", "Run", "RunInfo", "compare", "default_store"]
