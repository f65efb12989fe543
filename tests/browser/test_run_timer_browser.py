"""RunTimer in a real Voila page: elapsed from the start timestamp, right after a throttled tab, final duration."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = Path(__file__).parent / "notebooks" / "run_timer_states.ipynb"
PAUSED_SECONDS = 3.0
REPAINT_SECONDS = 0.1  # run_timer.js repaints this often while running


def seconds(text: str) -> float:
    """'1:02:05' or '0:03.4' -> seconds."""
    parts = [float(part) for part in text.split(":")]
    return sum(part * 60**power for power, part in enumerate(reversed(parts)))


def shown_and_wall_clock(shown) -> tuple[float, float]:
    """The timer's figure and the wall clock read together in the page, so slow reads do not count."""
    text, now_ms = shown.evaluate("element => [element.textContent, Date.now()]")
    return seconds(text), now_ms / 1000


def test_timer_follows_the_wall_clock_through_a_paused_tab_and_stops_at_the_end(voila, page):
    server = voila({NOTEBOOK.name: NOTEBOOK})
    page.goto(server.url(NOTEBOOK.name))
    timers = page.locator(".pw-run-timer")
    expect(timers).to_have_count(2, timeout=60_000)
    run, earlier = timers.nth(0), timers.nth(1)
    expect(run).to_have_attribute("data-state", "running")
    shown = run.locator(".pw-run-timer-value")

    # A run that started 1:02:05 before the notebook ran shows that at once: no ticks were counted for it.
    assert 3725 <= seconds(earlier.locator(".pw-run-timer-value").inner_text()) < 3725 + 60

    # Stop the page's JavaScript as a throttled background tab does: no timer fires for a while.
    # (Page.setWebLifecycleState "frozen" has no effect in this headless Chromium; pausing in the
    # debugger does the same to the page: its timers do not run, the wall clock goes on.)
    page.evaluate("window.naiveTicks = 0; setInterval(() => window.naiveTicks++, 100)")
    cdp = page.context.new_cdp_session(page)
    cdp.send("Debugger.enable")
    before_shown, before_wall = shown_and_wall_clock(shown)
    ticks_before = page.evaluate("window.naiveTicks")
    cdp.send("Debugger.pause")
    time.sleep(PAUSED_SECONDS)
    cdp.send("Debugger.resume")
    page.wait_for_timeout(REPAINT_SECONDS * 1000 * 1.5)
    after_shown, after_wall = shown_and_wall_clock(shown)
    # The pause was real: a tick counter missed most of its ticks ...
    assert page.evaluate("window.naiveTicks") - ticks_before < PAUSED_SECONDS * 10 / 2
    # ... while the timer shows the wall-clock time that passed, to within two repaints.
    assert after_shown - before_shown == pytest.approx(after_wall - before_wall, abs=0.4)

    # Finishing the run freezes the figure at the final duration.
    at_click = seconds(shown.inner_text())
    page.get_by_role("button", name="Finish run").click()
    expect(run).to_have_attribute("data-state", "finished")
    expect(run.locator(".pw-run-timer-label")).to_have_text("Finished in")
    final = shown.inner_text()
    assert seconds(final) == pytest.approx(at_click, abs=1.0)
    time.sleep(0.5)
    assert shown.inner_text() == final
