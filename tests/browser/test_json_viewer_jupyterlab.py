"""The inspect demo notebook in a real JupyterLab: the same widgets where the page, the scroller and the keyboard
belong to JupyterLab (its notebook panel scrolls, and its shortcuts listen to Esc, arrows and letters)."""

from __future__ import annotations

import shutil

import pytest

from testing.support import REPO_ROOT
from tests.browser.conftest import JupyterLabServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DEMO = REPO_ROOT / "notebooks" / "widgets_inspect_demo.ipynb"


@pytest.fixture(scope="module")
def lab_page(browser, tmp_path_factory):
    root = tmp_path_factory.mktemp("jupyterlab")
    notebooks = root / "notebooks"
    notebooks.mkdir()
    shutil.copy(DEMO, notebooks / DEMO.name)
    lab = JupyterLabServer(notebooks, root / "lab.log")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    try:
        lab.open_and_run_all(page, DEMO.name)
        page.wait_for_selector(".jv-row", timeout=60_000)
        yield page
    finally:
        context.close()
        lab.stop()


def test_scroll_to_brings_the_section_to_the_top_of_the_notebook_panel(lab_page):
    page = lab_page
    page.locator(".jupyter-button", has_text="Inspect the data").click()
    where = """() => {
        const heading = [...document.querySelectorAll('.jp-Notebook h2')]
            .find(h => h.textContent.includes('Inspect the data'));
        const panel = heading.closest('.jp-WindowedPanel-outer');
        return { offset: heading.getBoundingClientRect().top - panel.getBoundingClientRect().top,
                 scrollTop: panel.scrollTop, windowY: window.scrollY, focused: document.activeElement === heading };
    }"""
    page.wait_for_function(f"(({where})()).offset < 30 && (({where})()).offset > -4", timeout=10_000)
    position = page.evaluate(where)
    assert position["scrollTop"] > 500 and position["windowY"] == 0 and position["focused"]


def test_viewer_keys_stay_with_the_viewer_and_copy_the_path(lab_page):
    page = lab_page
    cells = page.locator(".jp-Notebook .jp-Cell").count()
    tree = page.locator(".jv-scroll")
    tree.focus()
    for key in ["ArrowDown", "ArrowDown", "ArrowDown", "ArrowRight"]:  # to "strategies", then open it
        tree.press(key)
    page.locator('.jv-row[data-path="2.0"]').wait_for()
    tree.press("p")
    page.wait_for_function("navigator.clipboard.readText().then(t => t === 'result[\"strategies\"]')")
    tree.press("c")  # JupyterLab's "copy cell" shortcut must not fire, nor "a"/"b" insert cells
    page.wait_for_function("navigator.clipboard.readText().then(t => t.startsWith('{\"lazy\":'))")
    assert page.locator(".jp-Notebook .jp-Cell").count() == cells


def test_learn_more_closes_on_esc_in_jupyterlab_and_returns_focus(lab_page):
    page = lab_page
    page.locator(".lm-button").click()
    page.get_by_role("dialog", name="How the JSON viewer works").wait_for()
    page.keyboard.press("Escape")
    page.locator("dialog.lm-dialog").wait_for(state="hidden")
    assert page.evaluate("document.activeElement.classList.contains('lm-button')")
