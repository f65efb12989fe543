"""Every dashboard as a first visitor sees it, at 1400 and 1024 px wide in Voila's light and dark themes: nothing
spills sideways, no browser dialog pops up, numbers line up on the right, a form with one bad value says why it
will not start, the live graph speaks clock time, and in the dark no chart sits on a light slab.

One Voila serves all five notebooks; each dashboard is opened once per theme and its cheapest action run once,
then the same page is narrowed, because the layout reflows by itself and a second render would only cost time."""

from __future__ import annotations

import re
import shutil
import uuid
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import expect

from dashboards.common import VIEWER_ENV
from profiler import playground as playground_env
from profiler.datagen import load
from profiler.playground import BUILTIN_DATA_URL, CACHE_URL, DATA_URL, Playground
from testing.support import REPO_ROOT
from tests.browser.conftest import VoilaServer
from tests.browser.test_dark_theme import SEEN_ON, luminance, rgb
from tests.loadtest.conftest import aws_credentials, create_table, moto_url  # noqa: F401 - the moto server
from tests.support import artifact_path

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DASHBOARDS = ["query_optimization", "load_test", "data_models", "caching", "conversations"]
WIDTHS = [1400, 1024]
THEMES = ["light", "dark"]
HEIGHT = 900
CLOCK_TICK = re.compile(r"^\d\d:\d\d:\d\d$")
EMPTY_GRAPH = "Start a load test: requests per second and latency percentiles appear here live."
LIGHT = 0.4  # relative luminance above which a background reads as light (white is 1, the dark theme's ~0.01)

# Numbers as the tables show them: counts with thousands separators, decimals, a unit after a space.
NUMBERS_RIGHT_ALIGNED = r"""() => {
  const number = /^[-−]?\d[\d,]*(\.\d+)?( ?(ms|µs|s|req\/s|%|B|KB|MB))?$/;
  const cells = [...document.querySelectorAll('.pw-data-table tbody td')]
    .filter(td => td.offsetParent !== null && number.test(td.innerText.trim()));
  return {count: cells.length, wrong: cells.filter(td => !['right', 'end'].includes(getComputedStyle(td).textAlign))
    .map(td => `${td.innerText.trim()} (${getComputedStyle(td).textAlign})`)};
}"""
# Big elements inside a chart that paint their own light background (legend swatches and badges are too small
# to be a slab behind it).
LIGHT_SLABS = """(chart, light) => {
  const lum = ([r, g, b]) => [r, g, b]
    .map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  return [...chart.querySelectorAll('*')].filter(el => {
    const box = el.getBoundingClientRect();
    if (box.width < 40 || box.height < 40 || el.hidden || getComputedStyle(el).display === 'none') return false;
    const [r, g, b, a = 1] = (getComputedStyle(el).backgroundColor.match(/[\\d.]+/g) || [0, 0, 0, 0]).map(Number);
    return a > 0.5 && lum([r, g, b]) > light;
  }).map(el => `${el.tagName.toLowerCase()}.${el.className} ${getComputedStyle(el).backgroundColor}`);
}"""
SETTLED = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() => done(true))))"


@dataclass
class Visit:
    """One dashboard open in one theme, kept across the widths: what it was opened with and what it has seen."""

    key: tuple[str, str]
    page: object
    dialogs: list[str] = field(default_factory=list)
    acted: bool = False


