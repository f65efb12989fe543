"""The workbench's own Prometheus metrics, served with JupyterHub's on the hub's ``/hub/metrics`` page.

What an operator needs to size a machine for its users, beside JupyterHub's ``jupyterhub_*`` metrics:

- ``workbench_user_servers{kind}``: servers running (ready), ``own`` (a user's default or named server) or
  ``dashboard`` (a published dashboard's ``dash-*`` server);
- ``workbench_user_memory_bytes{user}`` and ``workbench_user_memory_bytes_total``: the memory of each user's
  servers, their kernels included (PSS: a page shared by N processes counts 1/N to each, so the sum is what the
  machine holds; RSS where PSS cannot be read);
- ``workbench_kernels`` and ``workbench_warm_kernels``: kernel processes in users' servers, and those of them
  started in advance by dashboard preheating (``user_server/voila_preheat.py``);
- ``workbench_local_aws_up`` and ``workbench_local_aws_response_seconds``: whether the embedded local AWS
  answers, and how fast, when the hub runs it;
- ``workbench_hub_event_loop_lag_seconds`` (a histogram) and ``workbench_hub_event_loop_lag_max_seconds``: how
  late the hub's event loop ran a timer due at that moment, ten times a second (:class:`LoopLagProbe`). While
  the loop is held, no request to the hub is answered and no proxy route changes: a lag over 0.1 s is a stall
  people feel.

The hub's own state (servers by kind) is read when Prometheus scrapes, in the hub's thread: the users and
spawners are only safe to read there. ``/proc`` is not: the memory and kernels are read by a task every
:data:`USAGE_INTERVAL` seconds, which lists the servers' processes on the event loop and reads their trees in a
thread, and the scrape reports its last reading (none before the first). The local AWS is asked over the network
by a task of its own every :data:`PROBE_INTERVAL` seconds, never during a scrape, and the scrape reports its last
answer.
Servers the hub cannot see as processes of this machine (Kubernetes pods) have no memory or kernels here: the
cluster's own metrics have them.

JupyterHub only serves the page to a token or login holding the ``read:metrics`` scope (administrators hold it).

May import jupyterhub, prometheus_client, psutil, :mod:`hub.probes` and :mod:`spawner`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import psutil
from prometheus_client.core import REGISTRY, GaugeMetricFamily
from prometheus_client.registry import Collector

from hub.probes import DOWN_RETRY, PROBE_INTERVAL, AwsProbe, LoopLagProbe, running_once
from spawner.published import PREFIX as DASHBOARD_PREFIX

log = logging.getLogger("workbench.metrics")

# How often the users' memory and kernels are read from /proc, in a thread. Measured on this 2-core machine with
# a test suite running beside it: 3.2 ms per process (psutil's memory_full_info, smaps_rollup) and 42 ms for the
# process table of 131 processes; a hundred users' servers and kernels (~600 processes) take seconds, which a
# scrape served from the hub's event loop would hold it for.
USAGE_INTERVAL = 10.0
KERNEL_MARK = "ipykernel_launcher"
# Voila starts a pool's kernels with it (and kernels a page starts itself with "False"); /proc keeps the
# environment a process started with, so a pool kernel a page has since taken still shows it.
PREHEAT_MARK = b"\0VOILA_PREHEAT=True\0"




@dataclass(frozen=True)
class RunningServer:
    user: str
    name: str
    kind: str  # "own" or "dashboard"
    ready: bool
    pid: int  # 0 when the server is no process of this machine


@dataclass
class TreeUsage:
    memory_bytes: int = 0
    kernels: int = 0
    warm_kernels: int = 0


def server_kind(name: str) -> str:
    return "dashboard" if name.startswith(DASHBOARD_PREFIX) else "own"


def running_servers(users: Iterable) -> list[RunningServer]:
    """Every active server of ``users`` (JupyterHub ``User`` objects, as in ``JupyterHub.users.values()``)."""
    found = []
    for user in users:
        for name, spawner in list(user.spawners.items()):
            if not spawner.active:
                continue
            found.append(RunningServer(user=user.name, name=name, kind=server_kind(name), ready=bool(spawner.ready),
                                       pid=int(getattr(spawner, "pid", 0) or 0)))
    return found


class ProcessTable:
    """This machine's processes, read once per scrape: walking each server's tree with psutil's ``children()``
    would read every process's ``/proc/PID/stat`` once per server."""

    def __init__(self, children: dict[int, list[int]]):
        self.children = children

    @classmethod
    def read(cls) -> "ProcessTable":
        children: dict[int, list[int]] = {}
        for process in psutil.process_iter(["ppid"]):
            ppid = process.info["ppid"]
            if ppid is not None:
                children.setdefault(ppid, []).append(process.pid)
        return cls(children)

    def tree(self, pid: int) -> list[int]:
        found, stack, seen = [], [pid], set()
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            found.append(current)
            stack.extend(self.children.get(current, ()))
        return found


