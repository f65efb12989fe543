"""A Jupyter server configured as users' servers are (the repository's jupyter_config and jupyter_data, and the
variable the hub sets to name the dashboards): dashboards open from kernels that already ran them, widgets
answer, and nothing is fetched from outside the machine.

The notebooks record which kernel ran them, when, and whether Voila started that kernel in advance, so the page
itself says whether it came from the pool.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import urlparse

import nbformat
import pytest
import requests

from user_server.voila_preheat import POOL_SIZE_VARIABLE, PREHEAT_VARIABLE
from testing.support import wait_for
from testing.user_server import UserServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # a user-like Jupyter server per module

TOKEN = "preheat-test"
# Each run leaves a file named after its kernel's process, so the test knows when a pool kernel has run.
RUN_CELL = """\
import os, time
from pathlib import Path
import ipywidgets as widgets
started = time.time()
Path(f"ran-{os.getpid()}").touch()
print(f"kernel={os.getpid()} ran_at={started:.3f} preheated={os.environ.get('VOILA_PREHEAT')}")
button = widgets.Button(description="Ask the kernel", icon="question")
answer = widgets.Label()
button.on_click(lambda _: setattr(answer, "value", f"answered by {os.getpid()}"))
widgets.VBox([button, answer])
"""
# Figures as the dashboards show them: empty until Python gives them data, then a bar chart (plotly's basic
# bundle) and, on request, a heatmap (a trace the basic bundle lacks).
FIGURES = """\
import ipywidgets as widgets
from widgets import Figure
bars, heat = Figure(), Figure()
draw = widgets.Button(description="Draw bars")
draw.on_click(lambda _: bars.show({"data": [{"type": "bar", "x": ["a", "b"], "y": [1, 2]}]}))
warm = widgets.Button(description="Draw heat")
warm.on_click(lambda _: heat.show({"data": [{"type": "heatmap", "z": [[1, 2], [3, 4]]}]}))
widgets.VBox([draw, warm, bars, heat])
"""
PLAIN_PLOTLY = "import plotly.express as px\npx.bar(x=['a', 'b', 'c'], y=[1, 3, 2], title='a plain plotly figure')"
STAMP = re.compile(r"kernel=(?P<kernel>\d+) ran_at=(?P<ran_at>[\d.]+) preheated=(?P<preheated>\w+)")


def write_notebook(path: Path, source: str = RUN_CELL) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)


class UserLikeServer(UserServer):
    """A user-like server told to preheat some notebooks, with what these tests read off it."""

    def __init__(self, root: Path, log_path: Path, preheat: str):
        super().__init__(root, log_path, env={PREHEAT_VARIABLE: preheat, POOL_SIZE_VARIABLE: "1"},
                         args=("--PreheatingKernelManager.busy_threshold=1",))  # pools start however busy

    def runs(self) -> set[str]:
        return {path.name for path in (self.root / "dashboards").glob("ran-*")}

    def page(self, notebook: str) -> tuple[float, re.Match]:
        asked_at = time.time()
        response = requests.get(self.url(f"voila/render/dashboards/{notebook}"), timeout=60)
        response.raise_for_status()
        stamp = STAMP.search(response.text)
        assert stamp, response.text[-2000:]
        return asked_at, stamp


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("preheat")
    write_notebook(root / "dashboards" / "listed.ipynb")
    write_notebook(root / "dashboards" / "unlisted.ipynb")
    write_notebook(root / "dashboards" / "figures.ipynb", FIGURES)
    plain = nbformat.v4.new_notebook()
    plain.cells = [nbformat.v4.new_code_cell(PLAIN_PLOTLY)]
    plain.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    (root / "own").mkdir()
    nbformat.write(plain, root / "own" / "plain_plotly.ipynb")
    server = UserLikeServer(root, root.parent / "preheat-server.log",
                            preheat="dashboards/listed.ipynb dashboards/gone.ipynb")
    yield server
    server.stop()


def test_a_listed_dashboard_is_served_from_a_kernel_that_ran_it_before_the_request(server):
    wait_for(lambda: len(server.runs()) == 1, 60, "the pool's kernel to run the dashboard")
    asked_at, stamp = server.page("listed.ipynb")
    assert stamp["preheated"] == "True"
    assert float(stamp["ran_at"]) < asked_at, "the page was rendered after it was asked for"
    assert f"ran-{stamp['kernel']}" in server.runs()

    # the pool refills: the next visitor also gets a kernel that ran in advance, a different one
    wait_for(lambda: len(server.runs()) == 2, 60, "the pool to refill")
    asked_again, again = server.page("listed.ipynb")
    assert again["preheated"] == "True" and float(again["ran_at"]) < asked_again
    assert again["kernel"] != stamp["kernel"]


def test_other_notebooks_run_when_asked_for_as_before(server):
    asked_at, stamp = server.page("unlisted.ipynb")
    assert stamp["preheated"] == "False"
    assert float(stamp["ran_at"]) > asked_at


def test_a_listed_notebook_that_does_not_exist_is_named_in_the_log(server):
    wait_for(lambda: "Not preheating dashboards/gone.ipynb" in server.log_path.read_text(), 30, "the warning")


def test_widgets_answer_from_a_preheated_kernel(server, browser):
    wait_for(lambda: "Preheating kernel started for dashboards/listed.ipynb" in server.log_path.read_text(), 60, "pool")
    page = browser.new_page()
    try:
        page.goto(server.url("voila/render/dashboards/listed.ipynb"))
        shown = page.locator("text=/kernel=\\d+ ran_at/").first
        shown.wait_for(timeout=60_000)
        stamp = STAMP.search(shown.inner_text())
        assert stamp["preheated"] == "True"
        page.get_by_role("button", name="Ask the kernel").click()
        page.get_by_text(f"answered by {stamp['kernel']}").wait_for(timeout=30_000)
    finally:
        page.close()


def test_nothing_is_fetched_from_outside_the_machine_and_the_icons_still_show(server, browser):
    page = browser.new_page()
    outside = []
    page.on("request", lambda request: outside.append(request.url)
            if urlparse(request.url).hostname not in ("127.0.0.1", "localhost", None) else None)
    try:
        page.goto(server.url("voila/render/dashboards/unlisted.ipynb"))
        icon = page.locator(".widget-button i.fa-question")
        icon.wait_for(timeout=60_000)
        page.wait_for_function("document.fonts.status === 'loaded'")
        served = page.evaluate("""performance.getEntriesByType('resource')
            .filter(entry => entry.name.includes('/voila/templates/workbench/static/fontawesome/'))
            .map(entry => [entry.name.split('/fontawesome/')[1].split('?')[0], entry.responseStatus])""")
        assert ["css/all.min.css", 200] in served and ["css/v4-shims.min.css", 200] in served, served
        family = icon.evaluate("element => getComputedStyle(element).fontFamily")
        assert "Font Awesome 5 Free" in family
        assert ["webfonts/fa-solid-900.woff2", 200] in served, served  # the icon's glyphs, from this server
        assert not outside, outside
    finally:
        page.close()


LOADED_EXTENSIONS = """performance.getEntriesByType('resource')
    .map(entry => entry.name.match(/voila\\/labextensions\\/(@[^/]+\\/[^/]+|[^/@]+)\\//))
    .filter(Boolean).map(match => match[1])"""


def test_dashboards_load_no_front_end_extension_they_do_not_use_and_other_notebooks_keep_them(server, browser):
    page = browser.new_page()
    try:
        for dashboard in ("listed.ipynb", "unlisted.ipynb"):  # from a preheated kernel, and rendered on request
            page.goto(server.url(f"voila/render/dashboards/{dashboard}"))
            page.get_by_role("button", name="Ask the kernel").wait_for(timeout=60_000)
            loaded = set(page.evaluate(LOADED_EXTENSIONS))
            assert "@jupyter-widgets/jupyterlab-manager" in loaded and "anywidget" in loaded, loaded
            assert not loaded & {"jupyterlab-plotly", "@jupyter-notebook/lab-extension"}, (dashboard, loaded)

        # a notebook of the user's own, outside the dashboards, keeps every extension; its plotly figures are drawn
        # (by the workbench's light renderer, registered after plotly's: user_server/voila_pages.py)
        page.goto(server.url("voila/render/own/plain_plotly.ipynb"))
        page.locator(".js-plotly-plot .gtitle", has_text="a plain plotly figure").first.wait_for(timeout=60_000)
        assert "jupyterlab-plotly" in set(page.evaluate(LOADED_EXTENSIONS))
    finally:
        page.close()


def test_charts_fetch_their_library_only_to_draw_and_bar_charts_the_small_bundle_over_http(server, browser):
    page = browser.new_page()
    frames = []
    page.on("websocket", lambda socket: socket.on("framereceived", lambda payload: frames.append(len(payload))))
    try:
        page.goto(server.url("voila/render/dashboards/figures.ipynb"))
        page.get_by_role("button", name="Draw bars").wait_for(timeout=60_000)
        page.wait_for_timeout(500)
        # two empty charts on the page, and no chart library run for them
        assert page.locator(".workbench-figure").count() == 2
        assert page.evaluate("typeof window.Plotly") == "undefined"

        page.get_by_role("button", name="Draw bars").click()
        page.locator(".workbench-figure .barlayer .point").first.wait_for(timeout=30_000)
        fetched = page.evaluate("""performance.getEntriesByType('resource').map(entry => entry.name)
            .filter(name => name.includes('plotly'))""")
        assert any(name.split("?")[0].endswith("/static/plotly/plotly-basic.min.js") for name in fetched), fetched
        assert max(frames) < 1_000_000, "plotly.js came over the kernel's websocket"

        # a trace the basic bundle does not draw: the whole library, from the kernel, and the bars stay drawn
        page.get_by_role("button", name="Draw heat").click()
        page.locator(".workbench-figure .heatmaplayer image").first.wait_for(timeout=60_000)
        assert max(frames) > 3_000_000
        assert page.locator(".workbench-figure .barlayer .point").count() == 2
    finally:
        page.close()
