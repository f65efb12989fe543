"""The past-runs part of the load-test dashboard, on stored runs made here: the table's rows, the names runs go by,
and compared runs on one time-since-start axis."""

from __future__ import annotations

import math

import pytest

from dashboards import run_history
from dashboards.run_history import COLUMNS, RunHistory, caption, comparison_points, comparison_series, history_row, \
    load_text, mix_text, run_label
from profiler.loadtest import FileRunStore
from profiler.loadtest.stats import IntervalRecorder


def record(seq: int, start: float, seconds: float, requests: int, latency_us: int = 4000) -> dict:
    recorder = IntervalRecorder()
    for _ in range(requests):
        recorder.record("put", latency_us, error=None)
    return {"kind": "interval", "seq": seq, "phase": "measure", "start": start, "seconds": seconds,
            "elapsed": start - 1000.0 + seconds, "throughput": round(requests / seconds, 2), **recorder.snapshot()}


def store_run(store: FileRunStore, run_id: str, name: str, spec: dict, intervals: list[dict], status="finished"):
    store.begin(run_id, {"run_id": run_id, "name": name, "mode": "engine", "spec": spec,
                         "started": f"2026-12-07T{run_id[9:11]}:{run_id[11:13]}:{run_id[13:15]}.000+00:00"})
    for interval in intervals:
        store.append(run_id, interval)
    if status:
        store.finish(run_id, {"run_id": run_id, "status": status, "ended": "2026-12-07T10:42:13.000+00:00"})


def test_rows_say_what_ran_how_hard_and_how_it_went(tmp_path):
    store = FileRunStore(tmp_path)
    spec = {"operations": {"get": 1, "put": 3, "query": 0}, "concurrency": 8, "interval": 1.0}
    store_run(store, "20261207T104200.000-aaaaaa", "smoke-3", spec,
              [record(1, 1000.0, 1.0, 100), record(2, 1001.0, 1.0, 120), record(3, 1002.0, 0.02, 4)])
    store_run(store, "20261207T110000.000-bbbbbb", "", {"operations": {"get": 1}, "target_rate": 50.0}, [],
              status=None)
    history = RunHistory(store, on_select=lambda run_ids: None)
    history.refresh()
    assert [column["label"] for column in COLUMNS] == ["name", "when", "status", "mix", "concurrency / rate",
                                                       "duration", "requests", "req/s", "p50", "p99", "errors"]
    newest, smoke = history.table.rows
    assert newest["name"] == "run 11:00:00 UTC" and newest["status"] == "incomplete" and newest["requests"] == 0
    assert newest["load"] == "open 50/s" and newest["p99"] is None  # no requests: no percentile, shown as a dash
    assert smoke == {"run_id": "20261207T104200.000-aaaaaa", "name": "smoke-3", "when": "2026-12-07T10:42:00.000+00:00",
                     "status": "finished", "mix": "put 75% · get 25%", "load": "closed ×8", "duration": 2.02,
                     "requests": 224, "throughput": round(224 / 2.02, 2), "p50": smoke["p50"], "p99": smoke["p99"],
                     "errors": 0}
    assert math.isclose(smoke["p50"], 4.0, rel_tol=0.01) and math.isclose(smoke["p99"], 4.0, rel_tol=0.01)
    assert history.message.value == ""


def test_an_unreadable_run_is_listed_and_said_without_hiding_the_others(tmp_path, monkeypatch):
    store = FileRunStore(tmp_path)
    for run_id, name in (("20261207T104200.000-aaaaaa", "good"), ("20261207T104300.000-cccccc", "bad")):
        store_run(store, run_id, name, {"operations": {"get": 1}, "concurrency": 1}, [])

    def garbled(run):
        if run.config["name"] == "bad":
            raise ValueError("garbled")
        return history_row(run)

    monkeypatch.setattr(run_history, "history_row", garbled)
    history = RunHistory(store, on_select=lambda run_ids: None)
    assert [row["name"] for row in history.table.rows] == []
    history.refresh()
    assert [row["name"] for row in history.table.rows] == ["bad", "good"]
    assert history.table.rows[0]["status"] == "finished" and "requests" not in history.table.rows[0]
    assert "Could not read bad: garbled" in history.message.value


def test_names_and_captions():
    assert run_label("r1", "smoke-3", "2026-12-07T10:42:13.000+00:00") == "smoke-3"
    assert run_label("r1", "", "2026-12-07T10:42:13.000+00:00") == "run 10:42:13 UTC"
    assert run_label("r1", "", "") == "r1"
    assert caption("smoke-3", "finished", 1765104133.25) == "Run 'smoke-3' · finished {t:1765104133.250}"
    assert caption("", "stopped", None) == "Unnamed run · stopped"
    assert mix_text({"get": 1, "put": 3, "scan": 0}) == "put 75% · get 25%" and mix_text({}) == ""
    assert load_text({"concurrency": 8}) == "closed ×8" and load_text({"target_rate": 12.5}) == "open 12.5/s"


def test_compared_runs_share_a_time_since_start_axis(tmp_path):
    store = FileRunStore(tmp_path)
    store_run(store, "20261207T104200.000-aaaaaa", "a", {"concurrency": 1, "interval": 1.0},
              [record(1, 1000.0, 1.0, 10), record(2, 1001.0, 1.0, 20)])
    store_run(store, "20261207T110000.000-bbbbbb", "b", {"concurrency": 1, "interval": 0.5},
              [record(1, 5000.0, 0.5, 30), record(2, 5000.5, 0.5, 40), record(3, 5001.0, 0.01, 2)])
    history = RunHistory(store, on_select=lambda run_ids: None)
    runs, rows = history.compare(["20261207T104200.000-aaaaaa", "20261207T110000.000-bbbbbb"])
    assert [row["label"] for row in rows] == ["a", "b"]
    assert [spec["label"] for spec in comparison_series(["a", "b"])] == ["a req/s", "a p99", "b req/s", "b p99"]
    times, columns = comparison_points(runs)
    assert times == pytest.approx([0.5, 1.0, 1.01, 2.0])  # the 0.01 s sliver of b is drawn merged, at its end
    assert columns["run0-throughput"][1] == 10.0 and columns["run0-throughput"][3] == 20.0
    assert math.isnan(columns["run0-throughput"][0]) and math.isnan(columns["run1-throughput"][3])
    assert columns["run1-throughput"][:3] == [60.0, 80.0, round(42 / 0.51, 2)]
    assert [row["name"] for row in history.comparison.rows] == ["a", "b"] and history.figure.layout.display is None
    assert history.comparison.layout.display is None
