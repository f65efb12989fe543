"""A first visit, in Chromium on a real hub: after login the person lands on the workbench's home page, where the
dashboards are cards that open them, and from where JupyterLab opens with the dashboards' notebooks and the
tutorials in its file browser, a "Profiler" section in its launcher and no question about Jupyter news. A
mistake on the home page is said in the page, never in a browser dialog.

One hub for the module; each test has a user of its own.
"""

from __future__ import annotations

import json
import re
import time

import pytest
from playwright.sync_api import expect

from spawner import dashboards
from testing.hub import Hub
from tests.hub.test_own_dashboards import write_as_owner
from tests.hub.test_sharing import wait_until_ready
from tests.support import artifact_path

pytestmark = [pytest.mark.hub, pytest.mark.slow, pytest.mark.browser]

PASSWORD = "correct horse battery"  # the harness signs everyone up with it
OFFERED = dashboards.load_manifest(dashboards.shipped_manifest())
STUDIES = dashboards.load_studies(dashboards.shipped_manifest())
TUTORIALS = ("data_models_tutorial.ipynb", "widgets_live_demo.ipynb", "widgets_inspect_demo.ipynb")


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    hub = Hub(tmp_path_factory.mktemp("landing-hub"), extra_env={"WORKBENCH_PLAYGROUND": "false"})
    yield hub
    leftovers = hub.stop()
    assert not leftovers, f"the hub left processes behind: {leftovers}"


