"""LiveGraph in a real Voila page: following, pausing on drag/zoom, back to live, presets, one library per page;
clock-time ticks, a legend that reads the newest values, and what it shows when it is not live or has no data.

The notebook streams one point per 0.1 s on a simulated clock running 10x (1 s per point) over 30 minutes
of history that hold a p99 spike of 5000 ms twenty minutes back; every other latency stays under 45 ms.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from testing.support import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = Path(__file__).parent / "notebooks" / "live_graph_follow.ipynb"
WINDOW_SECONDS = 300  # the notebook's default window
CLOCK_TICK = re.compile(r"^\d\d:\d\d:\d\d$")
NUMBER = r"-?\d[\d,]*(\.\d+)?"


def ticks(graph) -> list[str]:
    """The x-axis labels as drawn (the canvas keeps no text: the view copies them to the page)."""
    return graph.get_attribute("data-x-ticks").split()


def tick_seconds(labels: list[str]) -> list[int]:
    moments = [dt.datetime.strptime(label, "%H:%M:%S") for label in labels]
    pairs = zip(moments[:-1], moments[1:], strict=True)
    return [int((later - earlier).total_seconds()) % 86400 for earlier, later in pairs]


def legend(graph) -> dict[str, str]:
    """The legend as a reader sees it: label -> value text, the time row included."""
    return graph.evaluate("""element => Object.fromEntries([...element.querySelectorAll('.u-legend .u-series')]
        .map(row => [row.querySelector('.u-label').textContent, row.querySelector('.u-value').textContent]))""")


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

    # Clock-time ticks a whole number of seconds apart, at most eight, and no date line under them.
    labels = ticks(graph)
    assert 3 <= len(labels) <= 8 and all(CLOCK_TICK.match(label) for label in labels), labels
    steps = tick_seconds(labels)
    assert len(set(steps)) == 1 and steps[0] >= 1, labels  # one step, whole seconds (300 s over 8 ticks: 60 s)
    # Nobody hovers: the legend reads the newest values, with their units (not "--").
    values = legend(graph)
    assert CLOCK_TICK.match(values["time"]), values
    assert re.fullmatch(rf"{NUMBER} ms", values["p99"]) and re.fullmatch(NUMBER, values["requests/s"]), values
    newest = values["time"]
    wait_for(lambda: legend(graph)["time"] != newest, 15, "the legend to follow the newest point")

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
    wait_for(lambda: tick_seconds(ticks(graph)) and set(tick_seconds(ticks(graph))) <= {10, 15}, 15, "1 min ticks")
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


STATES_NOTEBOOK = {
    "cells": [
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": source}
        for source in [
            "import time\n"
            "from widgets.live_graph import LiveGraph\n"
            "empty = LiveGraph(series=[{'name': 'rps', 'unit': 'req/s'}], live=False,\n"
            "                  empty_text='Start a run: its requests per second appear here.')\n"
            "empty",
            "end = time.time()\n"
            "replay = LiveGraph(series=[{'name': 'rps', 'unit': 'req/s'}], live=False, window=0,\n"
            "                   caption=f\"Run 'smoke-3' · finished {{t:{end}}}\")\n"
            "replay.extend([end - 30 + i for i in range(31)], {'rps': [100.0 + i for i in range(31)]})\n"
            "replay",
            "since_start = LiveGraph(series=[{'name': 'a', 'label': 'run a', 'connect': True},\n"
            "                                {'name': 'b', 'label': 'run b', 'connect': True}],\n"
            "                        x_axis='elapsed', live=False, window=0, caption='Comparing: run a, run b')\n"
            "since_start.extend([0, 1, 2, 3, 95], {'a': [1, float('nan'), 3, float('nan'), 5],\n"
            "                                      'b': [float('nan'), 2, float('nan'), 4, float('nan')]})\n"
            "since_start",
        ]
    ],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def test_empty_replayed_and_compared_graphs_say_what_they_show(voila, page, tmp_path):
    notebook = tmp_path / "live_graph_states.ipynb"
    notebook.write_text(json.dumps(STATES_NOTEBOOK))
    server = voila({notebook.name: notebook})
    page.goto(server.url(notebook.name))
    graphs = page.locator(".pw-live-graph")
    empty, replay, since_start = graphs.nth(0), graphs.nth(1), graphs.nth(2)
    expect(replay.locator("canvas")).to_be_visible(timeout=60_000)
    expect(since_start.locator("canvas")).to_be_visible()

    # Before any data: the empty text stands where the lines will be, and nothing claims to be live.
    expect(empty.locator(".pw-lg-empty")).to_have_text("Start a run: its requests per second appear here.")
    expect(empty.locator(".pw-lg-empty")).to_be_visible()
    expect(empty.get_by_text("Live")).to_have_count(0)

    # A finished run: named on screen with its end in the viewer's clock, no Live badge, legend at the last point.
    caption = replay.locator(".pw-lg-caption")
    expect(caption).to_have_text(re.compile(r"^Run 'smoke-3' · finished \d\d:\d\d:\d\d$"))
    expect(replay.locator(".pw-lg-empty")).to_be_hidden()
    expect(replay.get_by_text("Live")).to_have_count(0)
    assert replay.get_attribute("data-live") == "false"
    assert legend(replay)["rps"] == "130 req/s"
    assert legend(replay)["time"] == caption.inner_text()[-8:]  # the last point is the run's end
    labels = ticks(replay)
    assert 3 <= len(labels) <= 8 and all(CLOCK_TICK.match(label) for label in labels), labels
    assert set(tick_seconds(labels)) <= {5, 10}, labels

    # Hovering shows the value under the pointer; leaving the plot goes back to the newest.
    box = replay.locator(".u-over").bounding_box()
    page.mouse.move(box["x"] + 3, box["y"] + box["height"] / 2)
    wait_for(lambda: legend(replay)["rps"] in {"100 req/s", "101 req/s"}, 10, "the legend under the pointer")
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] - 40)
    wait_for(lambda: legend(replay)["rps"] == "130 req/s", 10, "the legend back at the newest point")

    # Runs compared on time since their start: m:ss ticks, lines drawn across the other run's samples.
    expect(since_start.locator(".pw-lg-caption")).to_have_text("Comparing: run a, run b")
    labels = ticks(since_start)
    assert labels[0] == "0:00" and all(re.fullmatch(r"\d:\d\d", label) for label in labels), labels
    assert len(labels) <= 8
    assert legend(since_start)["elapsed"] == "1:35"
