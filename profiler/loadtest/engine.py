"""The load-test engine: runs a workload against a DynamoDB table from its own thread and asyncio loop, so the
kernel (and a Voila dashboard) stays responsive, and pushes one statistics record per interval to subscribers
and to the run store.

    test = LoadTest(WorkloadSpec(target_rate=100, duration=30), on_interval=graph.update)
    test.start()            # returns at once with the run id
    test.stop()             # finish in-flight requests, then end the run   (or test.cancel(): abandon them)
    summary = test.wait()   # the end record; the run itself: test.store.load(test.run_id)

Subscribers are called in order from a delivery thread of their own: a slow or failing subscriber (a busy
browser, a broken display) delays only its own updates, never the load or the latencies it measures.

Each request counts in the phase it was sent in: warm-up records are marked ``phase: "warmup"`` and
left out of the cumulative figures (requests sent during warm-up that complete after it arrive in one late
warm-up record of length 0), so ``requests=N`` measures exactly N requests.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
import traceback
import warnings
from datetime import datetime, timezone
from typing import Any, Callable

from ..playground import NoPlayground, Playground, current
from .guard import CapacityWarning, capacity_warnings, check_table_is_theirs
from .spec import MAX_DURATION_S, SpecError, WorkloadSpec, checked_spec
from .stats import CumulativeStats, IntervalRecorder, interval_boundaries
from .store import BackgroundJobs, DynamoRunStore, FileRunStore, RunStore
from .transport import DynamoHttpClient
from .workload import READ_API, RequestFactory, Target, check_fits, consumed_units, describe_target, items_read, \
    unprocessed_count

log = logging.getLogger(__name__)
Subscriber = Callable[[dict[str, Any]], None]
FINISHED, STOPPED, CANCELLED, FAILED = "finished", "stopped", "cancelled", "failed"


def new_run_id() -> str:
    """Sortable by start time, unique without coordination."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%f")[:-3] + "-" + secrets.token_hex(3)


def default_store(playground: Playground | None = None, client=None) -> RunStore:
    """Where runs are kept (see :mod:`.store`): the playground's runs table; a local file without a playground."""
    if playground is None:
        try:
            playground = current()
        except NoPlayground:
            return FileRunStore()
    return DynamoRunStore(client or playground.client("dynamodb"), playground.runs_table)


