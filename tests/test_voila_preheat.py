"""Preheating that never competes with the person: which dashboards a user's server warms first (the ones its person
opens most, the home page's order for ties), and at what CPU priority."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from testing.support import wait_for
from tests.browser.test_user_server import STAMP, write_notebook
from testing.user_server import UserServer
from user_server.voila_preheat import (POOL_SIZE_VARIABLE, PREHEAT_VARIABLE, WARM_KERNELS_VARIABLE,
                                      PreheatingKernelManager)

NOTEBOOKS = ["dashboards/query_optimization.ipynb", "dashboards/load_test.ipynb", "dashboards/caching.ipynb"]


class RecordingManager(PreheatingKernelManager):
    """Records which pool is started when, instead of starting kernels."""

    def fill_if_needed(self, delay=None, notebook_name=None, extra_kernel_env_variables=None, **kwargs):
        self.started.append((notebook_name, delay))


def manager(tmp_path, opens=None) -> RecordingManager:
    for notebook in NOTEBOOKS:
        (tmp_path / notebook).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / notebook).write_text("{}")
    opens_path = tmp_path / "opens.json"
    if opens is not None:
        opens_path.write_text(opens if isinstance(opens, str) else json.dumps(opens))
    recording = RecordingManager(root_dir=str(tmp_path), opens_path=str(opens_path))
    recording.started = []
    return recording


def test_at_first_the_pools_fill_in_the_home_pages_order_two_seconds_apart(tmp_path):
    recording = manager(tmp_path)
    assert recording.preheat(NOTEBOOKS, {}) == NOTEBOOKS
    assert recording.started == [(NOTEBOOKS[0], 0.0), (NOTEBOOKS[1], 2.0), (NOTEBOOKS[2], 4.0)]


def test_the_dashboards_opened_most_warm_first(tmp_path):
    recording = manager(tmp_path, {NOTEBOOKS[2]: 5, NOTEBOOKS[1]: 1})
    recording.preheat(NOTEBOOKS, {})
    assert [name for name, _ in recording.started] == [NOTEBOOKS[2], NOTEBOOKS[1], NOTEBOOKS[0]]
    assert [delay for _, delay in recording.started] == [0.0, 2.0, 4.0]


def test_a_damaged_count_is_ignored(tmp_path):
    for damaged in ("not json", "[1, 2]", json.dumps({NOTEBOOKS[2]: "many"})):
        recording = manager(tmp_path, damaged)
        recording.preheat(NOTEBOOKS, {})
        assert [name for name, _ in recording.started] == NOTEBOOKS


def test_an_opening_is_counted_in_the_users_own_file(tmp_path):
    recording = manager(tmp_path, {NOTEBOOKS[1]: 2})
    recording._count_open(NOTEBOOKS[0])
    recording._count_open(NOTEBOOKS[1])
    assert json.loads((tmp_path / "opens.json").read_text()) == {NOTEBOOKS[0]: 1, NOTEBOOKS[1]: 3}


def nice_values(pid: int) -> set[int]:
    """The nice value of each thread of process ``pid`` (field 19 of /proc/<pid>/task/<tid>/stat)."""
    values = set()
    for thread in (Path("/proc") / str(pid) / "task").iterdir():
        fields = (thread / "stat").read_text().rsplit(")", 1)[1].split()
        values.add(int(fields[16]))
    return values


@pytest.mark.slow
def test_a_pool_kernel_waits_at_a_lower_priority_and_the_page_that_takes_it_gives_the_normal_one_back(tmp_path):
    """A user's server as the hub starts it: the kernel that ran the dashboard in advance, and each of its threads,
    is niced while it waits; the page that takes it gets a kernel at nice 0, and the opening is counted."""
    opens = tmp_path / "opens.json"
    server = preheating_server(tmp_path, f"--PreheatingKernelManager.opens_path={opens}",
                               "--PreheatingKernelManager.busy_threshold=1")
    try:
        wait_for(lambda: list((tmp_path / "dashboards").glob("ran-*")), 60, "the pool's kernel to run the dashboard")
        waiting = int(next((tmp_path / "dashboards").glob("ran-*")).name.removeprefix("ran-"))
        assert nice_values(waiting) == {10}

        page = requests.get(server.url("voila/render/dashboards/listed.ipynb"), timeout=60)
        stamp = STAMP.search(page.text)
        assert stamp["preheated"] == "True" and int(stamp["kernel"]) == waiting
        assert nice_values(waiting) == {0}
        assert json.loads(opens.read_text()) == {"dashboards/listed.ipynb": 1}
    finally:
        server.stop()


def preheating_server(tmp_path, *options: str) -> UserServer:
    write_notebook(tmp_path / "dashboards" / "listed.ipynb")
    return UserServer(tmp_path, tmp_path / "server.log", env={PREHEAT_VARIABLE: "dashboards/listed.ipynb"},
                      args=options)


@contextlib.contextmanager
def busy_machine():
    """A process spinning on one CPU for as long as the block runs: an idle machine is never busy at all."""
    spinning = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        spinning.kill()
        spinning.wait()


def kill(pid: int) -> None:
    """SIGKILL, then wait until the process is gone or a zombie (its server has not reaped it yet)."""
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not Path(f"/proc/{pid}").exists() or Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z",
             10, f"process {pid} to die")


def runs(tmp_path) -> list[Path]:
    return list((tmp_path / "dashboards").glob("ran-*"))


def page(server: UserServer) -> re.Match:
    asked_at = time.time()
    response = requests.get(server.url("voila/render/dashboards/listed.ipynb"), timeout=60)
    assert time.time() - asked_at < 30, "the page waited for a quieter machine"
    stamp = STAMP.search(response.text)
    assert stamp, f"no stamp on the page ({response.status_code}): {response.text[-2000:]}\n{server.log_tail()}"
    assert float(stamp["ran_at"]) > asked_at
    return stamp


@pytest.mark.slow
def test_a_pool_kernel_waits_for_a_quieter_machine_and_a_page_meanwhile_waits_for_nothing(tmp_path):
    # a threshold of 0: any CPU use at all is too busy (and a process spinning makes sure there is some), so a pool
    # kernel waits for its longest
    with busy_machine():
        server = preheating_server(tmp_path, "--PreheatingKernelManager.busy_threshold=0",
                                   "--PreheatingKernelManager.max_wait=10")
        try:
            time.sleep(4)
            assert runs(tmp_path) == [], "the pool's kernel ran the dashboard on a busy machine"
            # nothing in the pool has run yet: the page is rendered on request, as without preheating
            assert page(server)["preheated"] == "False"

            # after its longest wait the pool's kernel runs; a page takes it, and the one that takes its place waits
            wait_for(lambda: len(runs(tmp_path)) == 2, 60, "the pool's kernel to run the dashboard")
            taken = requests.get(server.url("voila/render/dashboards/listed.ipynb"), timeout=60).text
            assert STAMP.search(taken)["preheated"] == "True"
            # the next page does not wait for the machine to be quiet: it starts the waiting kernel at once
            assert page(server)["preheated"] == "True"
            assert "(a page asked for it)" in (tmp_path / "server.log").read_text()
        finally:
            server.stop()


@pytest.mark.slow
def test_a_pool_kernel_that_waited_its_longest_starts_however_busy_the_machine(tmp_path):
    with busy_machine():
        server = preheating_server(tmp_path, "--PreheatingKernelManager.busy_threshold=0",
                                   "--PreheatingKernelManager.max_wait=3")
        try:
            wait_for(lambda: runs(tmp_path), 60, "the pool's kernel to run the dashboard")
            assert "for a quieter machine" in (tmp_path / "server.log").read_text()
        finally:
            server.stop()


@pytest.mark.slow
def test_a_pool_kernel_that_died_before_a_page_took_it_is_replaced_by_a_live_one(tmp_path):
    """Voila would hand the page the dead kernel: its outputs shown, its widgets never answering."""
    server = preheating_server(tmp_path, "--PreheatingKernelManager.busy_threshold=1")
    try:
        wait_for(lambda: runs(tmp_path), 60, "the pool's kernel to run the dashboard")
        dead = int(runs(tmp_path)[0].name.removeprefix("ran-"))
        kill(dead)

        stamp = page(server)
        assert int(stamp["kernel"]) != dead and stamp["preheated"] == "False"
        os.kill(int(stamp["kernel"]), 0)  # the page's kernel is alive
        assert "died before a page took it" in server.log_tail()
    finally:
        server.stop()


MARKER_MODULE = """\
import os
from pathlib import Path
Path(f"imported-in-{os.getpid()}").touch()
"""


@pytest.mark.slow
def test_a_warm_kernel_imported_the_dashboards_code_in_advance_and_runs_whichever_dashboard_is_opened(tmp_path):
    write_notebook(tmp_path / "own" / "mine.ipynb")
    (tmp_path / "dashboards").mkdir()
    (tmp_path / "dashboards" / "warm_marker.py").write_text(MARKER_MODULE)
    write_notebook(tmp_path / "dashboards" / "listed.ipynb")
    server = UserServer(tmp_path, tmp_path / "warm.log", env={
        PREHEAT_VARIABLE: "dashboards/listed.ipynb", POOL_SIZE_VARIABLE: "0", WARM_KERNELS_VARIABLE: "1"},
        args=("--PreheatingKernelManager.busy_threshold=1", "--PreheatingKernelManager.warm_imports=warm_marker"))

    def imported() -> set[int]:
        return {int(path.name.removeprefix("imported-in-")) for path in (tmp_path / "dashboards").glob("imported-in-*")}

    try:
        wait_for(imported, 60, "a warm kernel to import the dashboards' code")
        (warm,) = imported()
        assert runs(tmp_path) == [], "a warm kernel ran a dashboard before anyone opened it"

        stamp = page(server)  # run on request...
        assert int(stamp["kernel"]) == warm, "the page did not get the warm kernel"  # ...in the warm kernel
        assert "Using a warm kernel" in (tmp_path / "warm.log").read_text()
        # another takes its place
        wait_for(lambda: len(imported()) == 2, 60, "a new warm kernel")
        # and when it dies before a page takes it, the page gets a live kernel instead
        (replacement,) = imported() - {warm}
        kill(replacement)
        stamp = page(server)
        assert int(stamp["kernel"]) not in (warm, replacement)
        os.kill(int(stamp["kernel"]), 0)
        assert "died before a page took it" in server.log_tail()

        # a notebook of the user's own starts a kernel of its own, in its own folder
        asked_at = time.time()
        own = STAMP.search(requests.get(server.url("voila/render/own/mine.ipynb"), timeout=60).text)
        assert own["preheated"] == "False" and int(own["kernel"]) not in imported()
        assert float(own["ran_at"]) > asked_at
    finally:
        server.stop()
