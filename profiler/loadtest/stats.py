"""Per-interval statistics of a load test: counters plus an HDR latency histogram, mergeable across intervals,
processes and machines.

Latencies are recorded in microseconds from 1 µs to 10 minutes with 3 significant digits: a reported percentile
is within 0.1% of the exact one (HdrHistogram reports the highest value equivalent to the exact sample at that
rank). Histograms travel and are stored in HdrHistogram's standard compressed base64 encoding.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 600_000_000
SIGNIFICANT_DIGITS = 3
PERCENTILES = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "p99.9": 99.9}


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def decode_histogram(encoded: str | bytes) -> HdrHistogram:
    histogram = new_histogram()
    if encoded:  # an interval without completed requests stores ""
        histogram.decode_and_add(encoded.encode() if isinstance(encoded, str) else encoded)
    return histogram


def latency_summary(histogram: HdrHistogram, total_us: int) -> dict[str, float]:
    """Percentiles from the histogram; the mean from the exact sum (HdrHistogram's own mean walks every bucket
    in Python: ~0.3 s per call, which would stall the engine's loop)."""
    count = histogram.get_total_count()
    if not count:
        return {"count": 0}
    # HdrHistogram's own percentile walk, vectorised: its Python loop over ~20k buckets cost ~10-60 ms.
    cumulative = np.cumsum(np.ctypeslib.as_array(histogram.counts))
    summary = {}
    for name, percentile in PERCENTILES.items():
        index = int(np.searchsorted(cumulative, histogram.get_target_count_at_percentile(percentile)))
        summary[name] = histogram.get_highest_equivalent_value(histogram.get_value_from_index(index))
    summary.update(count=count, min=histogram.get_min_value(), max=histogram.get_max_value(),
                   mean=round(total_us / count, 1))
    return summary


class IntervalRecorder:
    """Everything recorded in one interval. Not thread-safe: one recorder per event loop or greenlet hub."""

    def __init__(self):
        self.histogram = new_histogram()
        self.requests = 0
        self.latency_sum_us = 0
        self.ok = 0
        self.by_operation: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.throttles: Counter[str] = Counter()
        self.retries = 0
        self.read_units = 0.0
        self.write_units = 0.0
        self.items_written = 0
        self.items_read = 0
        self.unprocessed = 0
        self.raw_latencies: list[int] | None = None  # test hook: set to [] to keep every sample

    def record(self, operation: str, latency_us: int, *, error: str | None, throttles: Iterable[str] = (),
               retries: int = 0, read_units: float = 0.0, write_units: float = 0.0, written: int = 0,
               read: int = 0, unprocessed: int = 0) -> None:
        self.requests += 1
        self.by_operation[operation] += 1
        latency_us = max(LOWEST_US, min(HIGHEST_US, latency_us))
        self.histogram.record_value(latency_us)
        self.latency_sum_us += latency_us
        if self.raw_latencies is not None:
            self.raw_latencies.append(latency_us)
        if error is None:
            self.ok += 1
        else:
            self.errors[error] += 1
        for reason in throttles:
            self.throttles[reason] += 1
        self.retries += retries
        self.read_units += read_units
        self.write_units += write_units
        self.items_written += written
        self.items_read += read
        self.unprocessed += unprocessed

    def snapshot(self) -> dict[str, Any]:
        """The interval's figures (without time fields, which the engine adds) and its encoded histogram."""
        return {
            "requests": self.requests,
            "ok": self.ok,
            "by_operation": dict(self.by_operation),
            "errors": dict(self.errors),
            "throttles": dict(self.throttles),
            "retries": self.retries,
            "consumed": {"read": round(self.read_units, 2), "write": round(self.write_units, 2)},
            "items_written": self.items_written,
            "items_read": self.items_read,
            "unprocessed": self.unprocessed,
            "latency_sum_us": self.latency_sum_us,
            "latency_us": latency_summary(self.histogram, self.latency_sum_us),
            "histogram": self.histogram.encode().decode() if self.requests else "",
        }


COUNTER_FIELDS = ("requests", "ok", "retries", "items_written", "items_read", "unprocessed", "latency_sum_us")
MAPPING_FIELDS = ("by_operation", "errors", "throttles")


def merge_snapshots(snapshots: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """One snapshot that sums counters and merges histograms (of several workers' same interval, or of many
    intervals)."""
    merged: dict[str, Any] = {name: 0 for name in COUNTER_FIELDS}
    for name in MAPPING_FIELDS:
        merged[name] = Counter()
    merged["consumed"] = {"read": 0.0, "write": 0.0}
    histogram = new_histogram()
    for snapshot in snapshots:
        for name in COUNTER_FIELDS:
            merged[name] += snapshot.get(name, 0)
        for name in MAPPING_FIELDS:
            merged[name].update(snapshot.get(name) or {})
        for kind in ("read", "write"):
            merged["consumed"][kind] += (snapshot.get("consumed") or {}).get(kind, 0)
        if snapshot.get("histogram"):
            histogram.decode_and_add(snapshot["histogram"].encode())
    for name in MAPPING_FIELDS:
        merged[name] = dict(merged[name])
    merged["consumed"] = {k: round(v, 2) for k, v in merged["consumed"].items()}
    merged["latency_us"] = latency_summary(histogram, merged["latency_sum_us"])
    merged["histogram"] = histogram.encode().decode() if histogram.get_total_count() else ""
    return merged


def merge_intervals(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Consecutive interval records as one record spanning them: counts summed, histograms merged, and the
    throughput over their summed real length (the only rate that stays true when the lengths differ)."""
    if not records:
        raise ValueError("merge_intervals needs at least one interval record")
    merged = merge_snapshots(records)
    seconds = sum(record.get("seconds", 0) for record in records)
    merged.update(kind="interval", phase=records[-1].get("phase"), start=records[0].get("start"),
                  seconds=round(seconds, 4), elapsed=records[-1].get("elapsed"),
                  throughput=round(merged["requests"] / seconds, 2) if seconds > 0 else 0.0)
    return merged


class DrawnIntervals:
    """The interval records a graph should draw, one point each, fed one record at a time as they arrive.

    A run's last interval ends when the run does, so it can be a sliver: the few requests still in flight when
    the last tick cut the interval complete within milliseconds, and their count over that sliver reads as a
    spike (or, sent at a low rate, a dip to zero). A record shorter than half the nominal ``interval`` is drawn
    merged with the drawn record before it: its rates over their combined real length, its percentiles from
    their merged histograms. Records without length (a warm-up's late completions) are not drawn.
    """

    def __init__(self, interval: float):
        self.interval = interval
        self._group: list[dict[str, Any]] = []

    def add(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """The record to draw for ``record`` (itself, or merged with the one before), or None: nothing to draw."""
        if not record.get("seconds", 0) > 0:
            return None
        if self._group and record["seconds"] < self.interval / 2:
            self._group.append(record)
            return merge_intervals(self._group)
        self._group = [record]
        return record


def drawn_intervals(records: Iterable[dict[str, Any]], interval: float) -> list[dict[str, Any]]:
    """What :class:`DrawnIntervals` draws for a whole run."""
    drawer = DrawnIntervals(interval)
    return [drawn for drawn in map(drawer.add, records) if drawn is not None]


class CumulativeStats:
    """Running totals of the measured phase (warm-up intervals are left out)."""

    def __init__(self):
        self.histogram = new_histogram()
        self.totals: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.throttles: Counter[str] = Counter()
        self.consumed = {"read": 0.0, "write": 0.0}
        self.seconds = 0.0

    def add(self, snapshot: dict[str, Any], seconds: float) -> dict[str, Any]:
        for name in COUNTER_FIELDS:
            self.totals[name] += snapshot.get(name, 0)
        for kind in self.consumed:
            self.consumed[kind] += (snapshot.get("consumed") or {}).get(kind, 0)
        self.errors.update(snapshot.get("errors") or {})
        self.throttles.update(snapshot.get("throttles") or {})
        if snapshot.get("histogram"):
            self.histogram.decode_and_add(snapshot["histogram"].encode())
        self.seconds += seconds
        return self.summary()

    def summary(self) -> dict[str, Any]:
        requests = self.totals["requests"]
        return {
            "requests": requests,
            "ok": self.totals["ok"],
            "errors": dict(self.errors),
            "throttles": dict(self.throttles),
            "retries": self.totals["retries"],
            "items_written": self.totals["items_written"],
            "consumed": {kind: round(units, 2) for kind, units in self.consumed.items()},
            "seconds": round(self.seconds, 3),
            "throughput": round(requests / self.seconds, 2) if self.seconds else 0.0,
            "latency_us": latency_summary(self.histogram, self.totals["latency_sum_us"]),
        }


def interval_boundaries(warmup: float, interval: float) -> Iterator[tuple[float, str]]:
    """(seconds since start, phase of the interval ending there), forever; warm-up ends on a boundary."""
    elapsed = 0.0
    while elapsed + interval < warmup - 1e-9:
        elapsed += interval
        yield elapsed, "warmup"
    if warmup > 0:
        yield warmup, "warmup"
    step = 0
    while True:
        step += 1
        yield warmup + step * interval, "measure"