class RunBase:
    """What every way of running a spec shares: subscribers, the run store, the record stream, the end."""

    mode = ""

    def __init__(self, spec: WorkloadSpec, *, playground: Playground | None = None, store: RunStore | None = None,
                 on_interval: Subscriber | None = None):
        self.spec = checked_spec(spec)
        if on_interval is not None and not callable(on_interval):
            raise SpecError([f"on_interval must be a function on_interval(record) or None, got {on_interval!r}"[:200]])
        self.playground = playground if playground is not None else current()
        self._session = self.playground.boto3_session()  # one session: creating them costs ~0.1 s each
        self._dynamodb = self._session.client("dynamodb", endpoint_url=self.playground.endpoint_url)
        self.store = store if store is not None else default_store(self.playground, self._dynamodb)
        self.run_id: str | None = None
        self.status = "created"
        self.target: Target | None = None
        self.warnings: list[str] = []
        self.intervals: list[dict[str, Any]] = []
        self.result: dict[str, Any] | None = None
        self._subscribers: list[Subscriber] = [on_interval] if on_interval else []
        self._writer: BackgroundJobs | None = None
        self._deliveries: BackgroundJobs | None = None
        self._done = threading.Event()
        self._cumulative = CumulativeStats()
        self._seq = 0

    def subscribe(self, callback: Subscriber) -> None:
        self._subscribers.append(callback)

    @property
    def table(self) -> str:
        return self.spec.table or self.playground.loadtest_table

    def _prepare(self) -> None:
        if self.run_id is not None:
            raise RuntimeError("this load test was already started; make a new one to run again")
        check_table_is_theirs(self.playground, self.table)
        self.target = describe_target(self._dynamodb, self.table)
        check_fits(self.spec, self.target)
        self.warnings = capacity_warnings(self.spec, self.target, self.endpoint_is_local)
        for message in self.warnings:
            warnings.warn(message, CapacityWarning, stacklevel=3)
        self.run_id = new_run_id()
        config = {"run_id": self.run_id, "name": self.spec.name, "mode": self.mode,
                  "started": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                  "spec": self.spec.to_dict(), "target": self.target.to_dict(), "warnings": self.warnings}
        self.store.begin(self.run_id, config)  # synchronously: the run exists once start() returns
        self._writer = BackgroundJobs(f"loadtest-store-{self.run_id}")
        self._deliveries = BackgroundJobs(f"loadtest-subscribers-{self.run_id}")
        self.status = "running"

    @property
    def endpoint_is_local(self) -> bool:
        return bool(self.playground.endpoint_url)

    def _publish(self, snapshot: dict[str, Any], phase: str, started_wall: float, seconds: float,
                 elapsed: float, **extra) -> dict[str, Any]:
        self._seq += 1
        cumulative = self._cumulative.add(snapshot, seconds) if phase == "measure" else self._cumulative.summary()
        record = {"kind": "interval", "run_id": self.run_id, "seq": self._seq, "phase": phase,
                  "start": round(started_wall, 3), "seconds": round(seconds, 4), "elapsed": round(elapsed, 3),
                  "throughput": round(snapshot["requests"] / seconds, 2) if seconds > 0 else 0.0,
                  **snapshot, **extra, "cumulative": cumulative}
        self.intervals.append(record)
        self._writer.submit(self.store.append, self.run_id, record)
        self._deliveries.submit(self._deliver, record)
        return record

    def _deliver(self, record: dict[str, Any]) -> None:
        for callback in list(self._subscribers):
            try:
                callback(record)
            except Exception:  # a broken display must not stop the others
                log.exception("load-test subscriber failed")
                self._deliveries.failures.append(f"{callback!r}: {traceback.format_exc(limit=3)}")

    @property
    def subscriber_errors(self) -> list[str]:
        return self._deliveries.failures if self._deliveries else []

    def _finish(self, status: str, **extra) -> None:
        end = {"kind": "end", "run_id": self.run_id, "status": status,
               "ended": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
               "intervals": self._seq, "cumulative": self._cumulative.summary(), **extra}
        self._writer.submit(self.store.finish, self.run_id, end)
        self._writer.close()
        if self._writer.failures:
            end["store_failures"] = self._writer.failures
        self.result = end
        self.status = status
        self._deliveries.submit(self._deliver, end)
        self._deliveries.close()
        self._done.set()

    def wait(self, timeout: float | None = None) -> dict[str, Any] | None:
        """Block until the run ends (for scripts and tests; a notebook should subscribe instead)."""
        self._done.wait(timeout)
        return self.result

    @property
    def done(self) -> bool:
        return self._done.is_set()