@pytest.fixture(scope="module")
def environment(moto_url, tmp_path_factory):  # noqa: F811 - pytest passes the fixture imported above
    """What the hub would hand a user's server: a playground on moto, a built-in conversations dataset."""
    folder = tmp_path_factory.mktemp("finished")
    suffix = uuid.uuid4().hex[:8]
    playground = Playground(stack_name=f"playground-{suffix}", loadtest_table=f"loadtest-{suffix}",
                            runs_table=f"runs-{suffix}", region="us-east-1", endpoint_url=moto_url)
    client = playground.client("dynamodb")
    create_table(client, playground.loadtest_table, "LoadTestTable")
    create_table(client, playground.runs_table, "RunsTable")
    builtin = folder / "builtin.sqlite"
    load(f"sqlite:///{builtin}", 2_000, seed=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(playground_env.STACK_NAME, playground.stack_name)
        patch.setenv(playground_env.LOADTEST_TABLE, playground.loadtest_table)
        patch.setenv(playground_env.RUNS_TABLE, playground.runs_table)
        patch.setenv(playground_env.AWS_ENDPOINT_URL, playground.endpoint_url)
        patch.setenv(playground_env.AWS_REGION, playground.region)
        patch.setenv(BUILTIN_DATA_URL, f"sqlite:///{builtin}")
        for name in (VIEWER_ENV, DATA_URL, CACHE_URL):
            patch.delenv(name, raising=False)
        yield folder
    for table in (playground.loadtest_table, playground.runs_table):
        client.delete_table(TableName=table)


@pytest.fixture(scope="module")
def server(environment):
    root = environment / "notebooks"
    root.mkdir()
    for name in DASHBOARDS:
        shutil.copy(REPO_ROOT / "notebooks" / f"{name}.ipynb", root / f"{name}.ipynb")
    server = VoilaServer(root, environment / "voila.log")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def visits(browser, server):
    """The one page open at a time, replaced when the next test wants another dashboard or theme."""
    current: dict[str, Visit] = {}

    def visit(dashboard: str, theme: str) -> Visit:
        held = current.get("visit")
        if held and held.key == (dashboard, theme):
            return held
        if held:
            held.page.context.close()
        context = browser.new_context(viewport={"width": WIDTHS[0], "height": HEIGHT})
        page = context.new_page()
        held = current["visit"] = Visit((dashboard, theme), page)
        page.on("dialog", lambda dialog: (held.dialogs.append(f"{dialog.type}: {dialog.message}"), dialog.dismiss()))
        # Voila streams the page while the kernel runs the notebook: wait for the widgets, not the load event
        page.goto(server.url(f"{dashboard}.ipynb") + f"?theme={theme}", wait_until="commit", timeout=120_000)
        main_button(page, dashboard).wait_for(timeout=90_000)
        return held

    yield visit
    if "visit" in current:
        current["visit"].page.context.close()


def main_button(page, dashboard: str):
    names = {"load_test": "Start", "data_models": "Profile"}
    name = names.get(dashboard)
    if name is None:
        return page.get_by_role("button", name="Run comparison")
    return page.get_by_role("button", name=re.compile(rf"^\W*{name}$"))  # after the icon's glyph


def enter(field, value: str) -> None:
    field.fill(value)
    field.blur()  # a widget reads its text when it is left, not on every key


def refused_with_reason(page, button, field, bad: str, reason: str, good: str | None = None) -> None:
    """One bad value: the page says why next to the form, the button is off and says why where the pointer is."""
    good = field.input_value() if good is None else good
    enter(field, bad)
    expect(page.get_by_role("alert")).to_contain_text(reason)
    expect(button).to_be_disabled()
    assert reason in (button.get_attribute("title") or ""), button.get_attribute("title")
    enter(field, good)
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(button).to_be_enabled()


def graph_before_any_run(page) -> None:
    graph = page.locator(".pw-live-graph")
    expect(graph.locator(".pw-lg-empty")).to_have_text(EMPTY_GRAPH)
    expect(graph.locator(".pw-lg-empty")).to_be_visible()
    assert not (graph.get_attribute("data-x-ticks") or "").strip()


def act(page, dashboard: str) -> None:
    """Before anything ran: one invalid value per form; then the dashboard's cheapest main action, to its end."""
    run = main_button(page, dashboard)
    progress = page.locator(".pw-progress-message")
    if dashboard == "query_optimization":
        refused_with_reason(page, run, page.locator("textarea").first, '{"books": "joined"',
                            "Custom optimization")
        run.click()
        expect(progress).to_contain_text("Compared 6 strategies", timeout=120_000)
    elif dashboard == "load_test":
        refused_with_reason(page, run, page.get_by_role("spinbutton", name="Concurrency"), "0",
                            "concurrency must be an integer from 1 to 10000", "2")
        graph_before_any_run(page)
        # runs are kept across page loads: the other theme's visit may have recorded one already
        past_runs = page.locator(".pw-data-table:has(table[aria-label='Past runs']) tbody tr:has(input)")
        recorded = past_runs.count()
        run.click()
        graph = page.locator(".pw-live-graph")
        page.wait_for_function("el => Number(el.dataset.points || 0) >= 3", arg=graph.element_handle(),
                               timeout=30_000)
        page.get_by_role("button", name=re.compile(r"^\W*Stop$")).click()
        expect(progress).to_contain_text("Stopped:", timeout=30_000)
        expect(past_runs).to_have_count(recorded + 1, timeout=15_000)
    elif dashboard == "data_models":
        name = page.get_by_role("textbox", name="Model name")
        refused_with_reason(page, page.get_by_role("button", name=re.compile(r"^\W*Create model$")), name,
                            "Reviews!", "model name 'Reviews!' is not allowed", "reviews")
        enter(name, "")
        run.click()
        expect(progress.filter(has_text="Compared 5 strategies")).to_have_count(1, timeout=120_000)
    elif dashboard == "caching":
        refused_with_reason(page, run, page.get_by_role("spinbutton", name="Authors"), "0",
                            "Authors must be from 1 to 1,000", "20")
        enter(page.get_by_role("spinbutton", name="Rounds"), "1")
        run.click()
        expect(progress).to_contain_text("Compared 1 round(s)", timeout=120_000)
    elif dashboard == "conversations":
        page.get_by_role("radio", name="Generate a sample").check()
        refused_with_reason(page, run, page.get_by_role("spinbutton", name="Messages"), "0",
                            "a sample holds at least 1 message, not 0")
        page.get_by_role("radio", name=re.compile(r"^Built-in dataset")).check()
        run.click()
        expect(progress).to_contain_text("Compared", timeout=120_000)
    expect(run).to_be_enabled(timeout=30_000)


CASES = [(dashboard, theme, width) for dashboard in DASHBOARDS for theme in THEMES for width in WIDTHS]


@pytest.mark.parametrize(("dashboard", "theme", "width"), CASES,
                         ids=[f"{dashboard}-{theme}-{width}" for dashboard, theme, width in CASES])
def test_a_finished_page(visits, dashboard, theme, width):
    visit = visits(dashboard, theme)
    page = visit.page
    if not visit.acted:
        visit.acted = True
        act(page, dashboard)
    page.set_viewport_size({"width": width, "height": HEIGHT})
    page.evaluate(SETTLED)
    page.wait_for_timeout(300)  # plotly and the live graph resize on a debounced window resize

    # nothing runs off the right edge: neither the document nor Voila's own scroller scrolls sideways
    for scroller in ("document.scrollingElement", "document.querySelector('#rendered_cells')"):
        sizes = page.evaluate(f"(() => {{ const el = {scroller}; return [el.scrollWidth, el.clientWidth]; }})()")
        assert sizes[0] <= sizes[1] + 1, (scroller, sizes)

    numbers = page.evaluate(NUMBERS_RIGHT_ALIGNED)
    assert numbers["count"] > 0 and numbers["wrong"] == [], numbers

    if dashboard == "load_test":
        ticks = page.locator(".pw-live-graph").get_attribute("data-x-ticks").split()
        assert ticks and all(CLOCK_TICK.match(tick) for tick in ticks), ticks

    charts = page.locator(".workbench-figure.js-plotly-plot, .pw-live-graph")
    charts.first.wait_for(timeout=30_000)  # a chart draws once its page has fetched plotly.js
    if theme == "dark":
        for chart in charts.all():
            seen = chart.evaluate(SEEN_ON)
            assert luminance(rgb(seen)) < LIGHT, seen
            assert chart.evaluate(LIGHT_SLABS, LIGHT) == []
            if "js-plotly-plot" in (chart.get_attribute("class") or ""):
                for color in chart.evaluate("el => [el._fullLayout.paper_bgcolor, el._fullLayout.plot_bgcolor]"):
                    assert color.replace(" ", "") == "rgba(0,0,0,0)" or luminance(rgb(color)) < LIGHT, color

    assert visit.dialogs == []
    if width == WIDTHS[-1]:
        page.screenshot(path=str(artifact_path(f"finished-{dashboard}-{theme}-{width}.png")))
