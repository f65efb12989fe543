"""LiveGraph in a real JupyterLab (its notebook panel scrolls and its shortcuts listen): following, pausing on
drag with the view held still while points keep coming, and back to live."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import JupyterLabServer
from tests.browser.test_live_graph_browser import drag, is_following, new_points, visible_range

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = Path(__file__).parent / "notebooks" / "live_graph_follow.ipynb"


def test_follow_pause_and_back_to_live_in_jupyterlab(browser, tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    shutil.copy(NOTEBOOK, notebooks / NOTEBOOK.name)
    lab = JupyterLabServer(notebooks, tmp_path / "lab.log")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        lab.open_and_run_all(page, NOTEBOOK.name)
        graph = page.locator(".pw-live-graph").first
        expect(graph.locator("canvas")).to_be_visible(timeout=60_000)
        graph.scroll_into_view_if_needed()
        status = graph.locator(".pw-lg-status")
        expect(status).to_have_text("● Live", timeout=30_000)
        assert is_following(graph)

        drag(page, graph, 200)
        expect(status).to_contain_text("Paused")
        paused = visible_range(graph)
        counted = new_points(graph)
        time.sleep(1.5)  # points keep arriving
        assert visible_range(graph) == paused
        assert new_points(graph) >= counted + 5

        graph.get_by_role("button", name="Back to live").click()
        expect(status).to_have_text("● Live")
        assert is_following(graph)
    finally:
        context.close()
        lab.stop()
