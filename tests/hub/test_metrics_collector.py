"""The workbench's metrics collector on fake users, spawners and processes: what it counts, whose memory it sums,
and that the local AWS is reported from the probe's last answer, never asked during a scrape."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from hub import metrics
from hub.metrics import ProcessTable, TreeUsage, WorkbenchCollector
from hub.probes import AwsProbe, LoopLagProbe


def spawner(ready=True, active=True, pid=0):
    return SimpleNamespace(ready=ready, active=active, pid=pid)


def user(name, **spawners):
    return SimpleNamespace(name=name, spawners={key.replace("_", "-"): value for key, value in spawners.items()})


def scrape(collector) -> dict[tuple, float]:
    registry = CollectorRegistry()
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


# pid -> (memory, kind): the fake /proc the collector's usage function reads
PROCESSES = {10: (100, None), 11: (50, "warm"), 12: (40, "kernel"), 20: (300, None), 21: (30, "warm"), 30: (7, None)}
TABLE = ProcessTable({1: [10, 20, 30], 10: [11, 12], 20: [21]})


def fake_usage(pids):
    return metrics.tree_usage(pids, memory=lambda pid: PROCESSES[pid][0], kind=lambda pid: PROCESSES[pid][1])


def collector(users, aws=None):
    return WorkbenchCollector(users=lambda: users, processes=lambda: TABLE, usage=fake_usage, aws=aws)


def measured(collector: WorkbenchCollector) -> WorkbenchCollector:
    """The collector once its task has read /proc (as it does every USAGE_INTERVAL seconds in the hub)."""
    asyncio.run(collector.refresh_usage())
    return collector


def test_servers_are_counted_by_kind_and_only_when_ready():
    users = [user("ada", **{"": spawner(pid=10), "dash_caching": spawner(pid=20), "scratch": spawner(ready=False)}),
             user("bea", **{"": spawner(pid=30), "dash_old": spawner(ready=False, active=False)})]
    values = scrape(collector(users))
    assert values[("workbench_user_servers", (("kind", "own"),))] == 2
    assert values[("workbench_user_servers", (("kind", "dashboard"),))] == 1


def test_memory_is_summed_over_each_users_server_trees_and_kernels_are_counted():
    users = [user("ada", **{"": spawner(pid=10), "dash_caching": spawner(pid=20)}),
             user("bea", **{"": spawner(pid=30)})]
    values = scrape(measured(collector(users)))
    assert values[("workbench_user_memory_bytes", (("user", "ada"),))] == 100 + 50 + 40 + 300 + 30
    assert values[("workbench_user_memory_bytes", (("user", "bea"),))] == 7
    assert values[("workbench_user_memory_bytes_total", ())] == 527
    assert values[("workbench_kernels", ())] == 3
    assert values[("workbench_warm_kernels", ())] == 2


def test_a_server_that_is_no_process_here_has_no_memory_and_the_table_is_not_read():
    def no_table():
        raise AssertionError("the process table is read although no server is a process of this machine")

    users = [user("ada", **{"": spawner(pid=0)})]
    values = scrape(measured(WorkbenchCollector(users=lambda: users, processes=no_table, usage=fake_usage)))
    assert values[("workbench_user_servers", (("kind", "own"),))] == 1
    assert not [key for key in values if key[0] == "workbench_user_memory_bytes"]
    assert values[("workbench_user_memory_bytes_total", ())] == 0


def test_a_scrape_never_reads_proc_memory_is_read_in_a_thread_and_absent_until_then():
    readers = []

    def table():
        readers.append(threading.current_thread())
        return TABLE

    users = [user("ada", **{"": spawner(pid=10)})]
    found = WorkbenchCollector(users=lambda: users, processes=table, usage=fake_usage)
    values = scrape(found)
    assert readers == []  # the scrape answered from the hub's state alone
    assert values[("workbench_user_servers", (("kind", "own"),))] == 1
    assert not [key for key in values if key[0].startswith(("workbench_user_memory", "workbench_kernels"))]
    values = scrape(measured(found))
    assert readers and threading.main_thread() not in readers
    assert values[("workbench_user_memory_bytes", (("user", "ada"),))] == 190


def test_the_collector_refreshes_memory_on_the_event_loop_every_interval():
    users = [user("ada", **{"": spawner(pid=10)})]
    found = WorkbenchCollector(users=lambda: users, processes=lambda: TABLE, usage=fake_usage, usage_interval=0.05)

    async def main():
        found.ensure_refreshing()
        first = found.usage_task
        found.ensure_refreshing()
        assert found.usage_task is first
        for _ in range(100):
            if found.usage_by_user is not None:
                break
            await asyncio.sleep(0.02)
        users[0].spawners[""] = spawner(pid=20)  # the next reading follows the servers
        await asyncio.sleep(0.2)
        first.cancel()

    asyncio.run(main())
    assert found.usage_by_user["ada"].memory_bytes == 330


def test_without_a_hub_in_the_process_nothing_is_reported():
    assert scrape(WorkbenchCollector(users=lambda: None)) == {}


def test_the_local_aws_is_reported_from_the_last_probe_only():
    probe = AwsProbe("http://127.0.0.1:1")
    values = scrape(collector([], aws=probe))
    assert not [key for key in values if key[0].startswith("workbench_local_aws")]  # no answer yet: no guess

    probe.up, probe.response_seconds = True, 0.25
    values = scrape(collector([], aws=probe))
    assert values[("workbench_local_aws_up", ())] == 1
    assert values[("workbench_local_aws_response_seconds", ())] == 0.25
    probe.up = False
    assert scrape(collector([], aws=probe))[("workbench_local_aws_up", ())] == 0
    values = scrape(collector([]))
    assert not [key for key in values if key[0].startswith("workbench_local_aws")]  # a hub without local AWS


def test_the_probe_runs_on_the_event_loop_and_sees_a_closed_port_as_down():
    async def main():
        probe = AwsProbe("http://127.0.0.1:1", interval=0.05, timeout=1)
        probe.ensure_running()
        first = probe.task
        probe.ensure_running()
        assert probe.task is first  # one probing task however often it is asked for
        for _ in range(100):
            if probe.up is not None:
                break
            await asyncio.sleep(0.02)
        first.cancel()
        return probe

    probe = asyncio.run(main())
    assert probe.up is False and 0 <= probe.response_seconds < 1


def test_ensure_running_without_an_event_loop_does_nothing():
    probe = AwsProbe("http://127.0.0.1:1")
    probe.ensure_running()
    assert probe.task is None


def test_a_real_process_tree_memory_and_kernel_marks():
    # a stand-in "kernel": the command line and the preheating environment are what the collector reads
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "ipykernel_launcher"],
                             env={**os.environ, "VOILA_PREHEAT": "True"})
    try:
        deadline = time.monotonic() + 10
        while metrics.process_kind(child.pid) is None and time.monotonic() < deadline:
            time.sleep(0.05)  # until the child has exec'd python
        table = ProcessTable.read()
        assert child.pid in table.tree(os.getpid())
        usage = metrics.tree_usage(table.tree(os.getpid()))
        assert usage.memory_bytes > 10 * 2**20
        assert (usage.kernels, usage.warm_kernels) == (1, 1)
        assert metrics.process_kind(os.getpid()) is None
    finally:
        child.kill()
        child.wait()
    assert metrics.process_memory(child.pid) == 0  # gone between the table and the read: counted as nothing


def test_tree_usage_of_nothing():
    assert metrics.tree_usage([]) == TreeUsage()


def test_a_blocked_event_loop_shows_as_lag_and_a_free_one_does_not():
    async def main():
        probe = LoopLagProbe(interval=0.02)
        probe.ensure_running()
        await asyncio.sleep(0.3)  # a free loop: every wake-up on time, give or take the machine
        free_largest = probe.largest
        time.sleep(0.35)  # what a handler computing in the loop's thread does to everyone else
        await asyncio.sleep(0.1)
        probe.task.cancel()
        return probe, free_largest

    probe, free_largest = asyncio.run(main())
    assert free_largest < 0.25, free_largest
    assert 0.3 <= probe.largest < 1.0, probe.largest
    values = scrape(WorkbenchCollector(users=lambda: [], loop_lag=probe))
    assert values[("workbench_hub_event_loop_lag_max_seconds", ())] == probe.largest
    count = values[("workbench_hub_event_loop_lag_seconds_count", ())]
    assert count == probe.total >= 10
    # the stall is above 0.25 s; the free wake-ups are below 0.1 s (a busy machine may delay one or two)
    assert values[("workbench_hub_event_loop_lag_seconds_bucket", (("le", "0.25"),))] <= count - 1
    assert values[("workbench_hub_event_loop_lag_seconds_bucket", (("le", "0.1"),))] >= count - 3
    assert values[("workbench_hub_event_loop_lag_seconds_bucket", (("le", "+Inf"),))] == count
    assert values[("workbench_hub_event_loop_lag_seconds_sum", ())] >= 0.3
