"""Statistics that merge: per-interval snapshots add up to the whole, percentiles as HdrHistogram defines them."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from profiler.loadtest.stats import PERCENTILES, DrawnIntervals, IntervalRecorder, drawn_intervals, latency_summary, \
    merge_intervals, merge_snapshots, new_histogram

latencies = st.lists(st.integers(min_value=1, max_value=30_000_000), min_size=1, max_size=400)


@settings(max_examples=60, deadline=None)
@given(latencies)
def test_percentiles_are_hdrhistograms_own(values):
    histogram = new_histogram()
    for value in values:
        histogram.record_value(value)
    reference = histogram.get_percentile_to_value_dict(list(PERCENTILES.values()))
    summary = latency_summary(histogram, sum(values))
    assert {name: summary[name] for name in PERCENTILES} == {name: reference[p] for name, p in PERCENTILES.items()}
    assert summary["mean"] == round(sum(values) / len(values), 1)


@settings(max_examples=40, deadline=None)
@given(latencies, st.integers(min_value=1, max_value=5))
def test_merged_intervals_equal_one_big_interval(values, parts):
    whole = IntervalRecorder()
    pieces = [IntervalRecorder() for _ in range(parts)]
    for index, value in enumerate(values):
        operation = "get" if index % 3 else "put"
        error = "ValidationException" if index % 7 == 0 else None
        whole.record(operation, value, error=error, throttles=["T"] * (index % 2), retries=index % 2)
        pieces[index % parts].record(operation, value, error=error, throttles=["T"] * (index % 2), retries=index % 2)
    merged = merge_snapshots(piece.snapshot() for piece in pieces)
    expected = whole.snapshot()
    for field in ("requests", "ok", "errors", "throttles", "retries", "by_operation", "latency_us"):
        assert merged[field] == expected[field], field


def interval(start: float, seconds: float, requests: int, latency_us: int = 2000, errors: int = 0) -> dict:
    """An interval record as the engine publishes it: ``requests`` completed in ``seconds`` from ``start``."""
    recorder = IntervalRecorder()
    for index in range(requests):
        recorder.record("get", latency_us, error="Boom" if index < errors else None)
    snapshot = recorder.snapshot()
    return {"kind": "interval", "phase": "measure", "start": start, "seconds": seconds, "elapsed": start + seconds,
            "throughput": round(requests / seconds, 2) if seconds else 0.0, **snapshot}


def test_merged_intervals_rate_is_over_their_real_length():
    merged = merge_intervals([interval(100.0, 1.0, 100), interval(101.0, 0.01, 8, latency_us=9000, errors=2)])
    assert merged["requests"] == 108 and merged["seconds"] == 1.01
    assert merged["throughput"] == round(108 / 1.01, 2)
    assert merged["start"] == 100.0 and merged["start"] + merged["seconds"] == 101.01
    assert merged["errors"] == {"Boom": 2} and merged["latency_us"]["count"] == 108
    assert merged["latency_us"]["p50"] < 2100 < merged["latency_us"]["p99"]


def test_a_final_sliver_is_drawn_merged_so_the_rate_does_not_jump():
    # A closed run of ~100 req/s: one-second intervals, then the 6 requests in flight at the last tick complete
    # within 20 ms: on its own that sliver reads 300 req/s.
    records = [interval(100.0 + second, 1.0, 100) for second in range(3)] + [interval(103.0, 0.02, 6)]
    assert records[-1]["throughput"] == 300.0
    drawn = drawn_intervals(records, interval=1.0)
    assert len(drawn) == 4 and drawn[:3] == records[:3]
    assert drawn[-1]["throughput"] == round(106 / 1.02, 2)  # over the last full interval and the sliver
    assert drawn[-1]["start"] + drawn[-1]["seconds"] == 103.02
    assert all(abs(point["throughput"] - 100) < 5 for point in drawn)


def test_drawn_intervals_skip_empty_records_and_keep_half_intervals():
    drawer = DrawnIntervals(interval=1.0)
    assert drawer.add(interval(100.0, 0.0, 3)) is None  # a warm-up's late completions have no length
    first = interval(100.0, 1.0, 50)
    assert drawer.add(first) is first
    half = interval(101.0, 0.5, 25)  # half an interval is long enough to stand for itself
    assert drawer.add(half) is half
    assert drawer.add(interval(101.5, 0.1, 9))["requests"] == 34  # the sliver joins the one before it
    assert drawer.add(interval(101.6, 0.05, 1))["requests"] == 35  # and so does a second one
    assert DrawnIntervals(interval=1.0).add(interval(100.0, 0.1, 4))["throughput"] == 40.0  # nothing to join
