"""The progress a Locust anchor of benchmarks/load_generator.py prints: "BENCH <completed> <process CPU s>" every
second for BENCH_SECONDS seconds, then the run stops; the benchmark reads requests per CPU-second from it."""

from __future__ import annotations

import os
import time
from typing import Callable

import gevent
from locust import events


def report_every_second(completed: Callable[[], int]) -> None:
    """Print ``completed()`` and this process's CPU time each second once the Locust run starts."""

    def report(environment):
        # Timed with perf_counter, not Locust's --run-time: gevent's loop clock is stale after a locustfile's slow
        # imports and fired a 4 s run-time after 1.3 s.
        started = time.perf_counter()
        while time.perf_counter() - started < float(os.environ["BENCH_SECONDS"]):
            gevent.sleep(1.0)
            print(f"BENCH {completed()} {time.process_time():.4f}", flush=True)
        environment.runner.quit()

    @events.test_start.add_listener
    def start(environment, **_):
        gevent.spawn(report, environment)
