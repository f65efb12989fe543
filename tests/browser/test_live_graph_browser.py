"""LiveGraph in a real Voila page: following, pausing on drag/zoom, back to live, presets, one library per page.

The notebook streams one point per 0.1 s on a simulated clock running 10x (1 s per point) over 30 minutes
of history that hold a p99 spike of 5000 ms twenty minutes back; every other latency stays under 45 ms.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from testing.support import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = Path(__file__).parent / "notebooks" / "live_graph_follow.ipynb"
WINDOW_SECONDS = 300  # the notebook's default window


def visible_range(graph) -> tuple[float, float]:
    data = graph.evaluate("element => ({...element.dataset})")
    return float(data["xMin"]), float(data["xMax"])


def visible_width(graph) -> float:
    low, high = visible_range(graph)  # one read: the range moves between two reads while following
    return high - low


def y_max(graph) -> float:
    return float(graph.get_attribute("data-y-max"))


def new_points(graph) -> int:
    return int(graph.get_attribute("data-new-points"))


def drag(page, graph, pixels: float, start: float = 0.5) -> None:
    """Drag the plot horizontally by ``pixels``, starting at ``start`` (a share of the plot's width)."""
    box = graph.locator(".u-over").bounding_box()
    x, y = box["x"] + box["width"] * start, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + pixels / 2, y, steps=4)
    page.mouse.move(x + pixels, y, steps=4)
    page.mouse.up()


def is_following(graph) -> bool:
    before = visible_range(graph)[1]
    return wait_for(lambda: visible_range(graph)[1] > before, 15, "the view to move with new data")


def test_follow_drag_pause_resume_presets(voila, page):
    library_frames = []

    def watch(websocket):
        def on_frame(payload):
            if isinstance(payload, bytes) and b"leeoniya/uPlot" in payload:
                library_frames.append(len(payload))

        websocket.on("framereceived", on_frame)

    page.on("websocket", watch)
    server = voila({NOTEBOOK.name: NOTEBOOK})
    page.goto(server.url(NOTEBOOK.name))
    graphs = page.locator(".pw-live-graph")
    graph, small = graphs.nth(0), graphs.nth(1)
    expect(graph.locator("canvas")).to_be_visible(timeout=60_000)
    expect(small.locator("canvas")).to_be_visible()
    status = graph.locator(".pw-lg-status")
    back_to_live = graph.get_by_role("button", name="Back to live")

    # Two graphs, one copy of the chart library over the websocket and in the page.
    assert len(library_frames) == 1
    assert page.locator("style[data-profiler-workbench=uplot]").count() == 1

    # Following: the window slides with the newest data and keeps its width.
    expect(status).to_have_text("● Live")
    assert is_following(graph)
    low, high = visible_range(graph)
    assert high - low == pytest.approx(WINDOW_SECONDS)
    expect(back_to_live).to_be_hidden()

    # The user drags the plot to the right (back in time): following stops and the view stays exactly put.
    drag(page, graph, 200)
    expect(status).to_contain_text("Paused")
    expect(back_to_live).to_be_visible()
    paused = visible_range(graph)
    assert paused[1] < high
    plot = graph.locator(".u-wrap")
    picture = plot.screenshot()
    counted = new_points(graph)
    time.sleep(1.5)  # ~15 new points arrive meanwhile
    assert visible_range(graph) == paused
    assert plot.screenshot() == picture
    count, text = graph.evaluate("e => [Number(e.dataset.newPoints), e.querySelector('.pw-lg-status').textContent]")
    assert count >= counted + 5
    assert text == f"Paused · {count} new points"

    # Dragging back past the newest point resumes following with the same width. (-700 px is ~190 s:
    # enough to pass the newest point even if a loaded machine took 10 s since the first drag.)
    drag(page, graph, -700, start=0.95)
    expect(status).to_have_text("● Live")
    assert is_following(graph)
    low, high = visible_range(graph)
    assert high - low == pytest.approx(paused[1] - paused[0])

    # Ctrl+wheel zooms around the pointer, which also leaves the end: paused; the button brings it back.
    box = graph.locator(".u-over").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] / 2)
    page.keyboard.down("Control")
    page.mouse.wheel(0, -400)
    page.keyboard.up("Control")
    expect(status).to_contain_text("Paused")
    zoomed = visible_range(graph)
    assert zoomed[1] - zoomed[0] < WINDOW_SECONDS * 0.9
    back_to_live.click()
    expect(status).to_have_text("● Live")
    assert is_following(graph)
    low, high = visible_range(graph)
    assert high - low == pytest.approx(WINDOW_SECONDS)

    # Presets: the width follows the choice and y autoscales to what is visible (the spike is 20 min back).
    graph.get_by_role("button", name="1 min").click()
    expect(graph.get_by_role("button", name="1 min")).to_have_attribute("aria-pressed", "true")
    wait_for(lambda: visible_width(graph) == pytest.approx(60), 15, "1 min window")
    assert y_max(graph) < 100
    graph.get_by_role("button", name="15 min").click()
    wait_for(lambda: visible_width(graph) == pytest.approx(900), 15, "15 min window")
    assert y_max(graph) < 100
    graph.get_by_role("button", name="All").click()
    wait_for(lambda: visible_width(graph) > 1800, 15, "the whole run")
    assert y_max(graph) >= 5000
    assert is_following(graph)

    # The small graph keeps at most 200 points in the page although ~2,000 reached it, and still spans
    # the whole run: old points were folded into buckets, not dropped.
    small.get_by_role("button", name="All").click()
    wait_for(lambda: visible_range(small)[0] == visible_range(graph)[0], 15, "the small graph's whole run")
    assert int(small.get_attribute("data-points")) <= 200
