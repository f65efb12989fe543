"""The load-test dashboard in a real Voila page, on a playground held by a moto server: the notebook finds its
table in the environment the hub would set, a run started from the browser streams into the live graph, Stop
ends it and it appears among the past runs, which sort by any column and load or compare by ticking them."""

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
HISTORY_COLUMNS = ["name", "when", "status", "mix", "concurrency / rate", "duration", "requests", "req/s", "p50",
                   "p99", "errors"]
CLOCK_TICK = re.compile(r"^\d\d:\d\d:\d\d$")
NUMBER = r"-?\d[\d,]*(\.\d+)?"
EMPTY_GRAPH = "Start a load test: requests per second and latency percentiles appear here live."


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


def legend(graph) -> dict[str, str]:
    """The graph's legend as a reader sees it: label -> value text."""
    return graph.evaluate("""element => Object.fromEntries([...element.querySelectorAll('.u-legend .u-series')]
        .map(row => [row.querySelector('.u-label').textContent, row.querySelector('.u-value').textContent]))""")


def history(page):
    return page.locator(".pw-data-table:has(table[aria-label='Past runs'])")


def column(page, label: str) -> list[str]:
    """The cells of one column of the past-runs table, top to bottom, as shown."""
    table = history(page)
    index = [text.strip(" ▲▼") for text in table.locator("thead th").all_inner_texts()].index(label)
    return [row.locator("td").nth(index).inner_text() for row in table.locator("tbody tr").all()]


def header_names(page) -> list[str]:
    return [text.strip(" ▲▼") for text in history(page).locator("thead th[data-key]").all_inner_texts()]


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
    # with no one in flight there is nothing to run: Start is off and says why where the pointer is
    concurrency = page.get_by_role("spinbutton", name="Concurrency")
    concurrency.fill("0")
    concurrency.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("concurrency must be an integer from 1 to 10000")
    expect(start).to_be_disabled()
    assert "concurrency must be an integer from 1" in (start.get_attribute("title") or "")
    concurrency.fill("4")
    concurrency.press("Enter")
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(start).to_be_enabled()

    # Before the first run: the graph says what will appear there, nothing claims to be live, no runs yet.
    graph = page.locator(".pw-live-graph")
    expect(graph.locator(".pw-lg-empty")).to_have_text(EMPTY_GRAPH)
    expect(graph.locator(".pw-lg-empty")).to_be_visible()
    expect(graph.get_by_text("● Live")).to_have_count(0)
    expect(history(page).locator(".pw-dt-empty")).to_contain_text("No recorded runs yet")
    page.locator("#live-statistics").scroll_into_view_if_needed()
    page.screenshot(path=str(artifact_path("load-test-dashboard-before-a-run.png")))

    start.click()
    wait_for(lambda: points(graph) >= 2, 30, "the first points in the live graph")
    # following: new points keep arriving and the view is live
    seen = points(graph)
    wait_for(lambda: points(graph) > seen, 15, "new points while the run goes on")
    assert graph.get_attribute("data-following") == "true"
    expect(graph.locator(".pw-lg-status")).to_have_text("● Live")
    expect(graph.locator(".pw-lg-empty")).to_be_hidden()
    labels = graph.get_attribute("data-x-ticks").split()
    assert 1 <= len(labels) <= 8 and all(CLOCK_TICK.match(label) for label in labels), labels
    values = legend(graph)  # nobody hovers: the newest values, with units
    assert re.fullmatch(rf"{NUMBER} req/s", values["throughput"]), values
    assert re.fullmatch(rf"{NUMBER} ms", values["p99 latency"]), values
    expect(page.locator(".pw-progress-message")).to_contain_text("requests measured")
    page.screenshot(path=str(artifact_path("load-test-dashboard-live.png")), full_page=False)

    page.get_by_role("button", name=re.compile(r"^\W*Stop$")).click()
    expect(page.locator(".pw-progress-message")).to_contain_text("Stopped:", timeout=30_000)
    expect(history(page).locator("tbody tr")).to_have_count(1, timeout=15_000)
    assert header_names(page) == HISTORY_COLUMNS
    assert column(page, "status") == ["stopped"]
    assert re.fullmatch(rf"{NUMBER} req/s", column(page, "req/s")[0]) and column(page, "mix")[0]
    # The run is over: no Live badge; the graph names the run and when it stopped, in this browser's clock.
    expect(graph.get_by_text("● Live")).to_have_count(0)
    expect(graph.locator(".pw-lg-caption")).to_have_text(re.compile(r"^Unnamed run · stopped \d\d:\d\d:\d\d$"))
    expect(start).to_be_enabled()
    page.locator("#inspect-the-statistics").scroll_into_view_if_needed()
    page.screenshot(path=str(artifact_path("load-test-dashboard-stopped.png")))


