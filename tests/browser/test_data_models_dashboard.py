"""The data-models dashboard in a real Voila page, without the hub (a scratch SQLite space): define a model with
a relationship to a built-in, create it, fill it with progress, profile the walk, see the comparison table and
plot, and land on "Inspect the data"."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from dashboards.common import VIEWER_ENV
from profiler.playground import DATA_URL
from testing.support import REPO_ROOT
from tests.support import INSPECT_SECTION_IN_VIEW, artifact_path, drawn_points

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = REPO_ROOT / "notebooks" / "data_models.ipynb"


def button(page, name: str):
    return page.get_by_role("button", name=re.compile(rf"^\W*{re.escape(name)}$"))  # after the icon's glyph


def row_with(page, textbox: str):
    return page.locator(".widget-hbox").filter(has=page.get_by_role("textbox", name=textbox, exact=True))


def model_row(listing, model: str):
    return listing.locator(f"tr:has(td:text-is('{model}'))")


def test_define_create_fill_profile_and_inspect(voila, page, monkeypatch):
    monkeypatch.delenv(DATA_URL, raising=False)  # no hub: the dashboard makes a scratch space
    monkeypatch.delenv(VIEWER_ENV, raising=False)
    server = voila({"data_models.ipynb": NOTEBOOK})
    page.goto(server.url("data_models.ipynb"), wait_until="commit", timeout=120_000)
    create = button(page, "Create model")
    create.wait_for(timeout=90_000)
    expect(page.get_by_role("status").filter(has_text="Scratch space: ")).to_be_visible()
    listing = page.locator(".pw-data-table").first
    books = model_row(listing, "books")
    expect(books).to_contain_text("built-in")
    # a built-in shows its row count, right-aligned, on one line like every other row
    count = books.locator("td").nth(2)
    assert re.fullmatch(r"[\d,]+", count.inner_text())
    assert count.evaluate("el => getComputedStyle(el).textAlign") == "right"
    heights = {round(height) for height in listing.locator("tbody tr").evaluate_all(
        "rows => rows.map(row => row.getBoundingClientRect().height)")}
    assert len(heights) == 1, heights
    # the built-ins cannot be changed: nothing offers to fill or drop them
    expect(button(page, "Fill")).to_be_disabled()
    expect(button(page, "Drop model…")).to_be_disabled()
    assert "no models to change yet" in (button(page, "Drop model…").get_attribute("title") or "")

    # a name the spec refuses is explained as it is typed
    name = page.get_by_role("textbox", name="Model name")
    name.fill("Reviews!")
    expect(page.get_by_role("alert")).to_contain_text("model name 'Reviews!' is not allowed")
    name.fill("reviews")
    expect(page.get_by_role("alert")).to_have_count(0)
    row_with(page, "Column 2").get_by_role("textbox").fill("stars")
    row_with(page, "Column 2").get_by_role("combobox").select_option("integer")
    button(page, "Add relationship").click()
    relationship = row_with(page, "Relationship 1")
    relationship.get_by_role("textbox").fill("book")
    expect(page.get_by_role("alert")).to_contain_text("relationship 'book': choose the model it points to")
    relationship.get_by_role("combobox").select_option("books")
    expect(page.get_by_role("alert")).to_have_count(0)
    page.screenshot(path=str(artifact_path("data-models-dashboard-defined.png")), full_page=False)
    create.click()
    expect(page.get_by_text("Created reviews: fill it with rows below.")).to_be_visible()
    expect(model_row(listing, "reviews")).to_contain_text("stars integer")

    rows = page.get_by_role("spinbutton", name="Rows to add")
    rows.fill("1500")
    rows.press("Enter")
    button(page, "Fill").click()
    expect(page.locator(".pw-progress-message", has_text="Filled reviews with 1,500 rows")).to_be_visible(
        timeout=30_000)
    expect(model_row(listing, "reviews")).to_contain_text("1,500")

    expect(page.get_by_role("combobox", name="Walk")).to_have_value(re.compile(".+"))
    expect(page.get_by_role("combobox", name="Walk").locator("option:checked")).to_have_text("reviews → book")
    button(page, "Profile").click()
    page.wait_for_selector(".pw-progress-message:has-text('Compared 5 strategies')", timeout=120_000)
    page.wait_for_function(INSPECT_SECTION_IN_VIEW, timeout=15_000)
    assert page.locator("#rendered_cells").evaluate("el => el.scrollTop") > 0
    comparison = page.locator(".pw-data-table").filter(has_text="Profiler cost per statement")
    assert comparison.locator("tbody td", has_text="selectin").count() >= 1
    expect(page.locator(".workbench-findings li", has_text="N+1 on Reviews.book").first).to_contain_text(
        "joinedload(Reviews.book)")
    assert drawn_points(page.locator(".workbench-figure .barlayer .point"), 5 * 4) >= 5 * 4  # a bar per strategy, panel
    expect(page.locator(".jv-row").first).to_be_visible()  # the data, in the JSON viewer
    page.screenshot(path=str(artifact_path("data-models-dashboard-after-profile.png")), full_page=False)