def process_memory(pid: int) -> int:
    """PSS of one process (``/proc/PID/smaps_rollup``), its RSS when that is not readable; 0 when it is gone."""
    try:
        process = psutil.Process(pid)
        try:
            return int(process.memory_full_info().pss)
        except (psutil.AccessDenied, AttributeError):
            return int(process.memory_info().rss)
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return 0


def process_kind(pid: int) -> str | None:
    """``"warm"`` for a kernel preheating started, ``"kernel"`` for any other kernel, None for anything else."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as stream:
            if KERNEL_MARK.encode() not in stream.read():
                return None
    except OSError:
        return None
    try:
        with open(f"/proc/{pid}/environ", "rb") as stream:
            return "warm" if PREHEAT_MARK in b"\0" + stream.read() else "kernel"
    except OSError:
        return "kernel"


def tree_usage(pids: Iterable[int], memory: Callable[[int], int] = process_memory,
               kind: Callable[[int], str | None] = process_kind) -> TreeUsage:
    usage = TreeUsage()
    for pid in pids:
        usage.memory_bytes += memory(pid)
        what = kind(pid)
        usage.kernels += what is not None
        usage.warm_kernels += what == "warm"
    return usage


def running_hub():
    """The JupyterHub application of this process (``JupyterHub.launch_instance`` makes it the singleton), or
    None."""
    from jupyterhub.app import JupyterHub

    return JupyterHub.instance() if JupyterHub.initialized() else None


def hub_users() -> list | None:
    """The users the running hub holds in memory (every user with a server is among them); None before it has
    any."""
    app = running_hub()
    users = getattr(app, "users", None)
    return None if users is None else list(users.values())


class WorkbenchCollector(Collector):
    """Computes the workbench's metrics on each scrape (see the module's docstring)."""

    def __init__(self, users: Callable[[], list | None] = hub_users,
                 processes: Callable[[], ProcessTable] = ProcessTable.read,
                 usage: Callable[[list[int]], TreeUsage] = tree_usage, aws: AwsProbe | None = None,
                 loop_lag: LoopLagProbe | None = None, usage_interval: float = USAGE_INTERVAL):
        self.users = users
        self.processes = processes
        self.usage = usage
        self.aws = aws
        self.loop_lag = loop_lag or LoopLagProbe()
        self.usage_interval = usage_interval
        self.usage_by_user: dict[str, TreeUsage] | None = None
        self.usage_task: asyncio.Task | None = None

    def describe(self) -> list:
        # Without it the registry runs collect() once at registration to learn the names, before the hub is up.
        return list(self._families().values()) + self.loop_lag.families()

    @staticmethod
    def _families() -> dict[str, GaugeMetricFamily]:
        families = [
            GaugeMetricFamily("workbench_user_servers", "Users' servers running (ready), by kind: own (a user's "
                              "default or named server) or dashboard (a published dashboard's server).",
                              labels=["kind"]),
            GaugeMetricFamily("workbench_user_memory_bytes", "Memory of each user's servers and their kernels: "
                              "proportional set size (a page shared by several processes split between them), "
                              "resident set size where that cannot be read.", labels=["user"]),
            GaugeMetricFamily("workbench_user_memory_bytes_total", "Memory of all users' servers and their kernels "
                              "(the sum of workbench_user_memory_bytes)."),
            GaugeMetricFamily("workbench_kernels", "Kernel processes running in users' servers."),
            GaugeMetricFamily("workbench_warm_kernels", "Kernel processes started in advance by dashboard "
                              "preheating, waiting in a pool or since taken by a dashboard page."),
            GaugeMetricFamily("workbench_local_aws_up", "1 when the hub's local AWS answered its last probe "
                              f"(every {PROBE_INTERVAL:g} s, {DOWN_RETRY:g} s while down), 0 when it did not; "
                              "absent when the hub runs none."),
            GaugeMetricFamily("workbench_local_aws_response_seconds", "Seconds the local AWS took to answer its "
                              "last probe (up to the probe's timeout when it did not answer)."),
        ]
        return {family.name: family for family in families}

    def measure_usage(self, servers: list[RunningServer]) -> dict[str, TreeUsage]:
        """Each user's memory and kernels, read from ``/proc``: in a thread of its own, never on the event loop."""
        by_user: dict[str, TreeUsage] = {}
        with_process = [server for server in servers if server.pid]
        table = self.processes() if with_process else ProcessTable({})
        for server in with_process:
            usage = self.usage(table.tree(server.pid))
            total = by_user.setdefault(server.user, TreeUsage())
            total.memory_bytes += usage.memory_bytes
            total.kernels += usage.kernels
            total.warm_kernels += usage.warm_kernels
        return by_user

    async def refresh_usage(self) -> None:
        users = self.users()
        if users is not None:
            self.usage_by_user = await asyncio.to_thread(self.measure_usage, running_servers(users))

    async def refresh_usage_forever(self) -> None:
        while True:
            try:
                await self.refresh_usage()
            except Exception:  # a refresh that breaks must not end the refreshing
                log.exception("Measuring the users' servers' memory failed")
            await asyncio.sleep(self.usage_interval)

    def ensure_refreshing(self) -> None:
        """Start :meth:`refresh_usage_forever` on the running event loop, unless it runs already."""
        self.usage_task = running_once(self.usage_task, self.refresh_usage_forever)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        users = self.users()
        if users is None:  # no hub in this process (yet): nothing to say rather than zeros that look measured
            return
        families = self._families()
        servers = running_servers(users)
        for kind in ("own", "dashboard"):
            families["workbench_user_servers"].add_metric(
                [kind], sum(1 for server in servers if server.kind == kind and server.ready))

        self.ensure_refreshing()
        by_user = self.usage_by_user
        if by_user is not None:  # none until first measured: no zeros that look measured
            for user, usage in sorted(by_user.items()):
                families["workbench_user_memory_bytes"].add_metric([user], usage.memory_bytes)
            families["workbench_user_memory_bytes_total"].add_metric(
                [], sum(u.memory_bytes for u in by_user.values()))
            families["workbench_kernels"].add_metric([], sum(u.kernels for u in by_user.values()))
            families["workbench_warm_kernels"].add_metric([], sum(u.warm_kernels for u in by_user.values()))

        aws = self.aws
        if aws is not None:
            aws.ensure_running()  # when the configuration was loaded before the hub's event loop ran
            if aws.up is not None:
                families["workbench_local_aws_up"].add_metric([], 1 if aws.up else 0)
                families["workbench_local_aws_response_seconds"].add_metric([], aws.response_seconds)
        for family in families.values():
            if family.samples or family.name == "workbench_user_servers":
                yield family
        self.loop_lag.ensure_running()
        yield from self.loop_lag.families()


_installed: WorkbenchCollector | None = None


def install(local_aws_endpoint: str | None) -> WorkbenchCollector:
    """Register the collector in prometheus_client's default registry, which JupyterHub's metrics page serves;
    with ``local_aws_endpoint``, probe it. Once per process: the configuration may be loaded again (by tests
    too), and a second registration of the same names is refused by the registry."""
    global _installed
    aws = AwsProbe(local_aws_endpoint) if local_aws_endpoint else None
    if _installed is None:
        _installed = WorkbenchCollector(aws=aws)
        REGISTRY.register(_installed)
    elif (_installed.aws and _installed.aws.endpoint) != local_aws_endpoint:
        if _installed.aws is not None and _installed.aws.task is not None:
            _installed.aws.task.cancel()
        _installed.aws = aws
    if running_hub() is not None:
        # the hub loads its configuration inside its event loop: the first scrape then finds an answer already,
        # and the loop is watched from the start
        if _installed.aws is not None:
            _installed.aws.ensure_running()
        _installed.loop_lag.ensure_running()
        _installed.ensure_refreshing()
    return _installed