def test_a_viewer_cannot_start_but_replays_sorts_and_compares_recorded_runs(voila, page, playground_environment,
                                                                             monkeypatch):
    recorded = []
    for name, requests in (("owner's run", 30), ("bigger run", 60)):
        spec = WorkloadSpec(operations={"put": 1}, requests=requests, concurrency=2, interval=0.2, name=name)
        run = LoadTest(spec, playground=playground_environment)
        run.start()
        assert run.wait(30)["status"] == "finished"
        recorded.append(run)
    monkeypatch.setenv(VIEWER_ENV, "1")  # what the sharing setup sets for a viewer's server

    server = voila({"load_test.ipynb": NOTEBOOK})
    page.goto(server.url("load_test.ipynb"), wait_until="commit", timeout=120_000)
    start = page.get_by_role("button", name=re.compile(r"^\W*Start$"))
    start.wait_for(timeout=90_000)
    expect(start).to_be_disabled()
    expect(page.get_by_text("Read-only.")).to_be_visible()
    assert "spend the owner's AWS" in start.get_attribute("title")

    # The past runs: one row each with its figures, newest first; a click on a column's name sorts by it.
    table = history(page)
    expect(table.locator("tbody tr")).to_have_count(2)
    assert header_names(page) == HISTORY_COLUMNS
    assert column(page, "name") == ["bigger run", "owner's run"]
    assert table.locator("th[data-key=when]").get_attribute("aria-sort") == "descending"
    assert column(page, "mix") == ["put 100%"] * 2 and column(page, "concurrency / rate") == ["closed ×2"] * 2
    assert all(re.fullmatch(rf"{NUMBER} ms", cell) for cell in column(page, "p99"))
    table.get_by_role("button", name="requests", exact=True).click()
    expect(table.locator("th[data-key=requests]")).to_have_attribute("aria-sort", "descending")
    assert column(page, "requests") == ["60", "30"]
    table.get_by_role("button", name="requests", exact=True).click()
    expect(table.locator("th[data-key=requests]")).to_have_attribute("aria-sort", "ascending")
    assert column(page, "requests") == ["30", "60"] and column(page, "name") == ["owner's run", "bigger run"]

    # Ticking one run replays it in the graph, named on screen, without a Live badge.
    graph = page.locator(".pw-live-graph")
    table.get_by_role("checkbox", name="Select owner's run").check()
    wait_for(lambda: points(graph) >= 1, 15, "the recorded run in the graph")
    expect(page.get_by_text("Loaded owner's run (finished): 30 requests")).to_be_visible()
    expect(graph.locator(".pw-lg-caption")).to_have_text(
        re.compile(r"^Run 'owner's run' · finished \d\d:\d\d:\d\d$"))
    expect(graph.get_by_text("● Live")).to_have_count(0)
    assert re.fullmatch(rf"{NUMBER} req/s", legend(graph)["throughput"])

    # Ticking a second compares them: the graph's legend and the caption name both runs.
    table.get_by_role("checkbox", name="Select bigger run").check()
    expect(graph.locator(".pw-lg-caption")).to_have_text(
        "Comparing: owner's run, bigger run · time since each run's start")
    compared = {"owner's run req/s", "bigger run req/s", "owner's run p99", "bigger run p99"}
    wait_for(lambda: compared <= set(legend(graph)), 15, "the compared runs in the legend")
    expect(graph.get_by_text("● Live")).to_have_count(0)
    expect(page.locator(".legendtext", has_text="bigger run (finished)")).to_be_visible()  # the percentile bars
    expect(table.locator(".pw-dt-count")).to_have_text("2 selected")
    page.locator("#past-runs").scroll_into_view_if_needed()
    page.screenshot(path=str(artifact_path("load-test-dashboard-compare.png")))
