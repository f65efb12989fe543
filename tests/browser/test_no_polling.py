"""Push, not poll: a 30 s run's progress and statistics reach a real Voila page as widget messages over the
kernel's websocket, and the page makes no HTTP requests at a regular interval meanwhile.

The notebook (``notebooks/no_polling_run.ipynb``) uses the project's Progress and LiveGraph widgets, fed
from a background thread every 0.2 s once Start is clicked.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = Path(__file__).parent / "notebooks" / "no_polling_run.ipynb"
RUN_SECONDS = 30

# Records every change of the progress figure ("12.4 / 30 · 41%") with the page's clock.
OBSERVE_FIGURE = """figure => {
    window.figureChanges = [];
    new MutationObserver(() => window.figureChanges.push([performance.now(), figure.textContent]))
        .observe(figure, {childList: true, characterData: true, subtree: true});
    return performance.now();
}"""


def periodic_groups(requests: list[tuple[float, str, str]]) -> dict[str, list[float]]:
    """Requests to the same method + path, three or more times, at roughly even intervals."""
    times = defaultdict(list)
    for at, method, url in requests:
        times[f"{method} {urlsplit(url).path}"].append(at)
    periodic = {}
    for target, moments in times.items():
        if len(moments) < 3:
            continue
        gaps = [later - earlier for earlier, later in itertools.pairwise(moments)]
        if statistics.pstdev(gaps) <= 0.25 * statistics.mean(gaps):
            periodic[target] = gaps
    return periodic


def test_a_30_s_run_arrives_over_the_websocket_without_polling(voila, page):
    requests: list[tuple[float, str, str]] = []
    frames: list[float] = []
    page.on("request", lambda request: requests.append((time.monotonic(), request.method, request.url)))
    page.on("websocket", lambda socket: socket.on("framereceived", lambda _: frames.append(time.monotonic())))

    server = voila({NOTEBOOK.name: NOTEBOOK})
    page.goto(server.url(NOTEBOOK.name))
    start = page.get_by_role("button", name="Start")
    expect(start).to_be_visible(timeout=60_000)
    progress = page.locator(".pw-progress")
    graph = page.locator(".pw-live-graph")
    expect(graph.locator("canvas")).to_be_visible()
    page_started = progress.locator(".pw-progress-figure").evaluate(OBSERVE_FIGURE)
    loading = len(requests)

    started = time.monotonic()
    start.click()
    expect(progress).to_have_attribute("data-state", "success", timeout=(RUN_SECONDS + 20) * 1000)
    ended = time.monotonic()
    assert ended - started >= RUN_SECONDS

    # Updates did arrive, all along the run, as websocket frames.
    changes = page.evaluate("window.figureChanges")
    moments = [(at - page_started) / 1000 for at, _ in changes]
    assert len(changes) >= 60, f"only {len(changes)} progress updates reached the page"
    for second in range(0, RUN_SECONDS - 5, 5):
        assert any(second <= moment - moments[0] < second + 5 for moment in moments), (
            f"no progress update reached the page between {second} and {second + 5} s of the run")
    assert changes[-1][1].startswith("30 / 30")
    assert int(graph.get_attribute("data-points")) >= 100
    assert len([at for at in frames if started <= at <= ended]) >= 100

    # ... and nothing was fetched over HTTP meanwhile, let alone at a regular interval.
    during = [request for request in requests if started <= request[0] <= ended]
    print(f"{loading} requests while loading the page, {len(during)} during the {ended - started:.1f} s run, "
          f"{len(changes)} progress updates, {len(frames)} websocket frames")
    assert periodic_groups(during) == {}, during
    assert during == [], during


def test_the_polling_detector_flags_regular_repeats_only():
    polling = [(at, "GET", f"http://host/api/kernels?t={at}") for at in (0.0, 2.0, 4.1, 6.0)]
    bursty = [(at, "GET", "http://host/static/app.js") for at in (0.5, 0.6, 9.0)]
    twice = [(at, "POST", "http://host/api/sessions") for at in (1.0, 3.0)]
    assert list(periodic_groups(polling + bursty + twice)) == ["GET /api/kernels"]
