"""JsonViewer in a real Voila page, driven like a user: expand, page, search, copy, keyboard, a 1,000-deep document.

One Voila server and one page load serve all tests of this module (a page load costs several seconds); each
test works on its own part of the document so their order does not matter.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from testing.support import wait_for
from tests.browser.conftest import voila_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = Path(__file__).parent / "notebooks" / "json_viewer.ipynb"
MAIN = ".viewer-main"
DEEP = ".viewer-deep"


@pytest.fixture(scope="module")
def viewer_page(browser, tmp_path_factory):
    folder = tmp_path_factory.mktemp("json_viewer")
    with voila_page(browser, folder, NOTEBOOK, f"{DEEP} .jv-row", clipboard=True) as page:
        yield page


def row(page, viewer: str, path: str):
    return page.locator(f'{viewer} .jv-row[data-path="{path}"]')


def toggle(page, viewer: str, path: str):
    row(page, viewer, path).locator(".jv-caret").click()


def expand(page, viewer: str, path: str):
    if row(page, viewer, path).get_attribute("aria-expanded") != "true":
        toggle(page, viewer, path)


def collapse(page, viewer: str, path: str):
    if row(page, viewer, path).get_attribute("aria-expanded") == "true":
        toggle(page, viewer, path)


def scroll_to_top(page, viewer: str):
    page.locator(f"{viewer} .jv-scroll").evaluate("el => { el.scrollTop = 0; }")


def requests_made(page, viewer: str) -> int:
    return int(page.locator(viewer).first.get_attribute("data-requests") or 0)


def clipboard(page) -> str:
    return page.evaluate("navigator.clipboard.readText()")


def wait_for_clipboard(page, expected: Callable[[str], bool], what: str) -> str:
    """The clipboard once it holds what ``expected`` accepts (the copy is written a moment after the click)."""
    return wait_for(lambda: (text := clipboard(page)) is not None and expected(text) and text, 10, what)


def test_children_are_fetched_only_when_expanded_and_numbers_stay_exact(viewer_page):
    page = viewer_page
    runs = row(page, MAIN, "1")
    assert "runs" in runs.inner_text() and "[5]" in runs.inner_text()
    assert row(page, MAIN, "1.0").count() == 0, "children of runs were drawn before anyone expanded it"
    before = requests_made(page, MAIN)

    expand(page, MAIN, "1")
    row(page, MAIN, "1.4").wait_for()
    assert requests_made(page, MAIN) == before + 1
    assert row(page, MAIN, "1.3.1").count() == 0, "grandchildren were sent with the children"
    expand(page, MAIN, "1.3")
    p99 = row(page, MAIN, "1.3.1")
    p99.wait_for()
    assert "p99" in p99.inner_text() and "3.035" in p99.inner_text() and "Decimal" in p99.inner_text()

    collapse(page, MAIN, "1")
    page.wait_for_function(f"!document.querySelector('{MAIN} .jv-row[data-path=\"1.0\"]')")
    assert row(page, MAIN, "2").is_visible()

    expand(page, MAIN, "2")
    row(page, MAIN, "2.1").wait_for()
    assert "1180591620717411303425" in row(page, MAIN, "2.0").inner_text()  # 2**70 + 1, not rounded by JS
    assert "12345678901234567890.123456789" in row(page, MAIN, "2.1").inner_text()

    expand(page, MAIN, "4")
    row(page, MAIN, "4.2").wait_for()
    item_id, score = row(page, MAIN, "4.0").inner_text(), row(page, MAIN, "4.1").inner_text()
    assert '"user#42"' in item_id and "DynamoDB S" in item_id
    assert "98765432109876543210.5" in score and "DynamoDB N" in score
    collapse(page, MAIN, "2")
    collapse(page, MAIN, "4")


def test_large_array_is_paged_in_ranges_and_only_visible_rows_exist(viewer_page):
    page = viewer_page
    before = requests_made(page, MAIN)
    expand(page, MAIN, "3")
    ranges = page.locator(f"{MAIN} .jv-range")
    ranges.first.wait_for()
    assert [ranges.nth(i).inner_text().strip() for i in range(ranges.count())] == [
        "▸[0 … 99]",
        "▸[100 … 199]",
        "▸[200 … 249]",
    ]
    assert requests_made(page, MAIN) == before, "opening a large array fetched rows before a range was opened"

    ranges.nth(2).locator(".jv-caret").click()
    row(page, MAIN, "3.200").wait_for()
    assert requests_made(page, MAIN) == before + 1
    assert row(page, MAIN, "3.199").count() == 0
    drawn = page.locator(f"{MAIN} .jv-row").count()
    assert drawn < 50, f"{drawn} rows in the DOM: rows outside the viewport are drawn too"
    page.locator(f"{MAIN} .jv-scroll").evaluate("el => { el.scrollTop = el.scrollHeight; }")
    row(page, MAIN, "3.249").wait_for()
    assert "249" in row(page, MAIN, "3.249").inner_text()
    scroll_to_top(page, MAIN)
    collapse(page, MAIN, "3")


def test_search_next_and_previous_expand_to_each_match(viewer_page):
    page = viewer_page
    search = page.locator(f"{MAIN} .jv-search")
    search.fill("needle")
    search.press("Enter")
    current = page.locator(f"{MAIN} .jv-current")
    expected = ["3.7.1", "3.142.1", "3.231.1"]  # the "note" of events 7, 142, 231
    seen = []
    for _ in expected:
        current.wait_for()
        seen.append(current.get_attribute("data-path"))
        if len(seen) < len(expected):
            previous = seen[-1]
            page.locator(f"{MAIN} .jv-next").click()
            page.wait_for_function(
                f"document.querySelector('{MAIN} .jv-current')?.dataset.path !== '{previous}'"
            )
    assert seen == expected
    assert "needle-231" in current.inner_text()
    assert page.locator(f"{MAIN} .jv-count").inner_text() == "3 / 3"

    page.locator(f"{MAIN} .jv-next").click()  # wraps to the first match
    page.wait_for_function(f"document.querySelector('{MAIN} .jv-current')?.dataset.path === '3.7.1'")
    page.locator(f"{MAIN} .jv-prev").click()  # and back to the last
    page.wait_for_function(f"document.querySelector('{MAIN} .jv-current')?.dataset.path === '3.231.1'")
    assert page.locator(f"{MAIN} .jv-count").inner_text() == "3 / 3"

    search.fill("user#4")  # a match inside a DynamoDB-typed value
    search.press("Enter")
    page.wait_for_function(f"document.querySelector('{MAIN} .jv-current')?.dataset.path === '4.0'")
    search.fill("")


def test_copy_value_and_copy_path(viewer_page):
    page = viewer_page
    scroll_to_top(page, MAIN)
    expand(page, MAIN, "1")
    row(page, MAIN, "1.3").wait_for()
    expand(page, MAIN, "1.3")
    p99 = row(page, MAIN, "1.3.1")
    p99.wait_for()
    p99.hover()
    p99.locator(".jv-copy-path").click()
    wait_for_clipboard(page, lambda text: text == 'data["runs"][3]["p99"]', "the copied path")
    p99.hover()
    p99.locator(".jv-copy-value").click()
    wait_for_clipboard(page, lambda text: text == "3.035", "the copied number")

    totals = row(page, MAIN, "2")
    totals.hover()
    totals.locator(".jv-copy-value").click()
    exact = '{"requests":1180591620717411303425,"bytes":12345678901234567890.123456789}'
    wait_for_clipboard(page, lambda text: text == exact, "the copied object, its big numbers exact")
    assert "Copied the value of data[\"totals\"]" in page.locator(f"{MAIN} .jv-status").inner_text()
    collapse(page, MAIN, "1")


def test_thousand_deep_document_opens_by_keyboard_and_search_reaches_the_bottom(viewer_page):
    page = viewer_page
    tree = page.locator(f"{DEEP} .jv-scroll")
    tree.focus()
    for level in range(5):
        tree.press("ArrowDown")
        tree.press("ArrowRight")
        row(page, DEEP, ".".join(["0"] * (level + 2))).wait_for()
    active = page.locator(f"{DEEP} .jv-active")
    assert active.get_attribute("aria-level") == "6" and "level4" in active.inner_text()
    tree.press("ArrowLeft")  # collapses level4
    page.wait_for_function(f"!document.querySelector('{DEEP} .jv-row[data-path=\"0.0.0.0.0.0\"]')")

    search = page.locator(f"{DEEP} .jv-search")
    search.fill("bottom")
    search.press("Enter")
    bottom = page.locator(f"{DEEP} .jv-current")
    bottom.wait_for(timeout=60_000)
    assert '"reached"' in bottom.inner_text() and bottom.get_attribute("aria-level") == "1002"
    assert page.locator(f"{DEEP} .jv-row").count() < 50
    deepest_nesting = page.evaluate(
        """() => { let depth = 0, el = document.querySelector('.viewer-deep .jv-current');
                   while (el) { depth += 1; el = el.parentElement; } return depth; }"""
    )
    assert deepest_nesting < 60, "rows are nested in the DOM (Chromium crashes near 3,000 levels)"

    scroll_to_top(page, DEEP)
    root = row(page, DEEP, "")
    root.hover()
    root.locator(".jv-copy-value").click()
    wait_for_clipboard(page, lambda text: text.endswith('"bottom":"reached"' + "}" * 1001), "the 1,000-deep copy")
