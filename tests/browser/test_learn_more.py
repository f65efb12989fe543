"""LearnMore in a real Voila page: opens a modal, closes by Esc, the close button and a click outside, traps
focus while open and gives it back to the button, tells Python whether it is open."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.conftest import voila_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = Path(__file__).parent / "notebooks" / "learn_more_modal.ipynb"
OPENER = ".learn-nplus1 .lm-button"
DIALOG = ".learn-nplus1 dialog"


@pytest.fixture(scope="module")
def modal_page(browser, tmp_path_factory):
    with voila_page(browser, tmp_path_factory.mktemp("learn_more"), NOTEBOOK, OPENER) as page:
        yield page


def focus_is_in_dialog(page) -> bool:
    return page.evaluate(f"document.querySelector('{DIALOG}').contains(document.activeElement)")


def focused_text(page) -> str:
    return page.evaluate(
        "document.activeElement.getAttribute('aria-label') || document.activeElement.textContent.trim()"
    )


def open_modal(page):
    page.click(OPENER)
    page.locator(DIALOG).wait_for(state="visible")
    page.wait_for_function("document.querySelector('.learn-status').textContent.includes('open=True')")


def expect_closed_with_focus_on_button(page):
    page.locator(DIALOG).wait_for(state="hidden")
    page.wait_for_function(f"document.activeElement === document.querySelector('{OPENER}')")
    page.wait_for_function("document.querySelector('.learn-status').textContent.includes('open=False')")


def test_modal_is_a_labelled_dialog_with_the_rendered_content(modal_page):
    page = modal_page
    assert page.locator(OPENER).inner_text() == "Learn more about N+1"
    assert page.locator(OPENER).get_attribute("aria-haspopup") == "dialog"
    open_modal(page)
    dialog = page.locator(DIALOG)
    assert dialog.get_attribute("role") == "dialog" and dialog.get_attribute("aria-modal") == "true"
    title_id = dialog.get_attribute("aria-labelledby")
    assert page.locator(f"#{title_id}").inner_text() == "What is the N+1 problem?"
    assert page.get_by_role("dialog", name="What is the N+1 problem?").is_visible()
    assert dialog.locator("strong").inner_text() == "N+1 queries"  # markdown was rendered
    assert dialog.locator("td").all_inner_texts() == ["lazy", "1,221", "joined", "1"]
    assert focus_is_in_dialog(page)
    page.keyboard.press("Escape")
    expect_closed_with_focus_on_button(page)


def test_focus_is_trapped_in_both_directions(modal_page):
    page = modal_page
    open_modal(page)
    assert focused_text(page) == "Close"
    order = []
    for _ in range(4):  # close button, link, inner button, then back to the close button
        page.keyboard.press("Tab")
        assert focus_is_in_dialog(page)
        order.append(focused_text(page))
    assert order == ["the SQLAlchemy loading guide", "Try it", "Close", "the SQLAlchemy loading guide"]
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    assert focused_text(page) == "Try it" and focus_is_in_dialog(page)
    page.keyboard.press("Escape")
    expect_closed_with_focus_on_button(page)


def test_close_button_and_click_outside_close_but_click_inside_does_not(modal_page):
    page = modal_page
    open_modal(page)
    page.locator(f"{DIALOG} .lm-close").click()
    expect_closed_with_focus_on_button(page)

    open_modal(page)
    page.locator(f"{DIALOG} .lm-body p").first.click()
    page.wait_for_timeout(200)
    assert page.locator(DIALOG).is_visible(), "a click inside the content closed the modal"
    page.mouse.click(8, 8)  # on the backdrop, outside the panel
    expect_closed_with_focus_on_button(page)
