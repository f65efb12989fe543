"""DynamoDB load tests on the user's playground tables: workload specs, the engine (in-process, or scaled out
over Locust workers), HDR-histogram statistics and the stored runs. No UI code: dashboards subscribe to the
per-interval records."""

from .engine import LoadTest
from .guard import CapacityWarning
from .spec import OPERATIONS, SpecError, WorkloadSpec
from .store import DynamoRunStore, FileRunStore, Run, RunInfo, compare

__all__ = ["LoadTest", "CapacityWarning", "OPERATIONS", "SpecError", "WorkloadSpec", "DynamoRunStore",
           "FileRunStore", "Run", "RunInfo", "compare"]
