"""The in-process engine against a real moto server: what it reports is what happened."""

from __future__ import annotations

import threading
import time

import pytest

from profiler.loadtest import LoadTest, WorkloadSpec
from profiler.loadtest.stats import PERCENTILES, decode_histogram, new_histogram

from .conftest import table_count

# Every test runs timed loads against the moto server (1-4 s each).
pytestmark = pytest.mark.slow

WRITES = {"put": 2, "update": 1, "batch_write": 1, "get": 1, "query": 1, "batch_get": 1}


def test_items_written_equal_what_the_table_holds_and_the_run_is_stored(playground):
    pushed = []
    spec = WorkloadSpec(operations=WRITES, requests=80, concurrency=4, key_space=300, items_per_key=2,
                        batch_size=5, item_size=200, interval=0.5, warmup=0.3, distribution="zipf", seed=7)
    test = LoadTest(spec, playground=playground, on_interval=pushed.append)
    test.start()
    end = test.wait(60)

    assert end["status"] == "finished"
    assert end["distinct_items_written"] == table_count(playground) > 0
    intervals = [r for r in pushed if r["kind"] == "interval"]
    measured = [r for r in intervals if r["phase"] == "measure"]
    assert sum(r["requests"] for r in measured) == 80 == end["cumulative"]["requests"]
    assert any(r["phase"] == "warmup" for r in intervals)
    assert sum(r["ok"] for r in intervals) == sum(r["requests"] for r in intervals)
    assert sum(r["consumed"]["write"] for r in intervals) > 0 and sum(r["consumed"]["read"] for r in intervals) > 0
    assert set().union(*(r["by_operation"] for r in intervals)) == set(WRITES)

    stored = test.store.load(test.run_id)  # the user's runs table in the playground
    assert stored.status == "finished"
    assert stored.config["spec"]["requests"] == 80 and stored.config["target"]["hash_key"] == "pk"
    assert [r["seq"] for r in stored.intervals] == [r["seq"] for r in intervals]
    assert stored.summary()["latency_us"] == end["cumulative"]["latency_us"]
    assert [info.run_id for info in test.store.list_runs()] == [test.run_id]


def exact_percentile(sorted_values: list[int], percentile: float) -> int:
    """The sample at HdrHistogram's rank for this percentile (nearest rank, rounded half up)."""
    rank = max(1, int(percentile * len(sorted_values) / 100 + 0.5))
    return sorted_values[rank - 1]


def assert_within_precision(reported: dict, raw: list[int]):
    reference = new_histogram()  # only for its bucket arithmetic, never fed the samples
    ordered = sorted(raw)
    assert reported["count"] == len(raw)
    if not raw:  # an interval in which nothing completed (moto paused) reports no percentiles
        assert set(reported) == {"count"}
        return
    for name, percentile in PERCENTILES.items():
        exact = exact_percentile(ordered, percentile)
        low = reference.get_lowest_equivalent_value(exact)
        high = reference.get_highest_equivalent_value(exact)
        assert low <= reported[name] <= high, (name, reported[name], exact)
        assert abs(reported[name] - exact) <= exact / 1000 + 1, (name, reported[name], exact)


def test_reported_percentiles_match_exact_percentiles_of_the_raw_latencies(playground):
    spec = WorkloadSpec(operations={"get": 1, "put": 1}, duration=1.0, concurrency=6, interval=0.25, key_space=50)
    test = LoadTest(spec, playground=playground, keep_raw_latencies=True)
    test.start()
    end = test.wait(60)
    raw = test.raw_latencies
    assert len(test.intervals) >= 3
    for record in test.intervals:
        assert_within_precision(record["latency_us"], raw[record["seq"]])
    everything = [value for values in raw.values() for value in values]
    assert_within_precision(end["cumulative"]["latency_us"], everything)
    assert end["cumulative"]["latency_us"]["mean"] == round(sum(everything) / len(everything), 1)
    assert all(0 <= record["client"]["process_cpu"] and record["client"]["stats_ms"] < 100
               for record in test.intervals)
    # Latencies are microseconds: moto answers in milliseconds, not in microseconds or seconds.
    assert 300 < end["cumulative"]["latency_us"]["p50"] < 2_000_000
    merged = new_histogram()
    for record in test.intervals:
        merged.add(decode_histogram(record["histogram"]))
    assert merged.get_total_count() == end["cumulative"]["requests"] == len(everything)


def test_start_returns_at_once_and_stats_arrive_every_interval(playground):
    arrivals = []
    kernel_thread = threading.current_thread()

    def subscriber(record):
        arrivals.append((time.monotonic(), threading.current_thread(), record))

    spec = WorkloadSpec(operations={"get": 1}, duration=1.6, concurrency=2, interval=0.4)
    test = LoadTest(spec, playground=playground, on_interval=subscriber)
    test.start()
    assert not test.done and test.status == "running"  # the caller got control back while the load runs
    test.wait(30)
    intervals = [(t, r) for t, thread, r in arrivals if r["kind"] == "interval"]
    # 1.6 s in 0.4 s intervals: four records (and the sliver after the deadline), pushed as the run goes on.
    assert 4 <= len(intervals) <= 5
    assert intervals[3][0] - intervals[0][0] > 0.6
    elapsed = [r["elapsed"] for _, r in intervals]
    assert elapsed == sorted(elapsed) and elapsed[0] < 0.9
    assert abs(sum(r["seconds"] for _, r in intervals) - elapsed[-1]) < 0.01
    assert all(thread is not kernel_thread for _, thread, _ in arrivals)
    assert arrivals[-1][2]["kind"] == "end"