class LoadTest(RunBase):
    """A load test run in this process, in its own thread and asyncio loop."""

    mode = "engine"

    def __init__(self, spec: WorkloadSpec, *, playground: Playground | None = None, store: RunStore | None = None,
                 on_interval: Subscriber | None = None, max_attempts: int = 3, keep_raw_latencies: bool = False):
        checked_spec(spec)
        if not isinstance(max_attempts, int) or isinstance(max_attempts, bool) or not 1 <= max_attempts <= 10:
            raise SpecError([f"max_attempts must be an integer from 1 to 10, got {max_attempts!r}"[:200]])
        super().__init__(spec, playground=playground, store=store, on_interval=on_interval)
        self.max_attempts = max_attempts
        self.raw_latencies: dict[int, list[int]] | None = {} if keep_raw_latencies else None  # test hook
        self._written_bits = bytearray((spec.items_in_key_space + 7) // 8)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop_requested = False
        self._cancel_requested = False
        self._in_flight: set[asyncio.Task] = set()
        self._issued_measured = 0
        self._abandoned = 0

    def start(self) -> str:
        """Check the spec against the table, store the run's config, start the load; returns the run id."""
        credentials = self._session.get_credentials()
        if credentials is None:
            raise RuntimeError("no AWS credentials for the playground (the hub hands them over; outside the hub "
                               "set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)")
        self._prepare()
        self._credentials = credentials
        self._frozen = credentials.get_frozen_credentials()
        started = threading.Event()
        self._thread = threading.Thread(target=self._thread_main, args=(started,), name=f"loadtest-{self.run_id}",
                                        daemon=True)
        self._thread.start()
        started.wait(10)
        return self.run_id

    def stop(self) -> None:
        """Send no more requests; the run ends once those in flight complete."""
        self._stop_requested = True
        self._in_engine_thread(self._wake_up)

    def cancel(self) -> None:
        """End now: requests in flight are abandoned (counted as ``abandoned``), everything recorded is kept."""
        self._cancel_requested = True
        self._stop_requested = True
        self._in_engine_thread(self._cancel_in_flight)

    def _in_engine_thread(self, callback) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(callback)
            except RuntimeError:
                pass  # the loop closed meanwhile: the run has ended

    @property
    def distinct_items_written(self) -> int:
        return int.from_bytes(self._written_bits, "little").bit_count()

    # --- the engine thread -------------------------------------------------------------------------------
    def _thread_main(self, started: threading.Event) -> None:
        try:
            asyncio.run(self._main(started))
        except BaseException as exc:  # the run must end with a record whatever happens
            log.exception("load test failed")
            if not self.done:
                self._finish(FAILED, error=repr(exc))
        finally:
            started.set()

    def _wake_up(self) -> None:
        self._wake.set()

    def _cancel_in_flight(self) -> None:
        self._wake.set()
        for task in list(self._in_flight):
            task.cancel()

    async def _main(self, started: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()  # interrupts the open model's wait for its next send time
        spec = self.spec
        self._factory = RequestFactory(spec, self.target, spec.seed)
        self._client = DynamoHttpClient(
            region=self.playground.region, endpoint_url=self.playground.endpoint_url,
            credentials=lambda: self._frozen, max_attempts=self.max_attempts,
            max_connections=spec.max_in_flight if spec.open_model else spec.concurrency)
        self._recorders = {"warmup": self._new_recorder(), "measure": self._new_recorder()}
        self._t0 = self._last_cut = time.perf_counter()
        self._cpu_mark = time.process_time()
        self._tick_lag = 0.0
        self._wall0 = time.time()
        self._warmup_end = self._t0 + spec.warmup
        self._deadline = self._warmup_end + spec.duration if spec.duration is not None else None
        started.set()
        ticker = asyncio.create_task(self._tick())
        status = FINISHED
        try:
            if spec.open_model:
                await self._open_model()
            else:
                await asyncio.gather(*(self._closed_worker() for _ in range(spec.concurrency)))
        except asyncio.CancelledError:
            pass
        finally:
            ticker.cancel()
            await self._client.close()
        if self._cancel_requested:
            status = CANCELLED
        elif self._stop_requested:
            status = STOPPED
        now = time.perf_counter()
        self._cut(now, "warmup" if now < self._warmup_end else "measure")
        self._finish(status, distinct_items_written=self.distinct_items_written, abandoned=self._abandoned)

    def _new_recorder(self) -> IntervalRecorder:
        recorder = IntervalRecorder()
        if self.raw_latencies is not None:
            recorder.raw_latencies = []
        return recorder

    def _may_issue(self, intended: float) -> bool:
        if self._stop_requested:
            return False
        if self._deadline is not None:
            return intended < self._deadline
        if intended < self._warmup_end:
            return True
        if intended >= self._warmup_end + MAX_DURATION_S:
            return False  # a request count the table cannot serve in the longest run allowed ends there too
        if self._issued_measured >= self.spec.requests:
            return False
        self._issued_measured += 1
        return True

    async def _closed_worker(self) -> None:
        while True:
            now = time.perf_counter()
            if not self._may_issue(now):
                return
            task = asyncio.current_task()
            self._in_flight.add(task)
            try:
                await self._request(now)
            except asyncio.CancelledError:
                self._abandoned += 1
                return
            finally:
                self._in_flight.discard(task)

    async def _open_model(self) -> None:
        period = 1.0 / self.spec.target_rate
        slots = asyncio.Semaphore(self.spec.max_in_flight)
        intended = self._t0
        while True:
            delay = intended - time.perf_counter()
            if delay > 0.05:  # a low rate: stop and cancel must not wait for the next send time
                try:
                    await asyncio.wait_for(self._wake.wait(), delay)
                except asyncio.TimeoutError:
                    pass
            elif delay > 0:
                await asyncio.sleep(delay)
            if not self._may_issue(intended):
                break
            # Waiting for a slot delays the send but not the intended time: the wait is counted as latency.
            await slots.acquire()
            task = asyncio.create_task(self._request(intended))
            self._in_flight.add(task)
            task.add_done_callback(lambda t: (slots.release(), self._in_flight.discard(t)))
            intended += period
        if self._in_flight:
            results = await asyncio.gather(*self._in_flight, return_exceptions=True)
            self._abandoned += sum(isinstance(r, asyncio.CancelledError) for r in results)

    async def _request(self, intended: float) -> None:
        factory = self._factory
        operation = factory.next_operation()
        api, params, writes = factory.build(operation)
        reply = await self._client.call(api, params)
        latency_us = int((time.perf_counter() - intended) * 1e6)
        body = reply.body
        written = 0
        if reply.error is None and writes:
            if api == "BatchWriteItem" and body.get("UnprocessedItems"):
                left = factory.unprocessed_indexes(body)
                writes = [index for index in writes if index not in left]
            bits = self._written_bits
            for index in writes:
                bits[index >> 3] |= 1 << (index & 7)
            written = len(writes)
        units = consumed_units(body) if reply.error is None else 0.0
        is_read = operation in READ_API
        phase = "warmup" if intended < self._warmup_end else "measure"
        self._recorders[phase].record(
            operation, latency_us, error=reply.error, throttles=reply.throttles, retries=reply.retries,
            read_units=units if is_read else 0.0, write_units=0.0 if is_read else units, written=written,
            read=items_read(api, body) if reply.error is None else 0,
            unprocessed=unprocessed_count(api, body) if reply.error is None else 0)

    async def _tick(self) -> None:
        for boundary, phase in interval_boundaries(self.spec.warmup, self.spec.interval):
            delay = self._t0 + boundary - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            now = time.perf_counter()
            self._tick_lag = now - (self._t0 + boundary)
            self._cut(now, phase)
            self._frozen = self._credentials.get_frozen_credentials()

    def _cut(self, now: float, phase: str) -> None:
        if phase == "measure" and self._recorders["warmup"].requests:
            # Sent during warm-up, completed after it: reported as warm-up, never in the measured figures.
            self._emit("warmup", now, now)
        if not self._recorders[phase].requests and now - self._last_cut < self.spec.interval / 2:
            return  # an empty sliver (the end right after a boundary); an empty full interval is news: kept
        self._emit(phase, self._last_cut, now)
        self._last_cut = now

    def _emit(self, phase: str, start: float, now: float) -> None:
        recorder, self._recorders[phase] = self._recorders[phase], self._new_recorder()
        snapshot = recorder.snapshot()
        cpu = time.process_time()
        client = {
            # The generator's own load: near 1.0 core, or a tick lag of many ms, means the client (not the table)
            # is adding latency; the stats_ms are this engine's bookkeeping for the interval.
            "process_cpu": round((cpu - self._cpu_mark) / (now - start), 3) if now > start else 0.0,
            "tick_lag_ms": round(self._tick_lag * 1000, 2),
            "stats_ms": round((time.perf_counter() - now) * 1000, 2),
        }
        self._cpu_mark = cpu
        record = self._publish(snapshot, phase, self._wall0 + (start - self._t0), now - start, now - self._t0,
                               client=client)
        if self.raw_latencies is not None:
            self.raw_latencies[record["seq"]] = recorder.raw_latencies
