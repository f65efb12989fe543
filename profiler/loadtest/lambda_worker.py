"""Load-test workers on AWS Lambda: :func:`handler` runs the engine (:class:`~.engine.LoadTest`) against one
table for a bounded time and returns what it measured, its latencies as one HDR histogram in HdrHistogram's own
encoding; :func:`run_workers` starts N of them at once and merges their figures exactly (counters summed,
histograms added bucket by bucket, so the merged percentiles are those of every request in one histogram).

The event::

    {"spec": WorkloadSpec(...).to_dict(), "table": "loadtest-...", "region": "us-east-1", "seconds": 300,
     "endpoint_url": null}

A worker runs for ``min(seconds, remaining invocation time - warm-up - MARGIN_S)``: Lambda ends an invocation
after 15 minutes at most, and a worker stopped by Lambda returns nothing, so it stops itself first. The
spec's ``duration`` / ``requests`` are replaced by that bound. A test longer than a function's timeout is split
into successive invocations by the caller; their results merge like workers'.

Deploying it (not tried on AWS itself: there is no AWS account here; moto's Lambda runs it, in a container
through podman's Docker API, in tests/images/test_lambda_under_moto.py): a zip or image of this package and its
dependencies, handler
``profiler.loadtest.lambda_worker.handler``, 1,769 MB of memory (one full vCPU: the engine is one asyncio loop),
a timeout up to 900 s, a role allowed ``dynamodb:DescribeTable`` and the data calls on the load-test table only.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Mapping

from ..inputs import InputError, shown
from ..playground import Playground
from .engine import LoadTest
from .spec import SpecError, WorkloadSpec
from .stats import merge_snapshots
from .store import Run, RunInfo

MARGIN_S = 10.0  # kept back from the invocation's remaining time: the stop, in-flight requests, the reply
STOP_GRACE_S = 5.0  # after the bound, how long in-flight requests may finish before they are abandoned
MAX_WORKERS = 1000  # Lambda's default concurrent executions per account and region
MAX_RAW_SECONDS = 30.0  # the raw-latency test hook is refused beyond this (a reply is at most 6 MB)

Invoke = Callable[[dict[str, Any]], dict[str, Any]]


class WorkerFailed(RuntimeError):
    """A worker's invocation ended in an error; the message is the worker's own."""


class DiscardedRuns:
    """A run store that keeps nothing: a worker's figures go back in its reply, the driver keeps the run."""

    def begin(self, run_id: str, config: dict[str, Any]) -> None:
        pass

    def append(self, run_id: str, record: dict[str, Any]) -> None:
        pass

    def finish(self, run_id: str, end: dict[str, Any]) -> None:
        pass

    def list_runs(self) -> list[RunInfo]:
        return []

    def load(self, run_id: str) -> Run:
        raise KeyError(run_id)


class LocalContext:
    """The part of Lambda's context object the handler reads, for running it outside Lambda."""

    def __init__(self, timeout_s: float = 900.0, request_id: str = "local"):
        self._deadline = time.monotonic() + timeout_s
        self.aws_request_id = request_id

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _number(event: Mapping[str, Any], name: str) -> float:
    value = event.get(name)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
        raise InputError(f"{name} must be a number of seconds > 0, got {shown(value)}", name)
    return float(value)


def bounded_seconds(requested: float, remaining_s: float, warmup: float) -> float:
    """How long a worker measures: what was asked, or what the invocation has left, whichever is shorter."""
    budget = remaining_s - MARGIN_S - warmup
    if budget <= 0:
        raise InputError(f"the invocation has {remaining_s:.1f} s left, less than the warm-up ({warmup:g} s) plus "
                         f"{MARGIN_S:g} s to stop and reply: raise the function's timeout", "seconds")
    return min(requested, budget)


