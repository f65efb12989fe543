"""The query-optimization dashboard in a real Voila page: run from the browser, results appear, the page
lands on "Inspect the data"."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from testing.support import REPO_ROOT
from tests.support import INSPECT_SECTION_IN_VIEW, artifact_path, drawn_points

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = REPO_ROOT / "notebooks" / "query_optimization.ipynb"


def test_run_from_the_browser_shows_results_and_scrolls_to_the_data(voila, page):
    server = voila({"query_optimization.ipynb": NOTEBOOK})
    # Voila streams the page while the kernel runs the notebook: wait for the widgets, not the load event
    page.goto(server.url("query_optimization.ipynb"), wait_until="commit", timeout=120_000)
    run = page.get_by_role("button", name="Run comparison")
    run.wait_for(timeout=90_000)

    # learn more about select-in before running: the engine's own description
    row = page.locator(".widget-hbox").filter(has_text="Select-IN eager loading")
    row.get_by_role("button", name="Learn more").click()
    dialog = page.get_by_role("dialog", name="Select-IN eager loading")
    dialog.wait_for()
    assert "selectinload()" in dialog.inner_text() and "prefetch_related" in dialog.inner_text()
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")

    run.click()
    page.wait_for_selector(".pw-progress-message:has-text('Compared 6 strategies')", timeout=180_000)
    page.wait_for_function(INSPECT_SECTION_IN_VIEW, timeout=15_000)
    table = page.locator(".pw-data-table").first
    headers = table.locator("thead th").all_inner_texts()
    # one header cell per column, each with its own name: "wall ms database ms" no longer runs together
    assert [text.strip(" ▲▼") for text in headers[:6]] == ["Strategy", "Status", "Statements", "Rows", "Wall",
                                                            "Database"]
    assert table.locator("tbody tr th, thead tr:nth-child(2)").count() == 0  # no row of the index's name
    assert table.locator("tbody td", has_text="selectin").count() >= 1
    wall = table.locator("tbody tr").first.locator("td").nth(4)
    assert wall.inner_text().endswith(" ms")
    assert wall.evaluate("el => getComputedStyle(el).textAlign") == "right"
    assert "True" not in table.locator("tbody").inner_text()  # booleans are ✓ or ✗
    # the profiler's cost per statement is a positive number or "below noise", never negative
    costs = table.locator("tbody tr td:nth-child(12)").all_inner_texts()
    assert len(costs) == 6 and all(cost == "below noise" or not cost.startswith(("-", "−")) for cost in costs)
    # clicking a header sorts by it, largest first
    table.locator("thead th[data-key=wall_ms] button").click()
    assert table.locator("thead th[data-key=wall_ms]").get_attribute("aria-sort") == "descending"
    walls = table.locator("tbody tr td:nth-child(5)").all_inner_texts()
    values = [float(text.removesuffix(" ms").replace(",", "")) for text in walls]
    assert values == sorted(values, reverse=True)
    assert page.locator(".workbench-findings li", has_text="N+1 on Author.books").count() >= 1
    assert page.locator("#rendered_cells").evaluate("el => el.scrollTop") > 0
    # the comparison chart is drawn: one bar per strategy in the statements panel
    assert drawn_points(page.locator(".workbench-figure .barlayer .point"), 6 * 4) >= 6 * 4
    page.screenshot(path=str(artifact_path("query-dashboard-after-run.png")), full_page=False)
    # after the run, select-in's SQL is in its description: highlighted, one clause per line, and Copy puts exactly
    # that SQL on the clipboard
    row.get_by_role("button", name="Learn more").click()
    dialog.wait_for()
    sql = dialog.locator(".workbench-sql pre").first
    assert sql.locator(".workbench-sql-k").count() >= 3
    shown = sql.inner_text()
    assert "\nFROM " in shown and shown.upper().startswith("SELECT")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    dialog.locator(".workbench-sql-copy").first.click()
    expect(dialog.locator(".workbench-sql-copy").first).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == shown
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")


def test_a_bad_form_is_one_alert_and_run_says_why_it_is_off(voila, page):
    server = voila({"query_optimization.ipynb": NOTEBOOK})
    page.goto(server.url("query_optimization.ipynb"), wait_until="commit", timeout=120_000)
    run = page.get_by_role("button", name="Run comparison")
    run.wait_for(timeout=90_000)
    text = page.locator("textarea").first
    text.fill('{"books": "joined"')
    text.blur()  # the text is read when it is left, not on every key
    alert = page.get_by_role("alert")
    alert.wait_for(timeout=15_000)
    assert alert.count() == 1
    said = alert.inner_text()
    assert "Custom optimization must be a dictionary like" in said and "line 1" in said
    assert "SyntaxError" not in said and "<unknown>" not in said
    assert run.is_disabled() and "Custom optimization" in (run.get_attribute("title") or "")
