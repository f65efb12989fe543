"""ScrollTo in a real Voila page: the section ends up at the top of div#rendered_cells (Voila's scroller)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.conftest import voila_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = Path(__file__).parent / "notebooks" / "scroll_to_sections.ipynb"

POSITION = """(selector) => {
    const target = document.querySelector(selector);
    const cells = document.querySelector('#rendered_cells');
    return {
        offset: target.getBoundingClientRect().top - cells.getBoundingClientRect().top,
        scrollTop: cells.scrollTop,
        windowY: window.scrollY,
        focused: document.activeElement === target,
    };
}"""
# The section's top is at the top of Voila's scroll container (a heading's margin may keep it a few pixels lower).
AT_TOP = """(selector) => {
    const offset = document.querySelector(selector).getBoundingClientRect().top
        - document.querySelector('#rendered_cells').getBoundingClientRect().top;
    return offset > -4 && offset < 30;
}"""


@pytest.fixture(scope="module")
def sections_page(browser, tmp_path_factory):
    with voila_page(browser, tmp_path_factory.mktemp("scroll_to"), NOTEBOOK, "#inspect-the-data", height=800) as page:
        yield page


def heading(text: str) -> str:
    return f"xpath=//h2[contains(normalize-space(.), '{text}')]"


def test_request_made_while_the_page_was_built_is_carried_out(sections_page):
    page = sections_page
    results = "#rendered_cells h2[id^='Results']"
    page.wait_for_function(AT_TOP, arg=results, timeout=15_000)
    where = page.evaluate(POSITION, results)
    assert where["scrollTop"] > 1000 and where["windowY"] == 0  # Voila scrolls its cell container, not the window


def test_scroll_to_an_id_and_back_to_a_heading_text(sections_page):
    page = sections_page
    page.click(".go-inspect")
    page.wait_for_function(AT_TOP, arg="#inspect-the-data", timeout=10_000)  # smooth scrolling takes a moment
    where = page.evaluate(POSITION, "#inspect-the-data")
    assert where["scrollTop"] > 3000 and where["windowY"] == 0 and where["focused"]
    page.wait_for_function("document.querySelector('.scroll-result').textContent === 'inspect-the-data found=True'")

    page.click(".go-results")  # Playwright scrolls up to the button first; the request scrolls down again
    results = "#rendered_cells h2[id^='Results']"
    page.wait_for_function(AT_TOP, arg=results, timeout=10_000)
    assert page.locator(results).inner_text().startswith("Results by strategy")
    page.wait_for_function("document.querySelector('.scroll-result').textContent === 'Results by strategy found=True'")


def test_unknown_section_is_reported_back_to_python(sections_page):
    page = sections_page
    page.click(".go-missing")
    page.wait_for_function(
        "document.querySelector('.scroll-result').textContent === 'No such section found=False'", timeout=15_000
    )
