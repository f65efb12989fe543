"""Per-server limits for servers run as local processes: memory, CPU and processes through a control group of
the server's own, open files through an rlimit, so one user's server cannot starve the machine.

A control group is made per server under ``<hierarchy>/profiler-workbench/`` (cgroup v2: one unified hierarchy;
v1: the ``memory``, ``cpu`` and ``pids`` hierarchies). The server joins it before it becomes the user (so it and
every kernel it starts stay inside), and when the server stops, whatever is left in the group is killed (orphaned
kernels included) and the group removed. Where control groups cannot be written (no root, a read-only
``/sys/fs/cgroup``), :func:`available` says why and only the rlimits apply.

Measured on these machines (cgroup v1, root): a 100 MB ``memory.limit_in_bytes`` group killed a process that
allocated 300 MB (exit 137), and ``pids.max`` 50 made the 51st ``fork`` fail.

Blocking file writes: call from a worker thread, except :meth:`ServerGroup.join`, which runs in the child.
May import the standard library only.
"""

from __future__ import annotations

import os
import resource
import signal
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
PARENT = "profiler-workbench"
CPU_PERIOD_US = 100_000
NICE_FLOOR_LIMIT = 20  # RLIMIT_NICE for nice values down to 20 - 20 = 0


@dataclass(frozen=True)
class ServerLimits:
    memory_bytes: int = 0  # 0: no limit
    cpus: float = 0.0
    processes: int = 0
    open_files: int = 0

    def set_rlimits(self) -> None:
        """In the child, while still root: the per-process limits."""
        if self.open_files:
            resource.setrlimit(resource.RLIMIT_NOFILE, (self.open_files, self.open_files))
        # The server runs its preheating kernels niced and gives a kernel the normal priority back when a page takes
        # it (user_server/voila_preheat.py). An unprivileged process may lower a nice value only down to
        # 20 - RLIMIT_NICE: 20 lets the server's processes return to 0, the default, and never go below it. Raising
        # the hard limit needs CAP_SYS_RESOURCE, which root lacks in some containers (hard limit 0 there): the
        # server then keeps its pool kernels at the normal priority.
        try:
            resource.setrlimit(resource.RLIMIT_NICE, (NICE_FLOOR_LIMIT, NICE_FLOOR_LIMIT))
        except (ValueError, OSError):
            pass


def _v1_hierarchies() -> dict[str, Path]:
    """Controller -> mount point, for the cgroup v1 hierarchies that are mounted."""
    found: dict[str, Path] = {}
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return found
    for line in mounts:
        fields = line.split()
        if len(fields) > 3 and fields[2] == "cgroup":
            for option in fields[3].split(","):
                if option in ("memory", "cpu", "pids"):
                    found[option] = Path(fields[1])
    return found


def _is_v2() -> bool:
    return (ROOT / "cgroup.controllers").is_file()


def available() -> str | None:
    """None when per-server control groups can be made here, else why not (for the hub's log)."""
    if os.geteuid() != 0:
        return "the hub does not run as root"
    try:
        if _is_v2():
            parent = ROOT / PARENT
            parent.mkdir(exist_ok=True)
            (ROOT / "cgroup.subtree_control").write_text("+memory +cpu +pids")
            (parent / "cgroup.subtree_control").write_text("+memory +cpu +pids")
            return None
        hierarchies = _v1_hierarchies()
        missing = {"memory", "cpu", "pids"} - set(hierarchies)
        if missing:
            return f"no cgroup hierarchy for {', '.join(sorted(missing))}"
        for mount in hierarchies.values():
            (mount / PARENT).mkdir(exist_ok=True)
    except OSError as error:
        return f"control groups cannot be written ({error})"
    return None


@dataclass(frozen=True)
class ServerGroup:
    """The control group(s) of one server."""

    name: str  # e.g. "wb-alice.default": an account name and a server name, both free of "/"

    @property
    def folders(self) -> list[Path]:
        if _is_v2():
            return [ROOT / PARENT / self.name]
        return [mount / PARENT / self.name for mount in _v1_hierarchies().values()]

    def create(self, limits: ServerLimits) -> None:
        v2 = _is_v2()
        for folder in self.folders:
            folder.mkdir(exist_ok=True)
            settings = _v2_settings(limits) if v2 else _v1_settings(limits)
            for file, value in settings.items():
                if (folder / file).exists():
                    (folder / file).write_text(value)

    def join(self) -> None:
        """In the child, before it becomes the user: this process (and so all it starts) into the group."""
        pid = str(os.getpid())
        for folder in self.folders:
            with open(folder / "cgroup.procs", "w") as procs:
                procs.write(pid)

    def members(self) -> set[int]:
        found: set[int] = set()
        for folder in self.folders:
            try:
                found.update(int(line) for line in (folder / "cgroup.procs").read_text().split())
            except OSError:
                continue
        return found

    def remove(self, wait_seconds: float = 5.0) -> None:
        """Kill what is left in the group (orphaned kernels), then remove it once they are gone (a group with a
        dying member cannot be removed yet)."""
        for pid in self.members():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait_seconds
        while self.members() and time.monotonic() < deadline:
            time.sleep(0.05)
        for folder in self.folders:
            try:
                folder.rmdir()
            except OSError:
                pass  # still emptying; the next start of this server reuses it


def server_groups() -> list[ServerGroup]:
    """Every server's control group on this machine (whichever hub made it)."""
    if _is_v2():
        parents = [ROOT / PARENT]
    else:
        parents = [mount / PARENT for mount in _v1_hierarchies().values()]
    found = {entry.name for parent in parents if parent.is_dir() for entry in parent.iterdir() if entry.is_dir()}
    return [ServerGroup(name) for name in sorted(found)]


def _v2_settings(limits: ServerLimits) -> dict[str, str]:
    settings = {}
    if limits.memory_bytes:
        settings["memory.max"] = str(limits.memory_bytes)
    if limits.cpus:
        settings["cpu.max"] = f"{int(limits.cpus * CPU_PERIOD_US)} {CPU_PERIOD_US}"
    if limits.processes:
        settings["pids.max"] = str(limits.processes)
    return settings


def _v1_settings(limits: ServerLimits) -> dict[str, str]:
    settings = {}
    if limits.memory_bytes:
        settings["memory.limit_in_bytes"] = str(limits.memory_bytes)
    if limits.cpus:
        settings["cpu.cfs_period_us"] = str(CPU_PERIOD_US)
        settings["cpu.cfs_quota_us"] = str(int(limits.cpus * CPU_PERIOD_US))
    if limits.processes:
        settings["pids.max"] = str(limits.processes)
    # v1 mounts only one controller's files per hierarchy; create() writes those that exist
    return settings
