"""Statistics that merge: per-interval snapshots add up to the whole, percentiles as HdrHistogram defines them."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from profiler.loadtest.stats import PERCENTILES, IntervalRecorder, latency_summary, merge_snapshots, new_histogram

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