def test_cancel_mid_run_keeps_what_was_recorded(playground):
    seen = threading.Event()
    pushed = []

    def subscriber(record):
        pushed.append(record)
        if record["kind"] == "interval" and record["seq"] == 2:
            seen.set()

    test = LoadTest(WorkloadSpec(operations={"put": 1}, duration=60, concurrency=3, interval=0.3),
                    playground=playground, on_interval=subscriber)
    test.start()
    assert seen.wait(20)
    cancelled_at = time.monotonic()
    test.cancel()
    end = test.wait(10)
    assert time.monotonic() - cancelled_at < 3
    assert end["status"] == "cancelled"
    stored = test.store.load(test.run_id)
    assert stored.status == "cancelled"
    intervals = [r for r in pushed if r["kind"] == "interval"]
    assert len(stored.intervals) == len(intervals) >= 2
    assert stored.summary()["requests"] == sum(r["requests"] for r in intervals) > 0
    # Writes completed before the cancel are all in the table; abandoned ones may or may not have landed.
    assert end["distinct_items_written"] <= table_count(playground) <= end["distinct_items_written"] + 3


def test_stop_lets_requests_in_flight_finish(playground):
    test = LoadTest(WorkloadSpec(operations={"put": 1}, duration=60, concurrency=3, interval=0.3,
                                 key_space=1_000_000), playground=playground)
    test.start()
    time.sleep(0.8)
    test.stop()
    end = test.wait(10)
    assert end["status"] == "stopped" and end["abandoned"] == 0
    assert end["distinct_items_written"] == table_count(playground) > 0


def test_open_model_counts_the_wait_behind_a_slow_table_as_latency(playground):
    # 300 requests due within 0.1 s, one at a time: moto serves them in sequence (about 1-2 ms each), so the last
    # ones wait for nearly the whole run. Measured from the actual send, every latency would be one moto call.
    # (150 due within 0.15 s was too close: a faster request signer brought the run under 0.3 s.)
    spec = WorkloadSpec(operations={"get": 1}, target_rate=3000, requests=300, max_in_flight=1, interval=0.5)
    test = LoadTest(spec, playground=playground)
    test.start()
    end = test.wait(60)
    cumulative = end["cumulative"]
    run_seconds = cumulative["seconds"]
    assert cumulative["requests"] == 300
    assert run_seconds > 0.3, "moto answered 300 sequential requests too fast for this test to mean anything"
    backlog = run_seconds - 0.1
    assert cumulative["latency_us"]["p99"] > 0.8 * backlog * 1e6, (cumulative["latency_us"], run_seconds)
    assert cumulative["latency_us"]["p50"] > 0.3 * backlog * 1e6


def test_a_slow_open_model_run_stops_and_cancels_at_once(playground):
    for end_it, status in [(LoadTest.stop, "stopped"), (LoadTest.cancel, "cancelled")]:
        test = LoadTest(WorkloadSpec(operations={"get": 1}, target_rate=0.1, duration=60), playground=playground)
        test.start()
        time.sleep(0.3)
        asked = time.monotonic()
        end_it(test)
        assert test.wait(9)["status"] == status
        assert time.monotonic() - asked < 5  # the next send was 10 s away


def test_slow_or_failing_subscribers_do_not_disturb_the_measurement(playground):
    slow_seen, good_seen = [], []

    def slow(record):
        time.sleep(0.25)
        slow_seen.append(record)

    def broken(record):
        raise RuntimeError("display gone")

    test = LoadTest(WorkloadSpec(operations={"get": 1}, duration=1.0, concurrency=2, interval=0.1),
                    playground=playground, on_interval=slow)
    test.subscribe(broken)
    test.subscribe(good_seen.append)
    test.start()
    end = test.wait(30)
    assert end["status"] == "finished"
    # The engine cut its intervals on time although the slow subscriber needed 0.25 s for each one (called
    # inline, it would have stretched every interval past 0.25 s)...
    seconds = sorted(r["seconds"] for r in test.intervals if r["phase"] == "measure")
    assert len(seconds) >= 6 and seconds[len(seconds) // 2] < 0.2, seconds
    # ...and every subscriber still got every record, in order, before wait() returned.
    assert [r["seq"] for r in slow_seen if r["kind"] == "interval"] == [r["seq"] for r in test.intervals]
    assert slow_seen == good_seen and good_seen[-1]["kind"] == "end"
    assert len(test.subscriber_errors) == len(good_seen) and "display gone" in test.subscriber_errors[0]
