"""Voila kernel preheating inside a Jupyter server: the dashboards open from kernels that already ran them.

Standalone Voila keeps a pool of kernels that have run a notebook (``--preheat_kernel``); a page load takes one
and only sends the rendered cells. Measured with voila 0.5.13 on a 2-core machine, time to the first widget on a
page was 7.8–9.1 s when a new kernel ran the whole notebook per page load, 3.2–3.4 s with ``--preheat_kernel=True
--pool_size=1``.

Users' servers run Voila as a Jupyter *server extension*, where Voila offers no preheating: its page handler
asks the server's kernel manager for ``notebook_data`` and ``get_pool_size`` and, when those are missing, starts
a new kernel per page load. This module supplies both halves:

* :class:`PreheatingKernelManager`, the server's kernel manager class (set in ``user_server/jupyter_config/``), is
  Voila's own pooling kernel manager with its construction and pool filling made independent of the standalone
  Voila app;
* the server extension in this module starts the pools once the server is set up, for the notebooks named in
  :data:`PREHEAT_VARIABLE` (the hub sets it: the offered dashboards, or the one a published server shows).

With the variable unset (JupyterLab outside the hub, tests) nothing is preheated and the kernel manager behaves as
jupyter_server's own. Only the listed notebooks are ever run in advance: running a notebook must be free of side
effects for it to be listed (the dashboards only build widgets until someone clicks).

Preheating never competes with people's logins and work:

* a pool kernel starts only once the machine's CPUs are less busy than
  :attr:`PreheatingKernelManager.busy_threshold` (or after :attr:`~PreheatingKernelManager.max_wait`), so twenty
  people logging in at once are not slowed by a hundred dashboards running in advance. A page never waits for
  it: before a dashboard's first pool kernel has run, a page is rendered on request, as without preheating, and
  a page asking for a kernel that waits to take a taken one's place starts it at once;
* it runs at a lower CPU priority (nice :attr:`~PreheatingKernelManager.preheat_niceness`) and gets the normal
  one back, every thread of it, the moment a page takes it. A process may only lower a nice value as far as its
  ``RLIMIT_NICE`` allows; the hub's spawner raises that limit, where the machine lets root do so, so the server's
  processes can come back to 0 and never below (``spawner/limits.py``). Where they could not come back, pool
  kernels keep the normal priority;
* the pools fill in the order the person has opened the dashboards most (counted in this server's data folder,
  by this server, as the user), the home page's order for ties and at first.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import resource
import time
from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_data_dir

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from traitlets import Float, Int, Unicode
from voila.configuration import VoilaConfiguration
from voila.notebook_renderer import NotebookRenderer
from voila.paths import collect_template_paths
from voila.server_extension import load_config_file
from voila.utils import ENV_VARIABLE, get_page_config
from voila.voila_kernel_manager import voila_kernel_manager_factory

from user_server.idle_release import IdleRelease
from user_server.warm_kernels import VOILA_PAGE_MARK, WarmKernels

# Space-separated notebook paths relative to the server's root (e.g. "dashboards/load_test.ipynb").
PREHEAT_VARIABLE = "WORKBENCH_PREHEAT_NOTEBOOKS"
POOL_SIZE_VARIABLE = "WORKBENCH_PREHEAT_POOL_SIZE"
# Kernels kept warm with the dashboards' code imported (user_server/warm_kernels.py), instead of or besides pools.
WARM_KERNELS_VARIABLE = "WORKBENCH_WARM_KERNELS"
# PreheatingKernelManager.busy_threshold, when the hub sets it (its operators' WORKBENCH_PREHEAT_BUSY_THRESHOLD).
BUSY_THRESHOLD_VARIABLE = "WORKBENCH_PREHEAT_BUSY_THRESHOLD"
# PreheatingKernelManager.release_after, when the hub sets it (its operators' WORKBENCH_PREHEAT_RELEASE_AFTER).
RELEASE_AFTER_VARIABLE = "WORKBENCH_PREHEAT_RELEASE_AFTER"
# How often each dashboard was opened from a pool, in the user's own Jupyter data folder.
OPENS_FILE = "profiler-workbench-dashboard-opens.json"
BUSY_SAMPLE_SECONDS = 0.5
BUSY_RECHECK_SECONDS = 2.0


def _cpu_times() -> tuple[float, float] | None:
    """(idle, total) CPU time of the machine so far, in ticks (/proc/stat's first line); None off Linux."""
    try:
        with open("/proc/stat") as stat:
            fields = [float(value) for value in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal (guest time is already counted in user)
    return fields[3] + fields[4], sum(fields[:8])

_VoilaPoolingKernelManager: Any = voila_kernel_manager_factory(AsyncMappingKernelManager, True, 0)


def notebooks_from_environment(environ: dict[str, str] | None = None) -> list[str]:
    value = (os.environ if environ is None else environ).get(PREHEAT_VARIABLE, "")
    return [path for path in value.split() if path.endswith(".ipynb")]


class PreheatingKernelManager(IdleRelease, WarmKernels, _VoilaPoolingKernelManager):
    """jupyter_server's kernel manager plus Voila's pools of pre-rendered notebooks, for chosen notebooks only."""

    pool_size = Int(
        1,
        config=True,
        help="""Kernels kept ready per preheated notebook. Each holds one page load's worth of rendered notebook
        and costs one idle kernel's memory; a page load takes one and a new one starts after `fill_delay`.
        0 turns preheating off.""",
    )

    stagger_seconds = Float(
        2.0,
        config=True,
        help="""Seconds between starting the pools of successive notebooks when the server starts, in the order
        they are listed (the home page's order): a server that starts five kernels at once competes with its own
        first page, and a hub where many people log in at once with every other server.""",
    )

    preheat_niceness = Int(
        10,
        config=True,
        help="""Nice value of kernels started for a pool while they run their notebook and wait: anything the
        person runs meanwhile (at nice 0) goes first. A page that takes a kernel sets it back to 0. 0 keeps pool
        kernels at the normal priority; so does a server whose processes may not lower their nice value again.""",
    )

    busy_threshold = Float(
        0.75,
        min=0.0,
        max=1.0,
        config=True,
        help="""Share of the machine's CPU time in use (all CPUs, every process, over half a second) above which
        a pool kernel waits to start. 1 never waits.""",
    )

    max_wait = Float(
        300.0,
        config=True,
        help="""Seconds a pool kernel waits at most for the machine to be less busy than `busy_threshold`
        before it starts anyway.""",
    )

    opens_path = Unicode(
        help="""Where the count of dashboards opened from a pool is kept (JSON); by default the user's Jupyter
        data folder. The pools fill in that order.""",
    ).tag(config=True)

    def __init__(self, **kwargs):
        # Voila's own __init__ reads the standalone app's attributes and starts filling at once; here the pools
        # start from the server extension, when the web application they render for exists.
        AsyncMappingKernelManager.__init__(self, **kwargs)
        self.notebook_data: dict = {}
        self._pools: dict = {}
        self._renderer_settings: dict | None = None
        self._preheated: set[str] = set()
        self._start_now: dict[asyncio.Task, asyncio.Event] = {}
        self._waiting_to_start: set[asyncio.Task] = set()
        self._ready_processes: dict[str, int | None] = {}  # ready kernel's id -> its process (see _note_process)

    def preheat(self, notebooks: list[str], renderer_settings: dict[str, Any]) -> list[str]:
        """Start a pool for each notebook (missing files are skipped with a warning); return those preheated."""
        self._renderer_settings = renderer_settings
        notebooks = self._most_opened_first(notebooks)
        for notebook in notebooks:
            if not os.path.isfile(os.path.join(self.root_dir, notebook)):
                self.log.warning("Not preheating %s: no such notebook under %s", notebook, self.root_dir)
                continue
            delay = len(self._preheated) * self.stagger_seconds
            self._preheated.add(notebook)
            self.fill_if_needed(delay=delay, notebook_name=notebook)
        return [notebook for notebook in notebooks if notebook in self._preheated]

    def _most_opened_first(self, notebooks) -> list[str]:
        opens = self._opens()
        return sorted(notebooks, key=lambda notebook: -opens.get(notebook, 0))  # stable: ties keep the order

    def _ready_kernel_ids(self) -> set[str]:
        tasks = [*(task for pool in self._pools.values() for task in pool), *getattr(self, "_warm", [])]
        started = [task.result() for task in tasks if task.done() and not task.cancelled() and task.exception() is None]
        # a pool's task gives Voila's rendering (a dict with the kernel's id), a warm kernel's task the id itself
        return {result["kernel_id"] if isinstance(result, dict) else result for result in started}

    async def _release_ready_kernels(self) -> int:
        pools, self._pools = self._pools, {notebook: [] for notebook in self._pools}
        warm, self._warm = getattr(self, "_warm", []), []
        released = await self._shut_down_ready([task for pool in pools.values() for task in pool],
                                               lambda content: content["kernel_id"])
        return released + await self._shut_down_ready(warm, lambda kernel_id: kernel_id)

    def _start_ready_kernels_again(self) -> None:
        for position, notebook in enumerate(self._most_opened_first(self._preheated)):
            self.fill_if_needed(delay=position * self.stagger_seconds, notebook_name=notebook)
        if self.warm_kernels > 0:
            self._fill_warm(delay=0.0)

    async def start_kernel(self, kernel_name=None, **kwargs):
        if (kwargs.get("env") or {}).get(VOILA_PAGE_MARK) == "False":  # a dashboard page rendered on request
            self.note_page_activity()
        return await super().start_kernel(kernel_name=kernel_name, **kwargs)

    def fill_if_needed(self, delay=None, notebook_name=None, extra_kernel_env_variables=None, **kwargs) -> None:
        if notebook_name not in self._preheated or self.pool_size <= 0:
            return
        delay = self.fill_delay if delay is None else delay
        pool = self._pools.setdefault(notebook_name, [])
        env = self._kernel_environment(extra_kernel_env_variables, preheated=True)
        lower = self._lower_priority()
        loop = asyncio.get_event_loop()
        for _ in range(self.pool_size - len(pool)):
            start_now = asyncio.Event()
            task = loop.create_task(self._start_when_quiet(
                notebook_name, delay, start_now,
                lambda: self._initialize(notebook_name, None, path=os.path.dirname(notebook_name), env=env, **lower)))
            self._start_now[task] = start_now
            task.add_done_callback(lambda done, name=notebook_name: self._log_heated(name, done))
            pool.append(task)

    async def _start_when_quiet(self, notebook: str, delay: float, start_now: asyncio.Event, start):
        """After ``delay``, once the machine is quiet enough, at the latest after ``max_wait``, or as soon as a
        page asks for this kernel: start it."""
        waited = 0.0
        began = time.monotonic()
        waiting = asyncio.current_task()
        self._waiting_to_start.add(waiting)
        try:
            while not start_now.is_set():
                if waited >= delay and (waited >= self.max_wait or not await self._machine_busy()):
                    break
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(start_now.wait(), timeout=max(0.0, delay - waited) or BUSY_RECHECK_SECONDS)
                waited = time.monotonic() - began
        finally:
            self._waiting_to_start.discard(waiting)
        if start_now.is_set() or waited > delay + BUSY_RECHECK_SECONDS:
            self.log.info("Preheating %s after waiting %.0f s for a quieter machine%s", notebook, waited,
                          " (a page asked for it)" if start_now.is_set() else "")
        return await start()

    async def _machine_busy(self) -> bool:
        if self.busy_threshold >= 1.0:
            return False
        first = _cpu_times()
        await asyncio.sleep(BUSY_SAMPLE_SECONDS)
        second = _cpu_times()
        if first is None or second is None or second[1] <= first[1]:
            return False
        idle = (second[0] - first[0]) / (second[1] - first[1])
        return 1.0 - idle > self.busy_threshold

    def _kernel_environment(self, extra: dict[str, str] | None, *, preheated: bool) -> dict[str, str]:
        return {
            **os.environ,
            **(extra or {}),
            ENV_VARIABLE.VOILA_BASE_URL: self._renderer_settings["base_url"],
            ENV_VARIABLE.VOILA_SERVER_URL: self._renderer_settings["base_url"],
            ENV_VARIABLE.VOILA_PREHEAT: str(preheated),
        }

    async def get_rendered_notebook(self, notebook_name: str, *args, **kwargs):
        self.note_page_activity()
        pool = self._pools.setdefault(notebook_name, [])
        if pool and pool[0] in self._start_now:
            self._start_now.pop(pool[0]).set()  # someone waits for this one: no more waiting for a quiet machine
        if not pool or not await self._usable(pool[0]):
            # Voila would hand the page a failed start or a dead kernel (its outputs shown, its widgets never
            # answering): the page gets a kernel of its own, started now, as without preheating.
            fresh = asyncio.get_event_loop().create_task(self._initialize(
                notebook_name, None, path=os.path.dirname(notebook_name),
                env=self._kernel_environment(kwargs.get("extra_kernel_env_variables"), preheated=False)))
            if pool and pool[0].done():
                pool[0] = fresh
            else:
                pool.insert(0, fresh)
        taken = await super().get_rendered_notebook(notebook_name, *args, **kwargs)
        self._restore_priority(taken[2])
        self._count_open(notebook_name)
        return taken

    async def _usable(self, pool_entry: asyncio.Task) -> bool:
        """Whether a pool entry started its kernel and that kernel is still alive; a dead one is shut down."""
        try:
            kernel_id = (await asyncio.shield(pool_entry))["kernel_id"]
        except Exception as error:  # noqa: BLE001 - whatever failed the start, _log_heated has logged it
            self.log.warning("A page asked for a preheated kernel whose start had failed (%r)", error)
            return False
        alive = await self._still_ready(kernel_id)
        if not alive:
            self.log.warning("Preheated kernel %s died before a page took it; the page gets a new one", kernel_id)
            with contextlib.suppress(Exception):
                await self.shutdown_kernel(kernel_id, now=True)
        return alive

    def _lower_priority(self) -> dict[str, Any]:
        """What makes a kernel start niced, where it can be given the normal priority back."""
        return {"preexec_fn": functools.partial(os.nice, self.preheat_niceness)} if self._may_lower_priority() else {}

    def _may_lower_priority(self) -> bool:
        """Whether pool kernels can be given a lower priority and have the normal one back when taken."""
        if self.preheat_niceness <= 0:
            return False
        if os.geteuid() == 0:
            return True
        soft, _ = resource.getrlimit(resource.RLIMIT_NICE)
        # the lowest nice value a process may set itself or its kind to is 20 - RLIMIT_NICE
        return soft == resource.RLIM_INFINITY or 20 - soft <= 0

    def _restore_priority(self, kernel_id: str) -> None:
        if not self._may_lower_priority():
            return
        try:
            pid = self.get_kernel(kernel_id).provisioner.pid
            # nice values belong to threads: the kernel's own (shell, iopub, control, heartbeat) all ran niced
            for thread in os.listdir(f"/proc/{pid}/task"):
                os.setpriority(os.PRIO_PROCESS, int(thread), 0)
        except (AttributeError, KeyError, OSError, TypeError, ValueError) as error:
            self.log.warning("Could not give kernel %s the normal CPU priority back: %s", kernel_id, error)

    def _opens_file(self) -> Path:
        return Path(self.opens_path or os.path.join(jupyter_data_dir(), OPENS_FILE))

    def _opens(self) -> dict[str, int]:
        try:
            counts = json.loads(self._opens_file().read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(counts, dict):
            return {}
        return {name: count for name, count in counts.items() if isinstance(count, int)}

    def _count_open(self, notebook: str) -> None:
        counts = self._opens()
        counts[notebook] = counts.get(notebook, 0) + 1
        path = self._opens_file()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(path.name + ".tmp")
            temporary.write_text(json.dumps(counts))
            os.replace(temporary, path)
        except OSError as error:
            self.log.warning("Could not count the opening of %s: %s", notebook, error)

    def _log_heated(self, notebook: str, task: asyncio.Task) -> None:
        self._start_now.pop(task, None)
        if task.cancelled():
            return
        if task.exception() is not None:
            self.log.error("Preheating %s failed: %r", notebook, task.exception())
            # a broken pool entry would fail every page load: drop it, the next load starts its own kernel
            pool = self._pools.get(notebook, [])
            if task in pool:
                pool.remove(task)
        else:
            # the kernel is up and running the notebook; the page handler waits for the rest if asked sooner
            self._note_process(task.result()["kernel_id"])
            self.log.info("Preheating kernel started for %s", notebook)

    def _notebook_renderer_factory(self, notebook_path: str | None = None) -> NotebookRenderer:
        settings = self._renderer_settings
        page_config_kwargs = {
            "base_url": settings["base_url"],
            "settings": settings["web_settings"],
            "log": self.log,
            "voila_configuration": settings["voila_configuration"],
        }
        page_config = get_page_config(**page_config_kwargs)
        hook = settings["voila_configuration"].page_config_hook
        if hook:  # as Voila's page handler does for a page rendered on request
            page_config = hook(page_config, **page_config_kwargs, notebook_path=notebook_path)
        return NotebookRenderer(
            voila_configuration=settings["voila_configuration"],
            traitlet_config=settings["traitlet_config"],
            notebook_path=notebook_path,
            template_paths=settings["template_paths"],
            config_manager=settings["web_settings"]["config_manager"],
            contents_manager=settings["contents_manager"],
            base_url=settings["base_url"],
            kernel_spec_manager=self.kernel_spec_manager,
            page_config=page_config,
            mathjax_config=settings["web_settings"].get("mathjax_config"),
            mathjax_url=settings["web_settings"].get("mathjax_url"),
        )


def _jupyter_server_extension_points():
    return [{"module": __name__}]


def _load_jupyter_server_extension(server_app) -> None:
    notebooks = notebooks_from_environment()
    manager = server_app.kernel_manager
    if not notebooks:
        return
    if not isinstance(manager, PreheatingKernelManager):
        server_app.log.warning(
            "Not preheating dashboards: the kernel manager is %s, not %s",
            type(manager).__name__, PreheatingKernelManager.__name__,
        )
        return
    if os.environ.get(POOL_SIZE_VARIABLE, "").strip():
        manager.pool_size = int(os.environ[POOL_SIZE_VARIABLE])
    if os.environ.get(WARM_KERNELS_VARIABLE, "").strip():
        manager.warm_kernels = int(os.environ[WARM_KERNELS_VARIABLE])
    if os.environ.get(BUSY_THRESHOLD_VARIABLE, "").strip():
        manager.busy_threshold = float(os.environ[BUSY_THRESHOLD_VARIABLE])
    if os.environ.get(RELEASE_AFTER_VARIABLE, "").strip():
        manager.release_after = float(os.environ[RELEASE_AFTER_VARIABLE])
    if manager.warm_kernels > 0:
        # each dashboard's notebook imports its module of the dashboards package, named after it
        manager.warm_imports = manager.warm_imports or [
            f"dashboards.{os.path.splitext(os.path.basename(notebook))[0]}" for notebook in notebooks]
        manager.start_warming()
        server_app.log.info("Keeping %d warm kernel(s) with %s imported", manager.warm_kernels,
                            ", ".join(manager.warm_imports))
    # the same configuration Voila's server extension builds for its page handler, so the pages match
    voila_configuration = VoilaConfiguration(parent=server_app)
    local_config = load_config_file()
    if local_config is not None:
        voila_configuration.update_config(local_config)
    web_app = server_app.web_app
    preheated = manager.preheat(
        notebooks,
        {
            "voila_configuration": voila_configuration,
            "template_paths": collect_template_paths(["voila", "nbconvert"], voila_configuration.template),
            "traitlet_config": server_app.config,
            "contents_manager": server_app.contents_manager,
            "base_url": web_app.settings["base_url"],
            "web_settings": web_app.settings,
        },
    )
    server_app.log.info("Keeping %d kernel(s) ready for each of %s", manager.pool_size, ", ".join(preheated))
    manager.watch_for_idleness(web_app.settings)
