"""Runs survive the process that made them: a SIGKILLed engine leaves a readable run, losing at most the
interval it was in; runs can be listed, loaded and compared."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from profiler.loadtest import DynamoRunStore, FileRunStore, LoadTest, WorkloadSpec, compare
from testing.support import REPO_ROOT, wait_for


@pytest.mark.parametrize("where", ["runs table", "local file"])
@pytest.mark.slow  # an engine in a process of its own
def test_killed_engine_process_leaves_a_readable_run(playground, tmp_path, where):
    arguments = [playground.endpoint_url, playground.loadtest_table, playground.runs_table]
    if where == "local file":
        arguments.append(str(tmp_path))
        store = FileRunStore(tmp_path)
    else:
        store = DynamoRunStore(playground.client("dynamodb"), playground.runs_table)
    process = subprocess.Popen([sys.executable, "-m", "tests.loadtest.engine_process", *arguments],
                               cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True,
                               env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)))
    try:
        run_id = process.stdout.readline().strip()
        assert run_id, "the engine process did not start"
        wait_for(lambda: len(store.load(run_id).intervals) >= 3, timeout=30, what="three stored intervals")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()

    run = store.load(run_id)
    assert run.status == "incomplete"
    assert run.config["spec"]["duration"] == 120
    assert [r["seq"] for r in run.intervals] == list(range(1, len(run.intervals) + 1))
    summary = run.summary()
    assert summary["requests"] == sum(r["requests"] for r in run.intervals) > 0
    assert summary["latency_us"]["count"] == summary["requests"]
    assert [(info.run_id, info.status) for info in store.list_runs()] == [(run_id, "incomplete")]


def test_a_truncated_last_line_loses_only_that_interval(tmp_path):
    store = FileRunStore(tmp_path)
    store.begin("r1", {"name": "cut", "started": "2026-01-01T00:00:00Z", "spec": {}})
    store.append("r1", {"seq": 1, "phase": "measure", "requests": 3, "seconds": 1.0})
    with open(tmp_path / "r1.jsonl", "a") as handle:
        handle.write('{"kind":"interval","seq":2,"requ')  # the process died mid-write
    run = store.load("r1")
    assert [r["seq"] for r in run.intervals] == [1] and run.status == "incomplete"


@pytest.mark.slow  # two timed runs
def test_past_runs_are_listed_loaded_and_compared(playground):
    runs = []
    for spec in [WorkloadSpec(operations={"get": 1}, concurrency=2, requests=20, name="closed"),
                 WorkloadSpec(operations={"put": 1}, target_rate=60, requests=20, name="open")]:
        test = LoadTest(spec, playground=playground)
        test.start()
        assert test.wait(60)["status"] == "finished"
        runs.append(test.run_id)
    store = DynamoRunStore(playground.client("dynamodb"), playground.runs_table)
    infos = store.list_runs()
    assert [info.run_id for info in infos] == sorted(runs)
    assert [(info.name, info.status) for info in infos] == [("closed", "finished"), ("open", "finished")]
    rows = compare(store.load(run_id) for run_id in runs)
    assert [row["model"] for row in rows] == ["closed x2", "open 60/s"]
    assert [row["requests"] for row in rows] == [20, 20]
    for row in rows:
        assert row["p50_us"] <= row["p90_us"] <= row["p99_us"] <= row["p99.9_us"]


def test_runs_go_to_the_playground_runs_table_or_else_a_local_file(monkeypatch, playground):
    from profiler import playground as contract
    from profiler.loadtest import default_store

    for name in (contract.STACK_NAME, contract.LOADTEST_TABLE, contract.RUNS_TABLE):
        monkeypatch.delenv(name, raising=False)
    assert isinstance(default_store(), FileRunStore)
    monkeypatch.setenv(contract.STACK_NAME, playground.stack_name)
    monkeypatch.setenv(contract.LOADTEST_TABLE, playground.loadtest_table)
    monkeypatch.setenv(contract.RUNS_TABLE, playground.runs_table)
    store = default_store()
    assert isinstance(store, DynamoRunStore) and store.table == playground.runs_table
