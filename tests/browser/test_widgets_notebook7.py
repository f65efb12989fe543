"""The widgets in Jupyter Notebook 7 (its own front end, not JupyterLab's or Voila's): both demo notebooks run
and every widget renders and reacts there too."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
import requests

from testing.support import REPO_ROOT, free_port, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DEMOS = [REPO_ROOT / "notebooks" / "widgets_live_demo.ipynb", REPO_ROOT / "notebooks" / "widgets_inspect_demo.ipynb"]
TOKEN = "notebook7-test"


@pytest.fixture(scope="module")
def notebook7(browser, tmp_path_factory):
    root = tmp_path_factory.mktemp("notebook7")
    for demo in DEMOS:
        shutil.copy(demo, root / demo.name)
    port = free_port()
    log = open(root.parent / "notebook7.log", "w")
    server = subprocess.Popen(
        [
            sys.executable, "-m", "jupyter", "notebook", "--no-browser", "--allow-root", f"--port={port}",
            "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}",
            f"--JupyterNotebookApp.user_settings_dir={root / '.settings'}",
            f"--JupyterNotebookApp.workspaces_dir={root / '.workspaces'}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        wait_for(lambda: requests.get(f"http://127.0.0.1:{port}/api/status?token={TOKEN}", timeout=1).ok, 60,
                 "Notebook 7")

        def open_and_run(name: str):
            page = context.new_page()
            page.goto(f"http://127.0.0.1:{port}/notebooks/{name}?token={TOKEN}")
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
            page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=60_000)
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_text("Run All Cells", exact=True).click()
            return page

        yield open_and_run
    finally:
        context.close()
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def test_live_graph_timer_and_progress_render_and_stream(notebook7):
    page = notebook7("widgets_live_demo.ipynb")
    page.wait_for_selector(".pw-live-graph canvas", timeout=60_000)
    status = page.locator(".pw-lg-status").first
    page.wait_for_function("() => /Live/.test(document.querySelector('.pw-lg-status').textContent)", timeout=30_000)
    assert "Live" in status.inner_text()
    first = page.locator(".pw-run-timer-value").first.inner_text()
    page.wait_for_timeout(1500)
    assert page.locator(".pw-run-timer-value").first.inner_text() != first, "the timer does not advance"
    assert page.locator(".pw-progress").count() >= 1


def test_json_viewer_and_learn_more_work(notebook7):
    page = notebook7("widgets_inspect_demo.ipynb")
    page.wait_for_selector(".jv-row", timeout=60_000)
    rows_before = page.locator(".jv-row").count()
    # open the first closed container below the root: its children arrive from the kernel
    page.locator(".jv-row", has_text="statement_ids").locator(".jv-caret").click()
    page.wait_for_function(f"() => document.querySelectorAll('.jv-row').length > {rows_before}", timeout=15_000)
    page.locator(".lm-button").first.click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
