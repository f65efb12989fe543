"""What one user's server costs the machine it runs on: memory and CPU of a server started as the hub starts
them (the repository's jupyter configuration, Voila as a server extension, one preheated kernel per dashboard
of notebooks/dashboards.json) vs the same server with one warm kernel instead (``user_server/warm_kernels.py``:
the dashboards' code imported, no dashboard run) vs the same server told to preheat nothing.

    python benchmarks/user_server.py            # 3 rounds
    python benchmarks/user_server.py --quick    # 1 round

Each round starts the servers one after the other (order alternating), waits until each server's
kernels have run their dashboards (its process tree's CPU stays under 2% of a core for 3 s, or 120 s passed),
then reads the whole process tree: proportional set size (PSS: shared pages split between the processes that
share them, so the sum is what the server adds to the machine), the CPU seconds it took to get there, and the
share of a core it uses while nobody touches it (a 10 s window). Medians; the last line is one JSON object
whose ``ratio`` is preheated / plain memory. These are the figures the cost model (``profiler/costs.py``) reads
for the size of a user's server.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from testing.user_server import UserServer  # noqa: E402 - needs the sys.path entry above

QUIET_CORES = 0.02
QUIET_SECONDS = 3.0
SETTLE_LIMIT_S = 120.0
IDLE_WINDOW_S = 10.0


def tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of the server and its live children, plus what finished children left in the root's account."""
    total = 0.0
    for process in tree(pid):
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
        if process.pid == pid:
            total += times.children_user + times.children_system
    return total


def tree_pss_mib(pid: int) -> float:
    total = 0
    for process in tree(pid):
        try:
            total += process.memory_full_info().pss
        except psutil.NoSuchProcess:
            continue
    return total / 2**20


def settle(pid: int) -> float:
    """Seconds until the tree has been quiet for QUIET_SECONDS."""
    started = time.monotonic()
    quiet_since = None
    last = tree_cpu_seconds(pid)
    while time.monotonic() - started < SETTLE_LIMIT_S:
        time.sleep(0.5)
        now = tree_cpu_seconds(pid)
        if (now - last) / 0.5 < QUIET_CORES:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= QUIET_SECONDS:
                break
        else:
            quiet_since = None
        last = now
    return time.monotonic() - started


def measure(work: Path, mode: str, notebooks: list[str]) -> dict[str, float]:
    folder = work / f"{mode}-{time.monotonic_ns()}"
    (folder / "dashboards").mkdir(parents=True)
    for notebook in notebooks:
        shutil.copy(ROOT / "notebooks" / notebook, folder / "dashboards" / notebook)
    heated = " ".join(f"dashboards/{notebook}" for notebook in notebooks) if mode != "plain" else ""
    server = UserServer(folder, folder / "server.log", env={
        "WORKBENCH_PREHEAT_NOTEBOOKS": heated, "WORKBENCH_PREHEAT_POOL_SIZE": "1" if mode == "preheated" else "0",
        "WORKBENCH_WARM_KERNELS": "1" if mode == "warm" else "0"},
        # the pools fill however busy the machine: what they cost is measured here, not when they fill
        args=("--PreheatingKernelManager.busy_threshold=1",))
    try:
        settled = settle(server.process.pid)
        cpu = tree_cpu_seconds(server.process.pid)
        idle_from = cpu
        time.sleep(IDLE_WINDOW_S)
        idle = (tree_cpu_seconds(server.process.pid) - idle_from) / IDLE_WINDOW_S
        return {"memory_mib": tree_pss_mib(server.process.pid), "start_cpu_s": cpu, "idle_cores": idle,
                "settle_s": settled, "processes": len(tree(server.process.pid))}
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rounds = 1 if args.quick else args.rounds
    notebooks = [entry["notebook"] for entry in
                 json.loads((ROOT / "notebooks" / "dashboards.json").read_text())["dashboards"]]
    work = Path(tempfile.mkdtemp(prefix="user-server-bench-"))
    modes = ("preheated", "warm", "plain")
    runs: dict[str, list[dict[str, float]]] = {mode: [] for mode in modes}
    try:
        for number in range(rounds):
            for mode in (modes if number % 2 == 0 else tuple(reversed(modes))):
                figures = measure(work, mode, notebooks)
                runs[mode].append(figures)
                print(f"round {number + 1} {mode:9s}: {figures['memory_mib']:7.1f} MiB PSS, "
                      f"{figures['start_cpu_s']:5.2f} CPU-s to start, {figures['idle_cores']:.3f} cores idle, "
                      f"{figures['processes']} processes", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def median(mode: str, key: str, digits: int = 2) -> float:
        return round(statistics.median(run[key] for run in runs[mode]), digits)

    print(json.dumps({
        "benchmark": "user_server", "rounds": rounds, "dashboards": len(notebooks),
        "load_average": round(psutil.getloadavg()[0], 2),
        "preheated_memory_mib": median("preheated", "memory_mib", 1),
        "warm_memory_mib": median("warm", "memory_mib", 1),
        "plain_memory_mib": median("plain", "memory_mib", 1),
        "preheated_start_cpu_s": median("preheated", "start_cpu_s"),
        "warm_start_cpu_s": median("warm", "start_cpu_s"),
        "plain_start_cpu_s": median("plain", "start_cpu_s"),
        "preheated_idle_cores": median("preheated", "idle_cores", 3),
        "plain_idle_cores": median("plain", "idle_cores", 3),
        "ratio": round(median("preheated", "memory_mib", 3) / median("plain", "memory_mib", 3), 2),
    }))


if __name__ == "__main__":
    main()
