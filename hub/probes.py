"""The hub's two probes, each a task on the hub's event loop that the metrics page reports from (never run
during a scrape): whether the embedded local AWS answers (:class:`AwsProbe`) and how late the event loop runs what
is due (:class:`LoopLagProbe`).

May import prometheus_client and :mod:`spawner`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Coroutine

from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

log = logging.getLogger("workbench.metrics")

PROBE_INTERVAL = 15.0
PROBE_TIMEOUT = 5.0
# After a failed probe: the hub starts probing before its local AWS serves, and a recovery should show soon.
DOWN_RETRY = 2.0
LAG_INTERVAL = 0.1
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def running_once(task: asyncio.Task | None, run: Callable[[], Coroutine]) -> asyncio.Task | None:
    """``task`` while it runs; otherwise ``run()`` started as a new task on the running event loop (``task`` when
    there is no loop: the configuration may be loaded before the hub's loop runs)."""
    if task is not None and not task.done():
        return task
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return task
    return loop.create_task(run())


@dataclass
class AwsProbe:
    """The local AWS's last answer to :func:`spawner.stacks.endpoint_answers`, refreshed by :meth:`run`."""

    endpoint: str
    interval: float = PROBE_INTERVAL
    timeout: float = PROBE_TIMEOUT
    up: bool | None = None  # None until the first probe has answered
    response_seconds: float = 0.0
    task: asyncio.Task | None = field(default=None, repr=False)

    async def probe_once(self) -> None:
        from spawner.stacks import endpoint_answers

        started = time.monotonic()
        up = await endpoint_answers(self.endpoint, timeout=self.timeout)
        self.up, self.response_seconds = up, time.monotonic() - started

    async def run(self) -> None:
        while True:
            try:
                await self.probe_once()
            except Exception:  # a probe that breaks must not end the probing
                log.exception("Probing the local AWS at %s failed", self.endpoint)
                self.up = False
            await asyncio.sleep(self.interval if self.up else min(self.interval, DOWN_RETRY))

    def ensure_running(self) -> None:
        """Start :meth:`run` on the running event loop, unless it runs already; nothing without a loop."""
        self.task = running_once(self.task, self.run)


@dataclass
class LoopLagProbe:
    """Sleeps ``interval`` seconds in a loop on the hub's event loop and records how much later than asked it woke
    up: the time something else held the loop (a handler computing in it, a blocking call), as Node's and
    Tornado's own stall monitors measure it. Costs one wake-up per interval."""

    interval: float = LAG_INTERVAL
    buckets: tuple[float, ...] = LAG_BUCKETS
    counts: list[int] = field(default_factory=lambda: [0] * len(LAG_BUCKETS))
    total: int = 0
    total_seconds: float = 0.0
    largest: float = 0.0
    task: asyncio.Task | None = field(default=None, repr=False)

    def observe(self, lag: float) -> None:
        for index, bound in enumerate(self.buckets):
            if lag <= bound:
                self.counts[index] += 1
        self.total += 1
        self.total_seconds += lag
        self.largest = max(self.largest, lag)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.interval
            await asyncio.sleep(self.interval)
            self.observe(max(0.0, loop.time() - due))

    def ensure_running(self) -> None:
        """Start :meth:`run` on the running event loop, unless it runs already; nothing without a loop."""
        self.task = running_once(self.task, self.run)

    def families(self) -> list:
        histogram = HistogramMetricFamily(
            "workbench_hub_event_loop_lag_seconds", f"How much later than due the hub's event loop ran a timer "
            f"(checked every {self.interval:g} s): time the loop was held and answered nothing.")
        histogram.add_metric([], [(repr(bound), count) for bound, count in zip(self.buckets, self.counts, strict=True)]
                             + [("+Inf", self.total)], self.total_seconds)
        largest = GaugeMetricFamily("workbench_hub_event_loop_lag_max_seconds",
                                    "The largest event loop lag since the hub started.", value=self.largest)
        return [histogram, largest]