def handler(event: Mapping[str, Any], context) -> dict[str, Any]:
    """Run the engine for a bounded time; reply with its merged measured figures and encoded histogram."""
    if not isinstance(event, Mapping):
        raise InputError(f"the event must be a JSON object, got {shown(event)}")
    requested = _number(event, "seconds")
    table, region = event.get("table"), event.get("region")
    if not isinstance(table, str) or not isinstance(region, str) or not region:
        raise InputError(f"table and region must be names, got {shown(table)} and {shown(region)}")
    spec = WorkloadSpec.from_dict({**(event.get("spec") or {}), "duration": None, "requests": None})
    seconds = bounded_seconds(requested, context.get_remaining_time_in_millis() / 1000, spec.warmup)
    spec = spec.replace(duration=seconds, table=table)
    keep_raw = bool(event.get("keep_raw_latencies"))
    if keep_raw and seconds > MAX_RAW_SECONDS:
        raise InputError(f"keep_raw_latencies is for tests of at most {MAX_RAW_SECONDS:g} s", "keep_raw_latencies")
    # No stack: the table is the one the function's role may load (its IAM policy is the limit, as on AWS).
    playground = Playground(stack_name="", loadtest_table=table, runs_table="", region=region,
                            endpoint_url=event.get("endpoint_url") or None)
    test = LoadTest(spec, playground=playground, store=DiscardedRuns(), keep_raw_latencies=keep_raw)
    cpu_started = time.process_time()
    test.start()
    end = test.wait(spec.warmup + seconds + STOP_GRACE_S)
    if end is None:
        test.cancel()
        end = test.wait(STOP_GRACE_S) or {"status": "cancelled"}
    measured = [record for record in test.intervals if record["phase"] == "measure"]
    reply = merge_snapshots(measured)
    reply.update(worker=event.get("worker", 0), status=end["status"], seconds_requested=requested,
                 seconds_bounded=round(seconds, 3), seconds=round(sum(r["seconds"] for r in measured), 3),
                 abandoned=end.get("abandoned", 0), error=end.get("error"),
                 process_cpu_s=round(time.process_time() - cpu_started, 3))
    if keep_raw:
        reply["raw_latencies_us"] = [value for record in measured for value in test.raw_latencies[record["seq"]]]
    return reply


def local_invoker(timeout_s: float = 900.0) -> Invoke:
    """Call the handler in this process, as Lambda would with a function timeout of ``timeout_s``."""
    return lambda event: handler(event, LocalContext(timeout_s, request_id=f"local-{event.get('worker', 0)}"))


def lambda_invoker(function_name: str, client) -> Invoke:
    """Invoke a deployed function synchronously through a boto3 Lambda client (read timeout above 900 s)."""

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        response = client.invoke(FunctionName=function_name, InvocationType="RequestResponse",
                                 Payload=json.dumps(event).encode())
        reply = json.loads(response["Payload"].read() or b"{}")
        if response.get("FunctionError"):
            raise WorkerFailed(f"worker {event.get('worker')}: {reply.get('errorType')}: {reply.get('errorMessage')}")
        return reply

    return invoke


def worker_events(event: Mapping[str, Any], workers: int) -> list[dict[str, Any]]:
    """One event per worker; a seeded spec gets seed, seed+1, ... so workers do not repeat each other's keys."""
    if not isinstance(workers, int) or isinstance(workers, bool) or not 1 <= workers <= MAX_WORKERS:
        raise SpecError([f"workers must be an integer from 1 to {MAX_WORKERS}, got {shown(workers)}"])
    spec = dict(event.get("spec") or {})
    events = []
    for index in range(workers):
        seed = spec.get("seed")
        events.append({**event, "worker": index,
                       "spec": {**spec, "seed": None if seed is None else seed + index}})
    return events


def run_workers(event: Mapping[str, Any], workers: int, invoke: Invoke) -> dict[str, Any]:
    """Start ``workers`` invocations at once and merge their replies exactly; ``workers`` lists each reply."""
    events = worker_events(event, workers)
    with ThreadPoolExecutor(max_workers=min(workers, 64), thread_name_prefix="lambda-worker") as pool:
        replies = list(pool.map(invoke, events))
    merged = merge_snapshots(replies)
    statuses = sorted({reply["status"] for reply in replies})
    merged.update(workers=replies, status=statuses[0] if len(statuses) == 1 else "mixed: " + ", ".join(statuses),
                  seconds=max(reply["seconds"] for reply in replies))
    merged["throughput"] = round(merged["requests"] / merged["seconds"], 2) if merged["seconds"] else 0.0
    return merged
