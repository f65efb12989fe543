"""A dashboard in Voila's dark theme: the chart sits on the page's own dark background with the dark template's
light text (and follows the theme when it changes), the JSON viewer's strings are readable, and the notes for
notebook users are folded away."""

from __future__ import annotations

import pytest

from profiler import chart_theme
from testing.support import REPO_ROOT
from tests.support import artifact_path

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = REPO_ROOT / "notebooks" / "query_optimization.ipynb"
DARK_TEXT = chart_theme.template_json(dark=True)["layout"]["font"]["color"].lower()
LIGHT_TEXT = chart_theme.template_json()["layout"]["font"]["color"].lower()

# The colour an element is seen on: its own background over its ancestors', see-through ones blended over what lies
# beneath them (white under all).
SEEN_ON = """el => {
  const layers = [];
  for (let node = el; node; node = node.parentElement) {
    const [r, g, b, a = 1] = getComputedStyle(node).backgroundColor.match(/[\\d.]+/g).map(Number);
    if (a > 0) layers.push([r, g, b, a]);
    if (a >= 1) break;
  }
  let seen = [255, 255, 255];
  for (const [r, g, b, a] of layers.reverse()) seen = [r, g, b].map((value, i) => value * a + seen[i] * (1 - a));
  return `rgb(${seen.map(Math.round).join(", ")})`;
}"""
FONT_COLOR = "el => el._fullLayout.font.color.toLowerCase()"


def rgb(css: str) -> tuple[float, float, float]:
    parts = css[css.index("(") + 1:css.index(")")].replace("/", ",").split(",")
    return tuple(float(part) for part in parts[:3])


def text_color(locator) -> str:
    """The text colour as seen: a see-through one (the themes' secondary text is) blended over its background."""
    css = locator.evaluate("el => getComputedStyle(el).color")
    parts = css[css.index("(") + 1:css.index(")")].split(",")
    alpha = float(parts[3]) if len(parts) > 3 else 1.0
    under = rgb(locator.evaluate(SEEN_ON))
    blended = (value * alpha + below * (1 - alpha) for value, below in zip(rgb(css), under, strict=True))
    return "rgb({})".format(", ".join(f"{value:.0f}" for value in blended))


def luminance(color: tuple[float, float, float]) -> float:
    def channel(value: float) -> float:
        value /= 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(value) for value in color)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(first: str, second: str) -> float:
    light, dark = sorted((luminance(rgb(first)), luminance(rgb(second))), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_contrast_follows_the_wcag_formula():
    assert contrast("rgb(0, 0, 0)", "rgb(255, 255, 255)") == pytest.approx(21)
    assert contrast("rgb(119, 119, 119)", "rgb(255, 255, 255)") == pytest.approx(4.48, abs=0.01)


def test_a_dashboard_in_the_dark_theme_is_readable_and_its_chart_follows_the_theme(voila, page):
    server = voila({"query_optimization.ipynb": NOTEBOOK})
    page.goto(server.url("query_optimization.ipynb") + "?theme=dark", wait_until="commit", timeout=120_000)
    run = page.get_by_role("button", name="Run comparison")
    run.wait_for(timeout=90_000)
    assert page.evaluate("document.body.getAttribute('data-jp-theme-light')") == "false"
    page_background = page.locator("body").evaluate(SEEN_ON)
    assert luminance(rgb(page_background)) < 0.1, page_background

    # the JSON viewer's strings, dark blue on a light theme, are light enough to read on the dark one
    string = page.locator(".jv .jv-t-string").first
    string.wait_for(timeout=30_000)
    color = text_color(string)
    assert contrast(color, string.evaluate(SEEN_ON)) >= 4.5, (color, string.evaluate(SEEN_ON))
    # and so are the keys on the row the viewer marks as the current one
    key = page.locator(".jv .jv-row.jv-active .jv-key").first
    key_color = text_color(key)
    assert contrast(key_color, key.evaluate(SEEN_ON)) >= 4.5, (key_color, key.evaluate(SEEN_ON))

    # the notes for people running the notebook cell by cell are there, folded away
    note = page.locator("details", has_text="dashboard.start()")
    assert note.count() == 1
    assert note.evaluate("el => el.open") is False
    assert note.locator("summary").inner_text().strip() == "Use from a notebook"
    assert not page.get_by_text("Running cell by cell?").is_visible()

    # the Server-Timing line under the title, once the page has measured itself
    timing = page.locator(".pw-request-timing").first
    timing.wait_for(timeout=30_000)
    assert contrast(text_color(timing), timing.evaluate(SEEN_ON)) >= 4.5, text_color(timing)

    run.click()
    page.wait_for_selector(".pw-progress-message:has-text('Compared 6 strategies')", timeout=180_000)
    done = page.locator(".pw-progress-message", has_text="Compared 6 strategies").first
    assert contrast(text_color(done), done.evaluate(SEEN_ON)) >= 4.5, text_color(done)
    for cell in (page.locator(".pw-data-table thead th").first, page.locator(".pw-data-table tbody td").first):
        assert contrast(text_color(cell), cell.evaluate(SEEN_ON)) >= 4.5, (text_color(cell), cell.evaluate(SEEN_ON))
    plot = page.locator(".workbench-figure.js-plotly-plot").first
    page.wait_for_function(
        "() => { const el = document.querySelector('.workbench-figure.js-plotly-plot');"
        " return el && el._fullLayout && el.querySelector('.main-svg'); }", timeout=30_000)
    backgrounds = plot.evaluate("el => [el._fullLayout.paper_bgcolor, el._fullLayout.plot_bgcolor]")
    assert [color.replace(" ", "") for color in backgrounds] == ["rgba(0,0,0,0)"] * 2, backgrounds
    assert plot.evaluate(FONT_COLOR) == DARK_TEXT
    # nothing between the chart and the page paints a light slab
    assert luminance(rgb(plot.evaluate(SEEN_ON))) < 0.1
    page.screenshot(path=str(artifact_path("dark-theme-query-dashboard.png")), full_page=False)

    # JupyterLab switches themes in place, by the body's attribute: the chart redraws with the other template
    page.evaluate("document.body.setAttribute('data-jp-theme-light', 'true')")
    page.wait_for_function(
        f"() => document.querySelector('.workbench-figure.js-plotly-plot')._fullLayout.font.color.toLowerCase()"
        f" === '{LIGHT_TEXT}'", timeout=10_000)
    page.evaluate("document.body.setAttribute('data-jp-theme-light', 'false')")
    page.wait_for_function(
        f"() => document.querySelector('.workbench-figure.js-plotly-plot')._fullLayout.font.color.toLowerCase()"
        f" === '{DARK_TEXT}'", timeout=10_000)
