"""The caching dashboard in a real Voila page: fill the form, run from the browser, watch the progress, read
the verdict, the table and the plot, land on "Inspect the data"; a viewer's page says it is capped."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from dashboards.common import VIEWER_ENV
from profiler.playground import CACHE_URL
from testing.support import REPO_ROOT
from tests.support import INSPECT_SECTION_IN_VIEW, artifact_path, drawn_points

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = REPO_ROOT / "notebooks" / "caching.ipynb"
# Every progress message and every state of the Run button, as the page showed them.
WATCH = """() => {
    window.seenMessages = []; window.runButtonStates = [];
    const message = document.querySelector('.pw-progress-message');
    const button = [...document.querySelectorAll('button')].find(b => b.textContent.trim() === 'Run comparison');
    new MutationObserver(() => window.seenMessages.push(message.textContent))
        .observe(message, {childList: true, characterData: true, subtree: true});
    new MutationObserver(() => window.runButtonStates.push(button.disabled))
        .observe(button, {attributes: true, attributeFilter: ['disabled']});
}"""


def open_dashboard(voila, page):
    server = voila({"caching.ipynb": NOTEBOOK})
    # Voila streams the page while the kernel runs the notebook: wait for the widgets, not the load event
    page.goto(server.url("caching.ipynb"), wait_until="commit", timeout=120_000)
    run = page.get_by_role("button", name="Run comparison")
    run.wait_for(timeout=90_000)
    return run


def test_fill_the_form_run_and_land_on_the_data(voila, page, monkeypatch):
    monkeypatch.delenv(VIEWER_ENV, raising=False)
    monkeypatch.delenv(CACHE_URL, raising=False)
    run = open_dashboard(voila, page)
    cells = page.locator("#rendered_cells")
    # without a configured Redis, its option is there but off, with the reason
    expect(page.get_by_role("button", name="Redis", exact=True)).to_be_disabled()
    expect(cells).to_contain_text("Redis: no Redis is configured for this server (WORKBENCH_CACHE_URL is empty)")
    # nothing was measured to render the page
    expect(cells).to_contain_text("Run the comparison to see this.")

    page.get_by_role("button", name="Learn more").click()
    dialog = page.get_by_role("dialog", name="Uncached, cold and warm")
    dialog.wait_for()
    assert "merge_frozen_result" in dialog.inner_text() and "The merge cost." in dialog.inner_text()
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")

    authors = page.get_by_role("spinbutton", name="Authors")
    authors.fill("0")
    authors.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("Authors must be from 1 to 1,000, not 0.")
    expect(run).to_be_disabled()  # with the reason where the pointer is
    assert "Authors must be from 1 to 1,000" in (run.get_attribute("title") or "")
    authors.fill("150")
    authors.press("Enter")
    # a distance needs a database server: the in-process SQLite sample has no network to delay
    page.get_by_role("button", name="1 ms", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text(
        "Distance: the sqlite database lives in this process, so there is no network to put a distance on")
    expect(run).to_be_disabled()
    page.get_by_role("button", name="0 ms", exact=True).click()
    rounds = page.get_by_role("spinbutton", name="Rounds")
    rounds.fill("4")
    rounds.press("Enter")
    expect(page.get_by_role("alert")).to_have_count(0)
    page.get_by_role("combobox", name="Loading").select_option(label="Joined eager loading")

    page.evaluate(WATCH)
    run.click()
    expect(page.locator(".pw-progress-message")).to_contain_text("Compared 4 round(s)", timeout=120_000)
    seen = page.evaluate("window.seenMessages")
    for mode in ("uncached", "cold", "warm"):
        assert f"Round 1 of 4: {mode} run" in seen and f"Round 4 of 4: {mode} run" in seen
    assert page.evaluate("window.runButtonStates") == [True, False]
    page.wait_for_function(INSPECT_SECTION_IN_VIEW, timeout=15_000)
    assert cells.evaluate("el => el.scrollTop") > 0

    # a joined load of 150 authors: merging 1,500 cached rows is slower than the one query it saves
    expect(page.locator(".workbench-verdict")).to_contain_text(re.compile(
        r"Caching made this workload slower: merging costs more than the query\. caching cost [\d.,]+ ms more"))
    table = page.locator(".pw-data-table").first
    headers = [text.strip(" ▲▼") for text in table.locator("thead th").all_inner_texts()]
    assert headers[:4] == ["Mode", "Wall", "Database", "Cache read"] and "Same data" in headers
    assert [text for text in table.locator("tbody td:first-child").all_inner_texts()] == ["uncached", "cold", "warm"]
    statements = table.locator("tbody tr").last.locator("td").nth(6)
    assert statements.inner_text() == "0"  # warm: every query came from the cache
    assert statements.evaluate("el => getComputedStyle(el).textAlign") == "right"
    assert set(table.locator("tbody td:last-child").all_inner_texts()) == {"✓"}
    table.locator("thead th[data-key=wall_ms] button").click()
    walls = [float(text.removesuffix(" ms").replace(",", ""))
             for text in table.locator("tbody td:nth-child(2)").all_inner_texts()]
    assert walls == sorted(walls, reverse=True)
    # every round's wall time in the three modes: 4 rounds x 3 bars in the first plot
    assert drawn_points(page.locator(".workbench-figure").first.locator(".barlayer .point"), 4 * 3) == 4 * 3
    expect(page.locator(".workbench-figure").first).to_contain_text("Wall time of every run")
    page.screenshot(path=str(artifact_path("caching-dashboard-after-run.png")), full_page=False)

    page.get_by_role("combobox", name="Write to").select_option("publishers")
    page.get_by_role("button", name="Write to publishers").click()
    expect(cells).to_contain_text("stale: publishers; kept hitting: authors, books with their author (select-in), "
                                  "stores.", timeout=30_000)

    # what the cache keeps, side by side: the plain rows skip the merge
    page.get_by_role("combobox", name="Cache keeps").select_option(label="All three, side by side")
    rounds.fill("1")
    rounds.press("Enter")
    run.click()
    expect(page.locator(".pw-progress-message")).to_contain_text("Compared 1 round(s)", timeout=120_000)
    strategies = page.locator(".pw-data-table").nth(1)
    expect(strategies.locator("tbody tr")).to_have_count(3)
    assert strategies.locator("tbody td:first-child").all_inner_texts() == [
        "ORM objects, merge_frozen_result", "ORM objects, session.merge(load=False)",
        "Plain rows (the workload's result)"]


def test_a_viewer_is_told_about_the_caps(voila, page, monkeypatch):
    monkeypatch.setenv(VIEWER_ENV, "1")
    monkeypatch.delenv(CACHE_URL, raising=False)
    open_dashboard(voila, page)
    expect(page.locator("#rendered_cells")).to_contain_text("capped to 50 authors and 3 rounds")
    authors = page.get_by_role("spinbutton", name="Authors")
    authors.fill("500")
    authors.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("Authors must be from 1 to 50 in a shared view, not 500.")
