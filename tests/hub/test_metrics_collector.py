"""The workbench's metrics collector on fake users, spawners and processes: what it counts, whose memory it sums,
and that the local AWS is reported from the probe's last answer, never asked during a scrape."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from types import SimpleNamespace

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from hub import metrics
from hub.metrics import AwsProbe, ProcessTable, TreeUsage, WorkbenchCollector


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


def test_servers_are_counted_by_kind_and_only_when_ready():
    users = [user("ada", **{"": spawner(pid=10), "dash_caching": spawner(pid=20), "scratch": spawner(ready=False)}),
             user("bea", **{"": spawner(pid=30), "dash_old": spawner(ready=False, active=False)})]
    values = scrape(collector(users))
    assert values[("workbench_user_servers", (("kind", "own"),))] == 2
    assert values[("workbench_user_servers", (("kind", "dashboard"),))] == 1


def test_memory_is_summed_over_each_users_server_trees_and_kernels_are_counted():
    users = [user("ada", **{"": spawner(pid=10), "dash_caching": spawner(pid=20)}),
             user("bea", **{"": spawner(pid=30)})]
    values = scrape(collector(users))
    assert values[("workbench_user_memory_bytes", (("user", "ada"),))] == 100 + 50 + 40 + 300 + 30
    assert values[("workbench_user_memory_bytes", (("user", "bea"),))] == 7
    assert values[("workbench_user_memory_bytes_total", ())] == 527
    assert values[("workbench_kernels", ())] == 3
    assert values[("workbench_warm_kernels", ())] == 2


def test_a_server_that_is_no_process_here_has_no_memory_and_the_table_is_not_read():
    def no_table():
        raise AssertionError("the process table is read although no server is a process of this machine")

    users = [user("ada", **{"": spawner(pid=0)})]
    values = scrape(WorkbenchCollector(users=lambda: users, processes=no_table, usage=fake_usage))
    assert values[("workbench_user_servers", (("kind", "own"),))] == 1
    assert not [key for key in values if key[0] == "workbench_user_memory_bytes"]
    assert values[("workbench_user_memory_bytes_total", ())] == 0


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
