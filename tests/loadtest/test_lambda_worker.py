"""The Lambda load-test worker, run locally: each handler call runs the engine against a table on a real moto
server, and the driver merges several workers exactly.

Here the handler is called in this process with a context whose remaining time it must respect, as Lambda would
give it; tests/images/test_lambda_under_moto.py runs it as a function of moto's Lambda, in a container.
"""

from __future__ import annotations

import time

import pytest

from profiler.inputs import InputError
from profiler.loadtest import WorkloadSpec
from profiler.loadtest.lambda_worker import MARGIN_S, LocalContext, handler, local_invoker, run_workers
from profiler.loadtest.stats import decode_histogram, latency_summary, new_histogram

from .conftest import table_count
from .test_engine import assert_within_precision


def event_for(playground, spec: WorkloadSpec, seconds: float, **extra) -> dict:
    return {"spec": spec.to_dict(), "table": playground.loadtest_table, "region": playground.region,
            "endpoint_url": playground.endpoint_url, "seconds": seconds, **extra}


@pytest.mark.slow  # three engines against the moto server for 2 s
def test_three_workers_merge_into_the_histogram_of_every_request(playground):
    spec = WorkloadSpec(operations={"put": 1, "get": 1}, concurrency=3, key_space=1_000_000, seed=5)
    merged = run_workers(event_for(playground, spec, 2.0, keep_raw_latencies=True), 3, local_invoker(60))

    workers = merged["workers"]
    assert [w["worker"] for w in workers] == [0, 1, 2]
    assert all(w["status"] == "finished" and w["requests"] > 0 for w in workers), workers
    assert merged["status"] == "finished"
    assert merged["requests"] == sum(w["requests"] for w in workers) == merged["latency_us"]["count"]
    assert decode_histogram(merged["histogram"]).get_total_count() == merged["requests"]
    assert merged["latency_sum_us"] == sum(w["latency_sum_us"] for w in workers)

    # Every request's latency recorded in one histogram gives the same percentiles as the merged replies,
    # and those are within the histogram's 3 significant digits of the exact ones.
    samples = [value for w in workers for value in w["raw_latencies_us"]]
    assert len(samples) == merged["requests"]
    single = new_histogram()
    for value in samples:
        single.record_value(value)
    assert latency_summary(single, sum(samples)) == merged["latency_us"]
    assert_within_precision(merged["latency_us"], samples)

    # Seeded workers got seeds of their own: their puts landed on distinct items, all of them in the table.
    assert merged["items_written"] == table_count(playground) > 0


@pytest.mark.slow  # the engine against the moto server for ~1.5 s
def test_a_worker_stops_before_its_invocation_runs_out(playground):
    context = LocalContext(timeout_s=MARGIN_S + 1.5)
    started = time.monotonic()
    reply = handler(event_for(playground, WorkloadSpec(operations={"get": 1}, concurrency=2), 600), context)
    took = time.monotonic() - started
    assert reply["seconds_requested"] == 600 and reply["seconds_bounded"] <= 1.5
    assert reply["status"] == "finished" and reply["requests"] > 0
    assert reply["seconds"] <= 2.0 and took < MARGIN_S  # done with time to spare for the reply
    assert context.get_remaining_time_in_millis() > 0


def test_an_invocation_without_time_for_the_margin_is_refused_with_the_fix(playground):
    with pytest.raises(InputError, match="raise the function's timeout"):
        handler(event_for(playground, WorkloadSpec(), 30), LocalContext(timeout_s=MARGIN_S - 1))


def test_a_bad_event_names_the_field(playground):
    with pytest.raises(InputError, match="seconds must be a number of seconds > 0"):
        handler(event_for(playground, WorkloadSpec(), "forever"), LocalContext(60))
    with pytest.raises(InputError, match="unknown field"):
        handler({**event_for(playground, WorkloadSpec(), 1), "spec": {"rate": 5}}, LocalContext(60))
    with pytest.raises(InputError, match="workers must be an integer from 1 to 1000"):
        run_workers(event_for(playground, WorkloadSpec(), 1), 0, local_invoker(60))
