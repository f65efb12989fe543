"""Plotly figures (``fig.show()``) of a published notebook in Voila, drawn by the workbench's light renderer
(user_server/jupyter_data/labextensions/profiler-workbench-launcher) from plotly.js served by the user's server,
never with plotly's own 4.8 MB extension; the cells after a chart render without waiting for it. The light
renderer also draws on other notebooks' Voila pages, where plotly's extension still loads; JupyterLab, from the
same server, keeps plotly's own renderer."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from testing.user_server import UserServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # a user-like Jupyter server per module

CHART = """\
import plotly.express as px
px.bar(x=["north", "south", "east"], y=[3, 1, 2], title="orders per region").show()
"""
BUTTON = """\
import ipywidgets as widgets
button = widgets.Button(description="Refresh")
answer = widgets.Label()
button.on_click(lambda _: setattr(answer, "value", "refreshed by the kernel"))
widgets.VBox([button, answer])
"""
# a trace plotly's basic bundle does not have
HEATMAP = """\
import plotly.graph_objects as go
go.Figure(go.Heatmap(z=[[1, 2], [3, 4]]), layout={"title": "a heatmap"}).show()
"""
PLOTLY_EXTENSION = "/labextensions/jupyterlab-plotly/"
STATIC_PLOTLY = "/voila/templates/workbench/static/plotly/"


def write_notebook(path: Path, *sources: str) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("published-plotly")
    write_notebook(root / "dashboards" / "published" / "report.ipynb", CHART, BUTTON)
    write_notebook(root / "dashboards" / "published" / "heat.ipynb", HEATMAP)
    write_notebook(root / "own" / "report.ipynb", CHART)
    server = UserServer(root, root.parent / "published-plotly.log")
    yield server
    server.stop()


def open_watched(page, url: str) -> list[str]:
    """Opens ``url``; the list fills with every URL the page asks for."""
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(url)
    return requested


def click_refresh(page) -> None:
    page.get_by_role("button", name="Refresh").wait_for(timeout=60_000)
    page.get_by_role("button", name="Refresh").click()
    page.get_by_text("refreshed by the kernel").wait_for(timeout=30_000)


def fetched(requested: list[str], folder: str) -> list[str]:
    return [url.split("?")[0].rsplit("/", 1)[-1] for url in requested if folder in url]


def test_a_published_bar_chart_is_drawn_from_the_basic_bundle_and_the_button_after_it_works(server, page):
    requested = open_watched(page, server.url("voila/render/dashboards/published/report.ipynb"))
    click_refresh(page)

    chart = page.locator(".workbench-RenderedPlotly .js-plotly-plot")
    chart.locator("svg .barlayer .point").first.wait_for(timeout=30_000)
    assert chart.locator(".gtitle").text_content() == "orders per region"
    assert chart.locator("svg .barlayer .point").count() == 3
    width = chart.evaluate("node => node.getBoundingClientRect().width")
    assert width > 700, width  # the output area's width, not plotly's default 700 px
    assert fetched(requested, STATIC_PLOTLY) == ["plotly-basic.min.js"]
    assert not fetched(requested, PLOTLY_EXTENSION), "plotly's own extension was loaded"


def test_the_chart_keeps_its_room_until_drawn_and_the_cells_after_it_do_not_wait_for_plotly(server, page):
    held = []

    def hold(route):
        held.append(route)  # plotly's bundle never arrives while the page opens

    page.route(f"**{STATIC_PLOTLY}**", hold)
    page.goto(server.url("voila/render/dashboards/published/report.ipynb"))
    click_refresh(page)
    assert held, "the renderer did not ask for plotly.js"
    room = page.locator(".workbench-plotly").evaluate("node => node.getBoundingClientRect().height")
    assert room == 360  # plotly's renderer's height for a figure that sets none
    assert page.locator(".js-plotly-plot").count() == 0
    for route in held:
        route.continue_()
    page.locator(".workbench-RenderedPlotly svg .barlayer .point").first.wait_for(timeout=30_000)


def test_a_trace_the_basic_bundle_lacks_is_drawn_with_the_whole_library_from_the_server(server, page):
    requested = open_watched(page, server.url("voila/render/dashboards/published/heat.ipynb"))
    page.locator(".workbench-RenderedPlotly .js-plotly-plot .heatmaplayer image").wait_for(timeout=60_000)
    assert fetched(requested, STATIC_PLOTLY) == ["plotly.min.js"]
    assert not fetched(requested, PLOTLY_EXTENSION)


def test_when_the_basic_bundle_cannot_be_fetched_the_whole_library_draws(server, page):
    page.route(f"**{STATIC_PLOTLY}plotly-basic.min.js*", lambda route: route.fulfill(status=404))
    requested = open_watched(page, server.url("voila/render/dashboards/published/report.ipynb"))
    page.locator(".workbench-RenderedPlotly svg .barlayer .point").first.wait_for(timeout=60_000)
    assert fetched(requested, STATIC_PLOTLY) == ["plotly-basic.min.js", "plotly.min.js"]


def test_where_plotlys_own_extension_loads_too_the_light_renderer_draws(server, page):
    # a notebook of the user's own in Voila: its page keeps every extension, plotly's included
    requested = open_watched(page, server.url("voila/render/own/report.ipynb"))
    page.locator(".workbench-RenderedPlotly .js-plotly-plot .barlayer .point").first.wait_for(timeout=60_000)
    assert fetched(requested, PLOTLY_EXTENSION)
    assert page.locator(".jp-RenderedPlotly").count() == 0


def test_jupyterlab_keeps_plotlys_own_renderer(server, page):
    page.goto(server.url("lab/tree/own/report.ipynb"))
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=60_000)  # cells sent earlier are lost
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_text("Run All Cells", exact=True).click()
    page.locator(".jp-RenderedPlotly.js-plotly-plot .barlayer .point").first.wait_for(timeout=60_000)
    assert page.locator(".workbench-RenderedPlotly").count() == 0
