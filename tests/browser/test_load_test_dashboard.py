"""The load-test dashboard in a real Voila page, on a playground held by a moto server: the notebook finds its
table in the environment the hub would set, a run started from the browser streams into the live graph, Stop
ends it and it appears among the past runs."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from profiler import playground as playground_env
from profiler.loadtest import LoadTest, WorkloadSpec
from dashboards.common import VIEWER_ENV
from tests.loadtest.conftest import aws_credentials, moto_url, playground  # noqa: F401 - moto and its tables
from testing.support import REPO_ROOT, wait_for
from tests.support import artifact_path

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = REPO_ROOT / "notebooks" / "load_test.ipynb"


@pytest.fixture
def playground_environment(playground, monkeypatch):  # noqa: F811 - pytest passes the fixture imported above
    """What the hub hands a user's server, set here so the Voila process (started by the test) inherits it."""
    monkeypatch.setenv(playground_env.STACK_NAME, playground.stack_name)
    monkeypatch.setenv(playground_env.LOADTEST_TABLE, playground.loadtest_table)
    monkeypatch.setenv(playground_env.RUNS_TABLE, playground.runs_table)
    monkeypatch.setenv(playground_env.AWS_ENDPOINT_URL, playground.endpoint_url)
    monkeypatch.setenv(playground_env.AWS_REGION, playground.region)
    monkeypatch.delenv(VIEWER_ENV, raising=False)
    return playground


def points(graph) -> int:
    return int(graph.get_attribute("data-points") or 0)


def test_start_follow_stop_and_find_the_run(voila, page, playground_environment):
    server = voila({"load_test.ipynb": NOTEBOOK})
    page.goto(server.url("load_test.ipynb"), wait_until="commit", timeout=120_000)
    start = page.get_by_role("button", name=re.compile(r"^\W*Start$"))  # the name starts with the icon's glyph
    start.wait_for(timeout=90_000)
    expect(page.get_by_role("textbox", name="Table")).to_have_value(playground_environment.loadtest_table)
    assert "No playground" not in page.inner_text("#rendered_cells")

    # nonsense is explained next to the form as it is typed
    item_size = page.get_by_role("spinbutton", name="Item size (bytes)")
    item_size.fill("10")
    item_size.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("item_size must be an integer number of bytes from 64")
    item_size.fill("200")
    item_size.press("Enter")
    expect(page.get_by_role("alert")).to_have_count(0)

    start.click()
    graph = page.locator(".pw-live-graph")
    wait_for(lambda: points(graph) >= 2, 30, "the first points in the live graph")
    # following: new points keep arriving and the view is live
    seen = points(graph)
    wait_for(lambda: points(graph) > seen, 15, "new points while the run goes on")
    assert graph.get_attribute("data-following") == "true"
    expect(graph.locator(".pw-lg-status")).to_have_text("● Live")
    expect(page.locator(".pw-progress-message")).to_contain_text("requests measured")
    page.screenshot(path=str(artifact_path("load-test-dashboard-live.png")), full_page=False)

    page.get_by_role("button", name=re.compile(r"^\W*Stop$")).click()
    expect(page.locator(".pw-progress-message")).to_contain_text("Stopped:", timeout=30_000)
    past_runs = page.locator(".widget-select-multiple select option")
    expect(past_runs.first).to_contain_text("(stopped)", timeout=15_000)
    expect(start).to_be_enabled()
    page.locator("#inspect-the-statistics").scroll_into_view_if_needed()
    page.screenshot(path=str(artifact_path("load-test-dashboard-stopped.png")))


def test_a_viewer_cannot_start_but_replays_recorded_runs(voila, page, playground_environment, monkeypatch):
    spec = WorkloadSpec(operations={"put": 1}, requests=30, concurrency=2, interval=0.2, name="owner's run")
    recorded = LoadTest(spec, playground=playground_environment)
    recorded.start()
    assert recorded.wait(30)["status"] == "finished"
    monkeypatch.setenv(VIEWER_ENV, "1")  # what the sharing setup sets for a viewer's server

    server = voila({"load_test.ipynb": NOTEBOOK})
    page.goto(server.url("load_test.ipynb"), wait_until="commit", timeout=120_000)
    start = page.get_by_role("button", name=re.compile(r"^\W*Start$"))
    start.wait_for(timeout=90_000)
    expect(start).to_be_disabled()
    expect(page.get_by_text("Read-only.")).to_be_visible()
    assert "spend the owner's AWS" in start.get_attribute("title")

    past_runs = page.locator(".widget-select-multiple select")
    listed = past_runs.locator("option", has_text="owner's run (finished)")
    expect(listed).to_have_count(1)
    past_runs.select_option(listed.get_attribute("value"))
    page.get_by_role("button", name=re.compile("Load into graph")).click()
    graph = page.locator(".pw-live-graph")
    wait_for(lambda: points(graph) == len([r for r in recorded.intervals if r["seconds"] > 0]), 15,
             "the recorded run in the graph")
    expect(page.get_by_text(f"Loaded {recorded.run_id} (finished): 30 requests")).to_be_visible()
