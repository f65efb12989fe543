"""Kernels kept ready for the dashboards are released while nobody uses the server, and come back when someone does.

Preheated pools (one kernel per dashboard that has run it) and warm kernels buy fast dashboards, but a signed-in
person who is not using their server pays for them all the time. After :attr:`IdleRelease.release_after` seconds
without use, the kernels waiting for a page are shut down (kernels a page or a notebook has are never touched);
the server then holds only itself. The first use after that (a request to the server's API, which JupyterLab
makes as soon as it opens, or a dashboard page) starts them again, under the same rules as at the server's start
(quiet machine, lower priority, most-opened first); a dashboard page opened right then is rendered on request,
as before its pool had filled.

"Use" is what jupyter_server counts as the server's activity (API requests, terminals, kernels' messages) plus
dashboard pages, which this module adds to it (the ``*_last_activity`` setting jupyter_server reads for
extensions, so the hub's idle culler sees a page being opened as activity too), less the ready kernels' own
messages: a pool kernel running its dashboard in advance, which on a busy machine happens minutes after the
person left, is the server's doing, not a person's.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timezone
from typing import Any, Callable

from traitlets import Float
from traitlets.config import LoggingConfigurable

# jupyter_server counts every setting whose name ends with "_last_activity" in its last activity
PAGE_ACTIVITY_SETTING = "workbench_page_last_activity"


def _now() -> datetime:
    return datetime.now(timezone.utc)


class IdleRelease(LoggingConfigurable):
    """A mixin of the users' servers' kernel manager. Which kernels are ready, releasing and bringing them back
    are the manager's own (``_ready_kernel_ids``, ``_release_ready_kernels``, ``_start_ready_kernels_again``),
    as is ``_waiting_to_start``, the tasks of ready kernels still waiting for a quieter machine."""

    release_after = Float(
        600.0,
        min=0.0,
        config=True,
        help="""Seconds without use of the server after which the kernels kept ready for the dashboards (pools
        and warm kernels) are shut down, until the next use. 0 never releases them.""",
    )

    def watch_for_idleness(self, settings: dict[str, Any]) -> None:
        """Start watching; ``settings`` are the web application's, where page activity is noted and the rest of
        the server's activity read."""
        self._web_settings = settings
        self._released_at: datetime | None = None
        if self.release_after > 0:
            # held here: the event loop keeps only a weak reference to a task
            self._watching = asyncio.get_event_loop().create_task(self._watch())

    def note_page_activity(self) -> None:
        """A dashboard page was asked for: use of the server (jupyter_server counts it as activity too)."""
        settings = getattr(self, "_web_settings", None)
        if settings is not None:
            settings[PAGE_ACTIVITY_SETTING] = _now()

    def last_use(self) -> datetime:
        """When a person last used the server: its requests, pages, terminals and kernels other than ready ones."""
        settings = self._web_settings
        moments = [settings["started"], *settings.get("last_activity_times", {}).values()]
        moments += [moment for name, moment in settings.items() if name.endswith("_last_activity") and moment]
        ready = self._ready_kernel_ids()
        for kernel_id in self.list_kernel_ids():
            if kernel_id not in ready:
                with contextlib.suppress(KeyError):
                    moments.append(getattr(self.get_kernel(kernel_id), "last_activity", None))
        return max(moment for moment in moments if moment is not None)

    def _check_interval(self) -> float:
        return max(0.5, min(30.0, self.release_after / 5))

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._check_interval())
            try:
                await self.check_idleness()
            except Exception:  # a failed pass is logged; the next one tries again
                self.log.exception("Could not release or restore the kernels kept ready for the dashboards")

    async def check_idleness(self) -> None:
        """Release the ready kernels after ``release_after`` seconds without use; start them again on the first use
        since."""
        if self._released_at is None:
            idle = (_now() - self.last_use()).total_seconds()
            if idle >= self.release_after:
                # from now on, a request or a page is someone coming back, even one while the kernels shut down
                self._released_at = _now()
                count = await self._release_ready_kernels()
                self.log.info("Released %d kernel(s) kept ready for the dashboards: the server was not used for "
                              "%.0f s", count, idle)
            return
        if self.last_use() > self._released_at:
            self._released_at = None
            self.log.info("The server is in use again: starting the kernels kept ready for the dashboards")
            self._start_ready_kernels_again()

    async def _shut_down_ready(self, tasks: list[asyncio.Task], kernel_of: Callable[[Any], str]) -> int:
        """Shut down the kernels ``tasks`` started, cancel those still waiting to start one, and shut down the
        kernel of those starting one once it is up (cancelling them could leave a launched kernel behind); how
        many."""
        released = 0
        for task in tasks:
            if task.done():
                if task.cancelled() or task.exception() is not None:
                    continue
                await self._shut_down_quietly(kernel_of(task.result()))
            elif task in self._waiting_to_start:
                task.cancel()
            else:
                task.add_done_callback(lambda done: None if done.cancelled() or done.exception() is not None else
                                       asyncio.ensure_future(self._shut_down_quietly(kernel_of(done.result()))))
            released += 1
        return released

    async def _shut_down_quietly(self, kernel_id: str) -> None:
        with contextlib.suppress(KeyError):  # already gone: culled, or taken by a page and closed
            await self.shutdown_kernel(kernel_id, now=True)

    def _ready_kernel_ids(self) -> set[str]:
        raise NotImplementedError

    async def _release_ready_kernels(self) -> int:
        raise NotImplementedError

    def _start_ready_kernels_again(self) -> None:
        raise NotImplementedError
