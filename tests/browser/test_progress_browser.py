"""Progress in a real Voila page: indeterminate, smooth moves, success and error states."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from testing.support import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = Path(__file__).parent / "notebooks" / "progress_states.ipynb"

FILL_SHARE = """bar => {
    const track = bar.querySelector('.pw-progress-track').getBoundingClientRect();
    const fill = bar.querySelector('.pw-progress-fill').getBoundingClientRect();
    return {left: (fill.left - track.left) / track.width, width: fill.width / track.width};
}"""

# Samples the fill's width on every frame until it reaches `target` or `ms` milliseconds have passed.
SAMPLE_WIDTHS = """([bar, target, ms]) => new Promise(resolve => {
    const samples = [];
    const until = performance.now() + ms;
    const step = () => {
        const track = bar.querySelector('.pw-progress-track').getBoundingClientRect();
        const share = bar.querySelector('.pw-progress-fill').getBoundingClientRect().width / track.width;
        samples.push(share);
        if (performance.now() < until && Math.abs(share - target) > 0.001) requestAnimationFrame(step);
        else resolve(samples);
    };
    step();
})"""


def colour_settles(bar, colour: str) -> bool:
    """The fill's colour changes with a transition: wait for it to end on ``colour``."""
    fill = bar.locator(".pw-progress-fill")
    return wait_for(lambda: fill.evaluate("fill => getComputedStyle(fill).backgroundColor") == colour, 3, colour)


def test_progress_goes_from_indeterminate_through_smooth_steps_to_success_or_error(voila, page):
    server = voila({NOTEBOOK.name: NOTEBOOK})
    page.goto(server.url(NOTEBOOK.name))
    bars = page.locator(".pw-progress")
    expect(bars).to_have_count(2, timeout=60_000)
    stack, failing = bars.nth(0), bars.nth(1)
    track = stack.get_by_role("progressbar")

    # Unknown total: no value announced, a sliding bar.
    expect(stack).to_have_class("pw-progress pw-progress-indeterminate")
    assert track.get_attribute("aria-valuenow") is None
    first = stack.evaluate(FILL_SHARE)["left"]
    page.wait_for_timeout(300)
    assert stack.evaluate(FILL_SHARE)["left"] != first
    expect(stack.locator(".pw-progress-message")).to_have_text("Waiting for CloudFormation…")

    page.get_by_role("button", name="At 10 of 100").click()
    expect(track).to_have_attribute("aria-valuenow", "10")
    expect(stack.locator(".pw-progress-figure")).to_have_text("10 / 100 · 10%")
    expect(stack).to_have_class("pw-progress")
    page.wait_for_timeout(600)
    assert stack.evaluate(FILL_SHARE)["width"] == pytest.approx(0.10, abs=0.01)

    # The move to 90 % is animated: frames in between, then exactly 90 %.
    stack.evaluate(f"bar => {{ window.progressSamples = ({SAMPLE_WIDTHS})([bar, 0.9, 10000]); }}")
    page.get_by_role("button", name="At 90").click()
    samples = page.evaluate("window.progressSamples")
    in_between = [share for share in samples if 0.15 < share < 0.85]
    assert len(in_between) >= 2, samples  # without a transition the bar would jump in one frame
    assert samples[-1] == pytest.approx(0.90, abs=0.01)
    expect(stack.locator(".pw-progress-message")).to_have_text("90 of 100 resources")

    page.get_by_role("button", name="Succeed").click()
    expect(stack).to_have_attribute("data-state", "success")
    expect(stack.locator(".pw-progress-message")).to_have_text("Stack ready")
    expect(track).to_have_attribute("aria-valuenow", "100")
    assert colour_settles(stack, "rgb(22, 163, 74)")

    page.get_by_role("button", name="Fail").click()
    expect(failing).to_have_attribute("data-state", "error")
    expect(failing.get_by_role("alert")).to_have_text("Batch 31 rejected: item too large")
    page.wait_for_timeout(600)
    assert failing.evaluate(FILL_SHARE)["width"] == pytest.approx(0.30, abs=0.01)  # stays where it stopped
    assert colour_settles(failing, "rgb(220, 38, 38)")
