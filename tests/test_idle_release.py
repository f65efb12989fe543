"""Kernels kept ready for the dashboards are shut down while nobody uses the server and start again on its next
use; kernels a page has are never touched (user_server/idle_release.py), on a server started as the hub starts
users' servers."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from testing.support import wait_for
from tests.browser.test_user_server import STAMP
from tests.test_voila_preheat import page, preheating_server, runs

pytestmark = pytest.mark.slow

RELEASE_AFTER = 4


def alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def ready_kernels(tmp_path, known: set[int]) -> set[int]:
    """Kernels that ran the dashboard, besides those in ``known``."""
    return {int(path.name.removeprefix("ran-")) for path in runs(tmp_path)} - known


def test_ready_kernels_are_released_while_nobody_uses_the_server_and_come_back_on_its_next_use(tmp_path):
    server = preheating_server(tmp_path, "--PreheatingKernelManager.busy_threshold=1",
                               f"--PreheatingKernelManager.release_after={RELEASE_AFTER}")
    try:
        wait_for(lambda: ready_kernels(tmp_path, set()), 60, "the pool's kernel to run the dashboard")
        (first,) = ready_kernels(tmp_path, set())

        # nobody uses the server (the test only watches processes): the ready kernel is shut down, the server stays
        wait_for(lambda: not alive(first) and "Released 1 kernel(s) kept ready" in server.log_tail(),
                 10 * RELEASE_AFTER, "the ready kernel to be released")
        assert server.process.poll() is None

        # the next use, an API request as JupyterLab makes when it opens, starts it again; a page then takes it
        requests.get(server.url("api/kernels"), timeout=30).raise_for_status()
        wait_for(lambda: ready_kernels(tmp_path, {first}), 60, "the ready kernel to start again")
        (second,) = ready_kernels(tmp_path, {first})
        taken = STAMP.search(requests.get(server.url("voila/render/dashboards/listed.ipynb"), timeout=60).text)
        assert taken["preheated"] == "True" and int(taken["kernel"]) == second

        # idle again: the pool's new kernel is released, the page's kernel is not
        wait_for(lambda: ready_kernels(tmp_path, {first, second}), 60, "a new kernel to take the taken one's place")
        (third,) = ready_kernels(tmp_path, {first, second})
        wait_for(lambda: not alive(third), 10 * RELEASE_AFTER, "the new ready kernel to be released")
        assert alive(second), "a kernel a page has was shut down for being idle"

        # a dashboard page is a use too: rendered on request (nothing is ready), and the pool fills again
        on_request = page(server)
        assert on_request["preheated"] == "False"
        known = {first, second, third, int(on_request["kernel"])}
        wait_for(lambda: ready_kernels(tmp_path, known), 60, "the ready kernel to start again after a page")
    finally:
        server.stop()
