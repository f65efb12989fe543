"""Warm kernels: started in advance with the dashboards' code imported, handed to whichever dashboard is opened.

Voila's preheating keeps, per dashboard, a kernel that has already *run* it: the fastest page, but one kernel per
dashboard for every signed-in user, all the time. A warm kernel is the other trade: one kernel (or
:attr:`WarmKernels.warm_kernels`) that has started and imported the modules the dashboards' notebooks import,
and nothing else; Voila's page handler, rendering a dashboard on request, gets it instead of starting a kernel,
so the page waits only for the notebook's own few cells, not for a Python process and its imports. A new warm
kernel takes its place, under the same rules as the pools (``user_server/voila_preheat.py``: when the machine is
quiet enough, niced, the normal priority given back when taken).

Only pages of the dashboards folder get one: a notebook of the user's own starts its kernel as ever, in its own
folder, with nothing imported in advance.
"""

from __future__ import annotations

import asyncio
import os

from traitlets import Int, List, Unicode
from traitlets.config import LoggingConfigurable

# What makes a kernel request a dashboard page rendered on request: Voila's page handler sets this variable
# (to "False": the kernel was not preheated) in the environment of the kernel it starts.
VOILA_PAGE_MARK = "VOILA_PREHEAT"
WARM_MARK = "WORKBENCH_WARM_KERNEL"


def _process_runs(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie. The kernel manager's own check said "alive" for a
    killed kernel in a clean-clone run (a pool kernel killed, seen a zombie, and handed to a page 2 ms later);
    ``Popen.poll`` answering "still running" when another thread holds its lock is the likely reason."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False
    except OSError:  # no /proc (not Linux): the kernel manager's answer stands
        return True


class WarmKernels(LoggingConfigurable):
    """A mixin of the users' servers' kernel manager (:class:`~user_server.voila_preheat.PreheatingKernelManager`),
    which holds ``_start_now`` and ``_ready_processes``."""

    warm_kernels = Int(
        0,
        config=True,
        help="""Kernels kept started with the dashboards' modules imported, for dashboards rendered on request
        (no per-dashboard pool, or its kernel already taken). 0: none.""",
    )

    warm_imports = List(
        Unicode(),
        config=True,
        help="Modules a warm kernel imports in advance (those the dashboards' notebooks import).",
    )

    warm_folder = Unicode(
        "dashboards",
        config=True,
        help="The folder, relative to the server's root, whose notebooks' pages are given warm kernels.",
    )

    def start_warming(self) -> None:
        self._warm: list[asyncio.Task] = []
        self._fill_warm(delay=0.0)

    def _fill_warm(self, delay: float) -> None:
        loop = asyncio.get_event_loop()
        while len(self._warm) < self.warm_kernels:
            start_now = asyncio.Event()
            task = loop.create_task(self._start_when_quiet("a warm kernel", delay, start_now, self._start_warm))
            self._start_now[task] = start_now
            task.add_done_callback(self._warm_started)
            self._warm.append(task)

    async def _start_warm(self) -> str:
        lower = self._lower_priority()
        folder = os.path.join(self.root_dir, self.warm_folder)
        # the server's own environment, as a kernel Voila starts gets it, and a mark for the operators' metrics
        env = {**os.environ, WARM_MARK: "1", VOILA_PAGE_MARK: "True"}
        kernel_id = await super().start_kernel(kernel_name=None, path=self.warm_folder, env=env, **lower)
        client = self.get_kernel(kernel_id).client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=60)
            # a notebook without a module of its name (a published notebook of the user's own) imports nothing
            code = (f"import importlib\nfor _module in {list(self.warm_imports)!r}:\n"
                    "    try:\n        importlib.import_module(_module)\n    except ImportError:\n        pass\n"
                    "del importlib, _module")
            self._note_process(kernel_id)
            reply = await client.execute_interactive(code, store_history=False, timeout=120,
                                                     output_hook=lambda _message: None)
            if reply["content"]["status"] != "ok":
                self.log.warning("A warm kernel could not import %s in %s: %s", ", ".join(self.warm_imports),
                                 folder, reply["content"].get("evalue"))
        finally:
            client.stop_channels()
        return kernel_id

    def _note_process(self, kernel_id: str) -> None:
        """Remember which process a ready kernel is. jupyter_server restarts a kernel that dies, as a new process
        under the same id with none of what the dead one ran or imported, so being alive is not being ready."""
        self._ready_processes[kernel_id] = self._process_of(kernel_id)

    def _process_of(self, kernel_id: str) -> int | None:
        return getattr(getattr(self.get_kernel(kernel_id), "provisioner", None), "pid", None)

    async def _still_ready(self, kernel_id: str) -> bool:
        """Whether a ready kernel is alive and still the process that got ready (forgotten either way: asked when a
        page takes it)."""
        try:
            kernel = self.get_kernel(kernel_id)
        except KeyError:
            return False
        process = self._ready_processes.pop(kernel_id, None)
        return (await kernel.is_alive() and self._process_of(kernel_id) == process
                and (process is None or _process_runs(process)))

    def _warm_started(self, task: asyncio.Task) -> None:
        self._start_now.pop(task, None)
        if task.cancelled():
            return
        if task.exception() is not None:
            self.log.error("A warm kernel failed to start: %r", task.exception())
            if task in self._warm:
                self._warm.remove(task)

    def _is_dashboard_page(self, path: str | None, env: dict | None) -> bool:
        folder = os.path.normpath(os.path.join(self.root_dir, self.warm_folder))
        where = os.path.normpath(os.path.join(self.root_dir, path or ""))
        return (env or {}).get(VOILA_PAGE_MARK) == "False" and where == folder

    async def start_kernel(self, kernel_name=None, **kwargs):
        warm = getattr(self, "_warm", [])
        if warm and kwargs.get("kernel_id") is None and self._is_dashboard_page(kwargs.get("path"), kwargs.get("env")):
            task = warm.pop(0)
            if task in self._start_now:
                self._start_now.pop(task).set()  # a page waits for it: no more waiting for a quiet machine
            self._fill_warm(delay=self.fill_delay)
            try:
                kernel_id = await task
            except Exception:  # noqa: BLE001 - logged by _warm_started; the page gets a kernel of its own
                return await super().start_kernel(kernel_name=kernel_name, **kwargs)
            if not await self._still_ready(kernel_id):
                self.log.warning("Warm kernel %s died before a page took it; the page gets a new one", kernel_id)
                await self.shutdown_kernel(kernel_id, now=True)
                return await super().start_kernel(kernel_name=kernel_name, **kwargs)
            self._restore_priority(kernel_id)
            self.log.info("Using a warm kernel (%s) for a dashboard in %s", kernel_id, self.warm_folder)
            return kernel_id
        return await super().start_kernel(kernel_name=kernel_name, **kwargs)

    async def cull_kernel_if_idle(self, kernel_id: str):
        for task in getattr(self, "_warm", []):  # waiting warm kernels are idle by design
            if task.done() and not task.cancelled() and task.exception() is None and task.result() == kernel_id:
                return
        return await super().cull_kernel_if_idle(kernel_id)
