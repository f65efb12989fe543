"""The Locust mode: master and two workers as separate processes, their statistics merged into one stream."""

from __future__ import annotations

import re
import subprocess
import sys
import threading

import pytest

from profiler.loadtest import SpecError, WorkloadSpec
from profiler.loadtest import scaleout
from profiler.loadtest.scaleout import LocustLoadTest

from testing.support import REPO_ROOT

from .conftest import table_count


@pytest.mark.slow  # Locust worker processes
def test_two_locust_workers_produce_one_merged_stream(playground):
    pushed = []
    spec = WorkloadSpec(operations={"put": 1, "get": 1}, target_rate=60, requests=60, key_space=1_000_000, seed=11,
                        interval=0.5)
    test = LocustLoadTest(spec, workers=2, playground=playground, on_interval=pushed.append)
    test.start()
    end = test.wait(90)
    assert end["status"] == "finished", end
    intervals = [r for r in pushed if r["kind"] == "interval"]
    assert intervals and all(r["workers"] == 2 for r in intervals)
    # The requests budget is split between the workers and every one of them is counted once.
    assert sum(r["requests"] for r in intervals) == 60 == end["cumulative"]["requests"]
    assert end["cumulative"]["latency_us"]["count"] == 60
    written = sum(r["items_written"] for r in intervals)
    assert written == table_count(playground) > 0  # a million keys, seeded: no two puts hit the same item
    stored = test.store.load(test.run_id)
    assert stored.config["mode"] == "locust" and stored.status == "finished"
    assert stored.summary()["requests"] == 60


def test_the_kernel_side_never_imports_gevent_or_locust():
    code = ("import sys, profiler.loadtest, profiler.loadtest.scaleout; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('gevent', 'locust')))")
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              cwd=REPO_ROOT).stdout.strip()
    assert imported == "[]"


def test_more_workers_than_users_is_refused(playground):
    with pytest.raises(SpecError, match="3 workers need at least 3 users"):
        LocustLoadTest(WorkloadSpec(concurrency=2), workers=3, playground=playground)


def test_the_locustfile_reads_the_names_the_kernel_side_writes():
    source = scaleout.LOCUSTFILE.read_text()
    for name in ("JOB_VARIABLE", "RECORD_PREFIX"):
        value = re.search(rf'^{name} = "([^"]+)"', source, re.M).group(1)
        assert value == getattr(scaleout, name)


@pytest.mark.slow  # Locust worker processes
def test_stopping_a_locust_run_keeps_every_interval(playground):
    pushed = []
    two_intervals = threading.Event()

    def subscriber(record):
        pushed.append(record)
        if sum(r["kind"] == "interval" for r in pushed) >= 2:
            two_intervals.set()

    test = LocustLoadTest(WorkloadSpec(operations={"put": 1}, concurrency=2, duration=120, interval=0.5),
                          playground=playground, on_interval=subscriber)
    test.start()
    assert two_intervals.wait(60)
    test.stop()
    end = test.wait(60)
    assert end["status"] == "stopped"
    assert all(process.poll() is not None for process in test.processes)
    stored = test.store.load(test.run_id)
    assert stored.status == "stopped"
    assert [r["seq"] for r in stored.intervals] == [r["seq"] for r in pushed if r["kind"] == "interval"]
    assert stored.summary()["requests"] == end["cumulative"]["requests"] > 0
