"""A new user, entirely in the browser through the real hub: sign up, log in, watch the spawn page's progress
(the playground first), land on the home page's banners, open the query-optimization dashboard in Voila, see
the server's timing phases, run it, end up at "Inspect the data", then start a load test on her playground and
watch the live graph follow it."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from testing.support import wait_for
from tests.support import INSPECT_SECTION_IN_VIEW, artifact_path

pytestmark = [pytest.mark.hub, pytest.mark.browser, pytest.mark.slow]

PASSWORD = "correct horse battery"


def points(graph) -> int:
    return int(graph.get_attribute("data-points") or 0)


def test_sign_up_to_a_finished_query_optimization_run_then_a_live_load_test(start_hub, browser):
    # as a hub runs by default, but with the pool started however busy the machine is: the test asserts the page
    # came from it, where a hub on a busy machine gives a page a kernel of its own meanwhile (tests/test_voila_preheat)
    hub = start_hub(WORKBENCH_DASHBOARD_POOL_SIZE="1", WORKBENCH_PREHEAT_BUSY_THRESHOLD="1")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    progress_events: list[dict] = []

    def on_console(message):
        # the spawn page logs every progress event it receives from the hub's event stream
        if message.type == "log" and "/spawn-pending/" in page.url:
            try:
                values = [argument.json_value() for argument in message.args]
            except Exception:  # noqa: BLE001 - the page may navigate away while we read
                return
            progress_events.extend(value for value in values if isinstance(value, dict) and "message" in value)

    page.on("console", on_console)
    try:
        page.goto(f"{hub.url}/hub/login")
        page.get_by_role("link", name="Create an account").click()
        page.fill("#username_input", "grace")
        page.fill("#password_input", PASSWORD)
        page.fill("#password_confirmation_input", PASSWORD)
        page.click("#signup_submit")
        page.wait_for_selector(".alert-success")

        page.goto(f"{hub.url}/hub/login?next=/hub/spawn")
        page.fill("#username_input", "grace")
        page.fill("#password_input", PASSWORD)
        page.click("#login_submit")
        page.wait_for_url("**/user/grace/**", timeout=120_000)
        messages = [event["message"] for event in progress_events]
        assert any("playground" in message for message in messages), json.dumps(progress_events)
        percentages = [event["progress"] for event in progress_events if "progress" in event]
        assert percentages == sorted(percentages), percentages

        page.goto(f"{hub.url}/hub/home")
        banner = page.locator('a.workbench-banner[data-dashboard="query_optimization.ipynb"]')
        assert banner.is_visible()
        banner.click()
        page.wait_for_url("**/voila/render/dashboards/query_optimization.ipynb*", timeout=60_000)
        run = page.get_by_role("button", name="Run comparison")
        run.wait_for(timeout=120_000)
        # the page came from a kernel the user's server started and ran the dashboard in at spawn
        assert re.search(r"Using pre-heated kernel: \S+ for dashboards/query_optimization\.ipynb", hub.log())

        # the dashboard shows the user server's Server-Timing phases for its own page
        page.wait_for_selector(".pw-request-timing-phase[data-phase='total']", timeout=60_000)

        run.click()
        page.wait_for_selector(".pw-progress-message:has-text('Compared 6 strategies')", timeout=240_000)
        page.wait_for_function(INSPECT_SECTION_IN_VIEW, timeout=15_000)
        assert page.locator(".workbench-findings li", has_text="N+1 on Author.books").count() >= 1
        page.screenshot(path=str(artifact_path("hub-dashboard-after-run.png")))

        # then a live load test on the playground the hub made for her, from the home page's banner
        page.goto(f"{hub.url}/hub/home")
        page.locator('a.workbench-banner[data-dashboard="load_test.ipynb"]').click()
        page.wait_for_url("**/voila/render/dashboards/load_test.ipynb*", timeout=60_000)
        start = page.get_by_role("button", name=re.compile(r"^\W*Start$"))  # the name starts with the icon's glyph
        start.wait_for(timeout=120_000)
        expect(page.get_by_role("textbox", name="Table")).to_have_value(
            re.compile(r"-grace-.*loadtest$|-grace-loadtest$"), timeout=10_000
        )
        start.click()
        graph = page.locator(".pw-live-graph")
        wait_for(lambda: points(graph) >= 2, 60, "the first points in the live graph")
        seen = points(graph)
        wait_for(lambda: points(graph) > seen, 30, "new points while the run goes on")
        assert graph.get_attribute("data-following") == "true"
        expect(graph.locator(".pw-lg-status")).to_have_text("● Live")
        page.screenshot(path=str(artifact_path("hub-load-test-live.png")))
        page.get_by_role("button", name=re.compile(r"^\W*Stop$")).click()
        expect(page.locator(".pw-progress-message")).to_contain_text("Stopped:", timeout=30_000)
    finally:
        context.close()
