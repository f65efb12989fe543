"""The scale-out mode's locustfile: loaded only by Locust master and worker *processes* (``python -m locust -f``),
never imported into the kernel (Locust monkey-patches with gevent, which hangs an IPython kernel).

Workers run the job's spec with the same request builder, protocol and HDR statistics as the in-process engine,
over geventhttpclient, and send one encoded snapshot per interval to the master (Locust's custom messages, over
its ZeroMQ channel, so workers can be on other machines). The master merges each interval of all workers, writes
it as one ``RECORD_PREFIX`` JSON line on stdout for :mod:`.scaleout`, and ends the run: after warm-up + duration,
when every worker spent its share of a request count, or on SIGUSR1 (a graceful stop from the kernel).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time

import gevent
import botocore.session
from geventhttpclient import HTTPClient
from locust import User, constant, events, task
from locust.runners import MasterRunner, WorkerRunner

from profiler.loadtest.protocol import Attempts, connection_error_code, endpoint_for, error_code, signed_headers
from profiler.loadtest.spec import WorkloadSpec
from profiler.loadtest.stats import IntervalRecorder, interval_boundaries, merge_snapshots
from profiler.loadtest.workload import READ_API, RequestFactory, Target, consumed_units, items_read, \
    unprocessed_count

JOB_VARIABLE = "PROFILER_LOADTEST_JOB"
RECORD_PREFIX = "PROFILER-LOADTEST "
INTERVAL_MESSAGE = "profiler_interval"

JOB = json.loads(os.environ[JOB_VARIABLE])
SPEC = WorkloadSpec.from_dict(JOB["spec"])
TARGET = Target(**JOB["target"])


class WorkerLoad:
    """This worker's share of the run: one request builder and one recorder for all its users (greenlets
    switch only on I/O, so no locks)."""

    def __init__(self, environment):
        runner = environment.runner
        self.runner = runner
        index, workers = runner.worker_index, JOB["workers"]
        seed = None if SPEC.seed is None else SPEC.seed + 7919 * index
        self.factory = RequestFactory(SPEC, TARGET, seed)
        self.recorders = {"warmup": IntervalRecorder(), "measure": IntervalRecorder()}
        self.url = endpoint_for(JOB["region"], JOB["endpoint_url"])
        self.http = HTTPClient.from_url(self.url, concurrency=JOB["users"], network_timeout=10,
                                        connection_timeout=10)
        # botocore's own chain: the keys a local worker gets in its environment, or the AWS config a Job's pod
        # mounts from the credentials Secret (spawner/kube_jobs.py), whose credential_process botocore runs again
        # before they expire; a worker reading only the environment found no keys in a pod (seen when the Job's
        # container ran here: tests/images/test_loadtest_worker_container.py)
        self._credentials = botocore.session.get_session().get_credentials()
        if self._credentials is None:
            raise RuntimeError("no AWS credentials for the load-test worker: neither AWS_ACCESS_KEY_ID nor an AWS "
                               "config (AWS_CONFIG_FILE) with a credential_process is set")
        self.t0 = time.perf_counter()
        self.warmup_end = self.t0 + SPEC.warmup
        self.deadline = self.warmup_end + SPEC.duration if SPEC.duration is not None else None
        self.budget = None
        if SPEC.requests is not None:
            self.budget = SPEC.requests // workers + (1 if index < SPEC.requests % workers else 0)
        self.issued = 0
        self.in_flight = 0
        self.seq = 0
        self.last_flush = self.t0
        self.last_completion = self.t0
        self.flusher = gevent.spawn(self._flush_loop)

    @property
    def credentials(self):
        """The keys to sign the next request with (refreshed by botocore when they come from a config)."""
        return self._credentials.get_frozen_credentials()

    def may_issue(self, intended: float) -> bool:
        if self.deadline is not None:
            return intended < self.deadline
        if intended < self.warmup_end:
            return True
        if self.issued >= self.budget:
            return False
        self.issued += 1
        return True

    @property
    def exhausted(self) -> bool:
        now = time.perf_counter()
        over = now >= self.deadline if self.deadline is not None else self.issued >= self.budget
        return over and self.in_flight == 0

    def call(self, api: str, params: dict):
        body = json.dumps(params, separators=(",", ":")).encode()
        attempts = Attempts()
        while True:
            try:
                headers = signed_headers(self.credentials, JOB["region"], self.url, api, body)
                response = self.http.request("POST", "/", body=body, headers=headers)
                try:
                    payload = response.read()
                    status = response.status_code
                finally:
                    response.release()
                reply = json.loads(payload) if payload else {}
                code = error_code(status, reply)
            except (OSError, ValueError, gevent.Timeout) as exc:
                status, reply, code = 0, {}, connection_error_code(exc)
            final = attempts.after(status, reply, code)
            if final is not None:
                return final
            gevent.sleep(attempts.backoff())

    def request(self, intended: float) -> None:
        operation = self.factory.next_operation()
        api, params, writes = self.factory.build(operation)
        self.in_flight += 1
        try:
            reply = self.call(api, params)
        finally:
            self.in_flight -= 1
        self.last_completion = time.perf_counter()
        latency_us = int((self.last_completion - intended) * 1e6)
        body, ok = reply.body, reply.error is None
        written = 0
        if ok and writes:
            written = len(writes) - (len(self.factory.unprocessed_indexes(body)) if api == "BatchWriteItem" else 0)
        units = consumed_units(body) if ok else 0.0
        is_read = operation in READ_API
        phase = "warmup" if intended < self.warmup_end else "measure"
        self.recorders[phase].record(operation, latency_us, error=reply.error, throttles=reply.throttles,
                             retries=reply.retries, read_units=units if is_read else 0.0,
                             write_units=0.0 if is_read else units, written=written,
                             read=items_read(api, body) if ok else 0,
                             unprocessed=unprocessed_count(api, body) if ok else 0)

    def flush(self, boundary: float, phase: str, now: float | None = None) -> None:
        now = time.perf_counter() if now is None else now
        recorder, self.recorders[phase] = self.recorders[phase], IntervalRecorder()
        late = None
        if phase == "measure" and self.recorders["warmup"].requests:  # sent in warm-up, completed after it
            late, self.recorders["warmup"] = self.recorders["warmup"].snapshot(), IntervalRecorder()
        self.seq += 1
        self.runner.send_message(INTERVAL_MESSAGE, {
            "worker": self.runner.worker_index, "seq": self.seq, "phase": phase, "elapsed": round(boundary, 3),
            "seconds": now - self.last_flush, "exhausted": self.exhausted, "snapshot": recorder.snapshot(),
            "late_warmup": late})
        self.last_flush = now

    def _flush_loop(self) -> None:
        for boundary, phase in interval_boundaries(SPEC.warmup, SPEC.interval):
            gevent.sleep(max(0.0, self.t0 + boundary - time.perf_counter()))
            self.flush(boundary, phase)

    def final_flush(self) -> None:
        if self.flusher.dead:  # a worker stops twice (stop, then quit): one final interval
            return
        self.flusher.kill()
        # Idle time after this worker's part was done is not part of the interval (it would dilute the rate).
        now = time.perf_counter()
        if self.exhausted:
            now = max(self.last_flush, min(now, self.last_completion))
        elapsed = now - self.t0
        self.flush(elapsed, "warmup" if elapsed < SPEC.warmup else "measure", now)


WORKER: WorkerLoad | None = None


class DynamoUser(User):
    """One closed-model connection, or one open-model sender with its own share of the target rate."""

    wait_time = constant(0)

    def on_start(self):
        self.period = JOB["users"] / SPEC.target_rate if SPEC.open_model else 0.0
        self.intended = WORKER.t0 + random.random() * self.period

    @task
    def one_request(self):
        load = WORKER
        if SPEC.open_model:
            intended = self.intended
            delay = intended - time.perf_counter()
            if delay > 0:
                gevent.sleep(delay)
            self.intended += self.period
        else:
            intended = time.perf_counter()
        if not load.may_issue(intended):
            gevent.sleep(SPEC.interval)  # this user's part is done; the master ends the run
            return
        load.request(intended)


class MasterMerge:
    """Merges each interval of all workers into one record line, in order, and ends the run once."""

    def __init__(self, environment):
        self.environment = environment
        self.runner = environment.runner
        self.pending: dict[int, dict[int, dict]] = {}
        self.exhausted: dict[int, bool] = {}
        self.next_seq = 1
        self.ended = False
        self.runner.register_message(INTERVAL_MESSAGE, self.on_interval)
        gevent.signal_handler(signal.SIGUSR1, lambda: gevent.spawn(self.end, "stopped"))

    def on_interval(self, environment=None, msg=None, **_):
        data = msg.data
        self.pending.setdefault(data["seq"], {})[data["worker"]] = data
        self.exhausted[data["worker"]] = data["exhausted"]
        self.emit(complete_only=True)
        if SPEC.requests is not None and len(self.exhausted) == JOB["workers"] and all(self.exhausted.values()):
            gevent.spawn(self.end, "finished")

    def emit(self, complete_only: bool) -> None:
        while self.next_seq in self.pending:
            parts = self.pending[self.next_seq]
            if complete_only and len(parts) < JOB["workers"]:
                return
            del self.pending[self.next_seq]
            self.next_seq += 1
            elapsed = max(p["elapsed"] for p in parts.values())
            late = [p["late_warmup"] for p in parts.values() if p.get("late_warmup")]
            if late:
                self.print_line("warmup", elapsed, 0.0, len(parts), merge_snapshots(late))
            first = next(iter(parts.values()))
            self.print_line(first["phase"], elapsed, max(p["seconds"] for p in parts.values()), len(parts),
                            merge_snapshots(part["snapshot"] for part in parts.values()))
        if not complete_only and self.pending:  # a worker skipped a seq: emit what is left, in order
            self.next_seq = min(self.pending)
            self.emit(complete_only=False)

    @staticmethod
    def print_line(phase: str, elapsed: float, seconds: float, workers: int, merged: dict) -> None:
        line = {"kind": "interval", "phase": phase, "elapsed": elapsed, "seconds": seconds, "workers": workers,
                **merged}
        print(RECORD_PREFIX + json.dumps(line, separators=(",", ":")), flush=True)

    def timer(self) -> None:
        if SPEC.duration is not None:
            gevent.sleep(SPEC.warmup + SPEC.duration + min(SPEC.interval, 1.0))
            self.end("finished")

    def end(self, status: str) -> None:
        if self.ended:
            return
        self.ended = True
        self.runner.stop()  # returns once every worker stopped; their final intervals arrive before that
        gevent.sleep(0.2)
        self.emit(complete_only=False)
        print(RECORD_PREFIX + json.dumps({"kind": "end", "status": status}), flush=True)
        self.runner.quit()


MASTER: MasterMerge | None = None


@events.init.add_listener
def _on_init(environment, **_):
    global MASTER
    if isinstance(environment.runner, MasterRunner):
        MASTER = MasterMerge(environment)


@events.test_start.add_listener
def _on_test_start(environment, **_):
    global WORKER
    if isinstance(environment.runner, WorkerRunner):
        WORKER = WorkerLoad(environment)
    elif MASTER is not None:
        gevent.spawn(MASTER.timer)


@events.test_stop.add_listener
def _on_test_stop(environment, **_):
    if isinstance(environment.runner, WorkerRunner) and WORKER is not None:
        WORKER.final_flush()


if __name__ == "__main__":
    sys.exit("run through Locust: python -m locust -f profiler/loadtest/locustfile.py (see profiler.loadtest.scaleout)")
