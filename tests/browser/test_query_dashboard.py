"""The query-optimization dashboard in a real Voila page: run from the browser, results appear, the page
lands on "Inspect the data"."""

from __future__ import annotations

import pytest

from testing.support import REPO_ROOT
from tests.support import INSPECT_SECTION_IN_VIEW, artifact_path

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
    assert page.locator("table.workbench-table th", has_text="selectin").count() >= 1
    assert page.locator(".workbench-findings li", has_text="N+1 on Author.books").count() >= 1
    assert page.locator("#rendered_cells").evaluate("el => el.scrollTop") > 0
    # the comparison chart is drawn: one bar per strategy in the statements panel
    assert page.locator(".workbench-figure .barlayer .point").count() >= 6 * 4
    page.screenshot(path=str(artifact_path("query-dashboard-after-run.png")), full_page=False)