def log_in(browser, hub: Hub, user: str):
    """The login form as a person fills it, with no page asked for: where the hub sends them is the landing."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{hub.url}/hub/login")
    page.fill("#username_input", user)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    return context, page


def test_after_login_the_home_page_offers_the_dashboards_as_cards_that_open_them(hub, browser):
    session = hub.signup_and_login("ada")
    context, page = log_in(browser, hub, "ada")
    try:
        page.wait_for_url(f"{hub.url}/hub/home", timeout=60_000)
        expect(page.get_by_role("heading", name="Dashboards", exact=True)).to_be_visible()
        # JupyterHub's own server table is not shown: the workbench's sections are, in its words
        expect(page.get_by_role("heading", name="Named Servers")).to_have_count(0)
        expect(page.get_by_placeholder("name-your-server")).to_have_count(0)
        expect(page.get_by_role("heading", name="Shared with me")).to_be_visible()
        expect(page.get_by_role("heading", name="My published dashboards")).to_be_visible()
        expect(page.get_by_role("link", name="Open JupyterLab")).to_be_visible()

        cards = page.get_by_role("list", name="Dashboards").get_by_role("link")
        expect(cards).to_have_count(len(OFFERED))
        for card, dashboard in zip(cards.all(), OFFERED, strict=True):
            expect(card).to_contain_text(dashboard.title)
            expect(card).to_contain_text(dashboard.description)
            expect(card).to_contain_text("Open")
            assert f"voila/render/dashboards/{dashboard.notebook}" in card.get_attribute("href")

        # a keyboard user sees which card has the focus
        first, second = cards.nth(0), cards.nth(1)
        for _ in range(40):
            if first.evaluate("card => card === document.activeElement"):
                break
            page.keyboard.press("Tab")
        assert first.evaluate("card => card === document.activeElement"), "Tab never reached the first card"
        focused = first.evaluate("card => getComputedStyle(card).outlineStyle")
        assert focused != "none" and second.evaluate("card => getComputedStyle(card).outlineStyle") == "none"
        page.screenshot(path=str(artifact_path("hub-home-landing.png")), full_page=True)

        # the whole card is the link: a click on its description opens that dashboard
        caching = next(i for i, d in enumerate(OFFERED) if d.notebook == "caching.ipynb")
        cards.nth(caching).locator("p").click()
        page.wait_for_url("**/voila/render/dashboards/caching.ipynb*", timeout=120_000)

        # with her server running, the home page also offers to stop it (what JupyterHub's own page had)
        page.goto(f"{hub.url}/hub/home")
        # the page reloads itself once the hub has taken the stop: wait for that reload, not to race it
        with page.expect_navigation(timeout=60_000):
            page.get_by_role("button", name="Stop my server").click()
        deadline = time.monotonic() + 60
        while hub.hub_api(session, "GET", "/users/ada").json()["servers"]:
            assert time.monotonic() < deadline, "ada's server did not stop"
            time.sleep(0.5)
        page.goto(f"{hub.url}/hub/home")
        expect(page.get_by_role("button", name="Stop my server")).to_have_count(0)
        expect(page.get_by_role("link", name="Open JupyterLab")).to_be_visible()
    finally:
        context.close()


def test_the_deployment_study_is_a_banner_of_its_own_that_opens_the_comparison_computed_in_her_server(hub, browser):
    assert [s.notebook for s in STUDIES] == ["serverless_comparison.ipynb"]
    hub.signup_and_login("flo")
    context, page = log_in(browser, hub, "flo")
    try:
        page.wait_for_url(f"{hub.url}/hub/home", timeout=60_000)
        expect(page.get_by_role("heading", name="Studies", exact=True)).to_be_visible()
        banners = page.get_by_role("list", name="Studies").get_by_role("link")
        expect(banners).to_have_count(1)
        expect(banners).to_contain_text(STUDIES[0].title)
        expect(banners).to_contain_text("Read")
        # a study is not one of the dashboards, which stay the five to operate
        expect(page.get_by_role("list", name="Dashboards").get_by_role("link")).to_have_count(len(OFFERED))

        banners.click()
        page.wait_for_url("**/user/flo/voila/render/dashboards/serverless_comparison.ipynb*", timeout=120_000)
        # computed by her own server's kernel from the project's figures: the table, the chart and the verdict
        expect(page.get_by_role("heading", name=re.compile("EC2, Fargate or Lambda"))).to_be_visible(timeout=120_000)
        expect(page.get_by_text("$ per user-hour").first).to_be_visible(timeout=120_000)
        expect(page.get_by_text(re.compile(r"Users' servers: \S+ at \$\d"))).to_be_visible()
        expect(page.get_by_text("successive Lambda invocation(s)").first).to_be_visible()
        expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=60_000)
        expect(page.get_by_text(re.compile("Traceback|Error"))).to_have_count(0)
        page.screenshot(path=str(artifact_path("hub-study-serverless.png")), full_page=True)
    finally:
        context.close()


def test_the_login_and_home_pages_follow_a_dark_colour_scheme(hub, browser):
    hub.signup_and_login("grace")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="dark")
    page = context.new_page()
    try:
        page.goto(f"{hub.url}/hub/login")
        assert page.evaluate("document.documentElement.dataset.bsTheme") == "dark"
        page.fill("#username_input", "grace")
        page.fill("#password_input", PASSWORD)
        page.click("#login_submit")
        page.wait_for_url(f"{hub.url}/hub/home", timeout=60_000)
        assert page.evaluate("document.documentElement.dataset.bsTheme") == "dark"
        card = page.get_by_role("list", name="Dashboards").get_by_role("link").first
        expect(card).to_be_visible()
        # the cards are dark with light text, not the light theme's pale cards on a dark page
        text = card.evaluate("el => getComputedStyle(el).color")
        gradient = card.evaluate("el => getComputedStyle(el).backgroundImage")
        stops = [[int(part) for part in stop.split(",")] for stop in re.findall(r"rgb\((\d+, \d+, \d+)\)", gradient)]
        assert stops and all(sum(stop) < 3 * 80 for stop in stops), gradient
        assert sum(int(part) for part in re.findall(r"\d+", text)[:3]) > 3 * 180, text
        page.screenshot(path=str(artifact_path("hub-home-dark.png")), full_page=True)
    finally:
        context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_home_page_fits_1400_and_1024_px_in_both_schemes_without_a_dialog(hub, browser, scheme):
    user = f"hedy-{scheme}"
    hub.signup_and_login(user)
    context = browser.new_context(viewport={"width": 1400, "height": 900}, color_scheme=scheme)
    page = context.new_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        page.goto(f"{hub.url}/hub/login")
        page.fill("#username_input", user)
        page.fill("#password_input", PASSWORD)
        page.click("#login_submit")
        page.wait_for_url(f"{hub.url}/hub/home", timeout=60_000)
        assert page.evaluate("document.documentElement.dataset.bsTheme") == scheme
        for width in (1400, 1024):
            page.set_viewport_size({"width": width, "height": 900})
            cards = page.get_by_role("list", name="Dashboards").get_by_role("link")
            expect(cards.first).to_be_visible()
            assert cards.count() == len(OFFERED)
            # nothing wider than the window: no sideways scrolling at either width
            assert page.evaluate("document.scrollingElement.scrollWidth <= document.scrollingElement.clientWidth + 1")
            page.screenshot(path=str(artifact_path(f"hub-home-{scheme}-{width}.png")))
        assert dialogs == []
    finally:
        context.close()


def test_sharing_with_an_unknown_user_is_said_in_the_page_not_in_a_dialog(hub, browser):
    session = hub.signup_and_login("bea")
    started = hub.hub_api(session, "POST", "/users/bea/servers/dash-caching")
    assert started.status_code in (201, 202), started.text
    wait_until_ready(hub, session, "bea", "dash-caching")
    context, page = log_in(browser, hub, "bea")
    dialogs = []

    def on_dialog(dialog):
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    try:
        page.wait_for_url(f"{hub.url}/hub/home", timeout=60_000)
        box = page.locator('.workbench-publication[data-server="dash-caching"]')
        box.get_by_label("Name of the user or group to share with").fill("nobody-here")
        box.get_by_role("button", name="Share", exact=True).click()
        message = box.get_by_role("alert")
        expect(message).to_contain_text("No such user: nobody-here")
        expect(message).to_contain_text("once they have logged in")
        expect(message).to_have_class(re.compile(r"\balert-danger\b"))
        # it goes away when dismissed, and the page is still there to correct the name
        message.get_by_role("button", name="Close").click()
        expect(message).to_have_count(0)
        assert dialogs == []
    finally:
        context.close()


def test_jupyterlab_has_the_notebooks_the_profiler_launcher_and_no_news_question(hub, browser):
    hub.signup_and_login("cy")
    context, page = log_in(browser, hub, "cy")
    try:
        page.wait_for_url(f"{hub.url}/hub/home", timeout=60_000)
        page.get_by_role("link", name="Open JupyterLab").click()
        page.wait_for_url("**/user/cy/lab**", timeout=120_000)
        launcher = page.locator(".jp-Launcher")
        expect(launcher).to_be_visible(timeout=120_000)

        profiler = launcher.locator(".jp-Launcher-section").filter(
            has=page.locator(".jp-Launcher-sectionTitle", has_text=re.compile(r"^Profiler$")))
        expect(profiler).to_have_count(1)
        for dashboard in OFFERED:
            expect(profiler.locator(".jp-LauncherCard", has_text=dashboard.title)).to_be_visible()
        expect(profiler.locator(".jp-LauncherCard", has_text="Workbench home")).to_be_visible()
        with context.expect_page() as opened:
            profiler.locator(".jp-LauncherCard", has_text="Caching").click()
        assert "/user/cy/voila/render/dashboards/caching.ipynb" in opened.value.url
        opened.value.close()

        listing = page.locator(".jp-DirListing-content")
        folder = listing.locator(".jp-DirListing-item", has_text="workbench-notebooks")
        expect(folder).to_be_visible(timeout=30_000)
        folder.dblclick()
        for notebook in [*(d.notebook for d in OFFERED + STUDIES), *TUTORIALS]:
            expect(listing.locator(".jp-DirListing-item", has_text=notebook)).to_be_visible(timeout=30_000)
        page.screenshot(path=str(artifact_path("jupyterlab-first-visit.png")))

        # JupyterLab asks a new user about Jupyter news as soon as it has started; by now it would have
        page.wait_for_timeout(3_000)
        expect(page.get_by_text(re.compile("Jupyter news", re.IGNORECASE))).to_have_count(0)
        expect(page.locator(".jp-toast-message, .Toastify__toast")).to_have_count(0)
    finally:
        context.close()


WEEKLY_REPORT = json.dumps({
    "cells": [{"cell_type": "markdown", "id": "title", "metadata": {}, "source": ["# Weekly report"]}],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    "nbformat": 4, "nbformat_minor": 5,
}).encode()


def test_a_notebook_is_published_from_its_publish_button_in_jupyterlab_on_the_hub_home_filled_in(hub, browser):
    session = hub.signup_and_login("eve")
    assert hub.start_server(session, "eve").ready
    write_as_owner(hub, "eve", "reports/weekly_report.ipynb", WEEKLY_REPORT)
    context, page = log_in(browser, hub, "eve")
    try:
        page.wait_for_url(f"{hub.url}/hub/home", timeout=60_000)
        page.goto(f"{hub.user_url('eve')}lab/tree/reports/weekly_report.ipynb")
        notebook = page.locator(".jp-NotebookPanel").filter(has_text="Weekly report")
        expect(notebook).to_be_visible(timeout=120_000)
        publish = notebook.locator('.jp-NotebookPanel-toolbar [data-jp-item-name="workbench-publish"]')
        expect(publish).to_be_visible(timeout=30_000)
        expect(publish).to_have_text("Publish")

        # the command is in the palette too, under "Profiler", enabled while the notebook is the current widget
        notebook.locator(".jp-Cell").first.click()
        palette = page.locator("#modal-command-palette .lm-CommandPalette")
        search = palette.locator(".lm-CommandPalette-input")
        for _ in range(5):  # a key pressed while JupyterLab is still settling can go unheard
            if search.is_visible():
                break
            page.keyboard.press("Control+Shift+C")
            page.wait_for_timeout(1_000)
        search.fill("Publish")
        item = palette.locator(".lm-CommandPalette-item", has_text="Publish as a dashboard\u2026")
        expect(item).to_be_visible()
        expect(item).not_to_have_class(re.compile(r"\blm-mod-disabled\b"))
        # (the modal palette keeps its category headers in the page, hidden)
        expect(palette.locator(".lm-CommandPalette-header", has_text=re.compile(r"^Profiler$", re.IGNORECASE))
               ).to_have_count(1)
        page.keyboard.press("Escape")
        expect(item).to_be_hidden()

        with context.expect_page() as opened:
            publish.click()
        home = opened.value
        home.wait_for_load_state()
        assert home.url == f"{hub.url}/hub/home?publish=reports%2Fweekly_report.ipynb"
        form = home.locator('form[data-action="publish-own"]')
        expect(form.get_by_label("Notebook, as a path in your home")).to_have_value("reports/weekly_report.ipynb")
        expect(form.get_by_label("Title of the dashboard")).to_have_value("Weekly report")
        expect(form.get_by_label("URL name (lowercase letters, digits and hyphens)")).to_have_value("weekly-report")
        expect(form).to_be_in_viewport()
        home.close()
    finally:
        context.close()


def test_an_edited_copy_is_kept_and_the_dashboards_themselves_cannot_be_overwritten(hub):
    session = hub.signup_and_login("dee")
    assert hub.start_server(session, "dee").ready
    home = hub.home_of("dee")
    edited = write_as_owner(hub, "dee", "workbench-notebooks/caching.ipynb", b'{"edited": "by dee"}')
    (home / "workbench-notebooks" / "load_test.ipynb").unlink()

    stopped = hub.hub_api(session, "DELETE", "/users/dee/server")
    assert stopped.status_code in (202, 204), stopped.text
    deadline = time.monotonic() + 60
    while hub.hub_api(session, "GET", "/users/dee").json()["servers"]:
        assert time.monotonic() < deadline, "dee's server did not stop"
        time.sleep(0.5)
    assert hub.start_server(session, "dee").ready

    assert edited.read_bytes() == b'{"edited": "by dee"}'
    # one the person deleted comes back as shipped
    shipped = dashboards.shipped_folder()
    assert (home / "workbench-notebooks" / "load_test.ipynb").read_bytes() == (shipped / "load_test.ipynb").read_bytes()
    # the notebooks the dashboards run from are the shipped ones, and JupyterLab opens them read-only (each
    # user's own account writes them; where all servers share the hub's account, they stay writable)
    assert session.get(f"{hub.user_url('dee')}lab", timeout=60).status_code == 200
    for dashboard in OFFERED:
        served = home / dashboards.FOLDER / dashboard.notebook
        assert served.read_bytes() == (shipped / dashboard.notebook).read_bytes()
        model = session.get(f"{hub.user_url('dee')}api/contents/{dashboards.FOLDER}/{dashboard.notebook}?content=0",
                            timeout=30)
        assert model.status_code == 200, model.text[:300]
        assert model.json()["writable"] is not hub.isolated, model.json()
