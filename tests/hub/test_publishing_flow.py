"""Publishing one's own notebook in one go, as JupyterLab's "Publish as a dashboard" leads there, on a real hub.

Three people and a group: paula publishes a notebook from the form JupyterLab's command opens (the hub's home page
with ``?publish=<path>``), choosing in the same form the group ``analysts`` and a share link; gina, in the group,
finds it under "Shared with me" with its thumbnail and version and uses its button; hal, a stranger, is refused
until he accepts the share link. A name that is nobody is refused before anything is published. The hub lets a
published dashboard serve two viewers at once: one more is told the dashboard is full.
"""

from __future__ import annotations

import base64
import io
import re
from urllib.parse import parse_qs, urlparse

import nbformat
import pytest
from PIL import Image
from playwright.sync_api import expect

from testing.hub import Hub
from tests.hub.test_own_dashboards import login_page, write_as_owner
from tests.hub.test_sharing import accept_code, open_page, wait_until_ready

pytestmark = [pytest.mark.hub, pytest.mark.slow, pytest.mark.browser]

ADMIN = "root-admin"
SOURCE = "reports/q3_summary.ipynb"
SERVER = "dash-q3-summary"
MAX_VIEWERS = 2


def report_notebook() -> nbformat.NotebookNode:
    """A page with a chart saved as a picture (its thumbnail) and a button whose click runs in the kernel."""
    chart = io.BytesIO()
    Image.new("RGB", (640, 400), (30, 110, 200)).save(chart, "PNG")
    book = nbformat.v4.new_notebook()
    book.cells = [
        nbformat.v4.new_markdown_cell("# Q3 summary"),
        nbformat.v4.new_code_cell("# the chart as the notebook last showed it", outputs=[nbformat.v4.new_output(
            "display_data", data={"image/png": base64.b64encode(chart.getvalue()).decode()})]),
        nbformat.v4.new_code_cell(
            "import ipywidgets as widgets\n"
            "button = widgets.Button(description='Recount')\n"
            "button.on_click(lambda _: setattr(button, 'description', 'Recounted by the kernel'))\n"
            "button"
        ),
    ]
    return book


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    hub = Hub(tmp_path_factory.mktemp("publishing-flow-hub"),
              extra_env={"WORKBENCH_PLAYGROUND": "false", "WORKBENCH_ADMIN_USERS": ADMIN,
                         "WORKBENCH_DASHBOARD_MAX_VIEWERS": str(MAX_VIEWERS)})
    yield hub
    leftovers = hub.stop()
    assert not leftovers, f"the hub left processes behind: {leftovers}"


def test_publish_with_its_audience_in_one_go_then_viewers_strangers_and_a_full_dashboard(hub, browser):
    admin = hub.admin_login(ADMIN)
    paula = hub.signup_and_login("paula")
    hub.signup_and_login("gina")
    hal = hub.signup_and_login("hal")
    assert hub.hub_api(admin, "POST", "/groups/analysts").status_code == 201
    assert hub.hub_api(admin, "POST", "/groups/analysts/users", json={"users": ["gina"]}).status_code == 200
    assert hub.start_server(paula, "paula").ready  # her account and home
    write_as_owner(hub, "paula", SOURCE, nbformat.writes(report_notebook()).encode())

    context, page = login_page(browser, hub, "paula")
    try:
        # where JupyterLab's command leads: the form, filled in from the notebook's path
        page.goto(f"{hub.url}/hub/home?publish={SOURCE}")
        form = page.locator('form[data-action="publish-own"]')
        expect(form.get_by_label("Notebook, as a path in your home")).to_have_value(SOURCE)
        expect(form.get_by_label("Title of the dashboard")).to_have_value("Q3 summary")
        expect(form.get_by_label("URL name (lowercase letters, digits and hyphens)")).to_have_value("q3-summary")
        message = form.locator(".workbench-publish-message")
        # somebody who is nobody: refused before anything is published
        form.get_by_label("Share with users (names, comma-separated)").fill("nobody-here")
        form.get_by_role("button", name="Publish").click()
        expect(message).to_contain_text("No user named 'nobody-here'")
        assert SERVER not in hub.hub_api(paula, "GET", "/users/paula?include_stopped_servers=1").json()["servers"]

        form.get_by_label("Share with users (names, comma-separated)").fill("")
        form.get_by_label("Share with groups (names, comma-separated)").fill("analysts")
        form.get_by_label("a share link (valid 1 day)").check()
        form.get_by_label("AWS playground for its kernels").select_option("read")
        form.get_by_role("button", name="Publish").click()
        expect(message).to_contain_text("Share link", timeout=120_000)
        link = re.search(r"(https?://\S+/hub/accept-share\?code=\S+)", message.text_content()).group(1)
    finally:
        context.close()
    wait_until_ready(hub, paula, "paula", SERVER)
    base = hub.user_url("paula", SERVER)
    shares = hub.hub_api(paula, "GET", f"/shares/paula/{SERVER}").json()["items"]
    assert [share["group"]["name"] for share in shares if share.get("group")] == ["analysts"]
    mine = paula.get(f"{hub.url}/hub/workbench/dashboards", timeout=30).text
    assert "read your playground" in mine and f"Viewers at once, per dashboard: {MAX_VIEWERS}" in mine

    # gina, through the group: listed with its owner, thumbnail and version; its button runs in the kernel
    context, page = login_page(browser, hub, "gina")
    try:
        entry = page.locator(".workbench-shared li", has=page.locator(f'[data-shared-server="paula/{SERVER}"]'))
        expect(entry).to_contain_text("Q3 summary")
        expect(entry).to_contain_text("shared by paula")
        expect(entry.locator("[data-updated]")).to_contain_text(re.compile(r"version 1,\s+updated \d{4}-"))
        thumbnail = entry.locator("img[data-thumbnail]")
        expect(thumbnail).to_be_visible()
        assert thumbnail.evaluate("image => image.naturalWidth") == 320  # the chart scaled into the box
        entry.locator(f'[data-shared-server="paula/{SERVER}"]').click()
        # JupyterHub asks once before opening a server someone shared
        first = page.get_by_role("button", name=re.compile(r"^(Authorize|Recount)$"))
        expect(first).to_be_visible(timeout=120_000)
        if first.text_content().strip() == "Authorize":
            first.click()
        button = page.get_by_role("button", name="Recount")
        expect(button).to_be_visible(timeout=120_000)
        button.click()
        expect(page.get_by_role("button", name="Recounted by the kernel")).to_be_visible(timeout=30_000)
    finally:
        context.close()

    # hal, a stranger: refused and shown nothing, until he accepts the share link
    refused = open_page(hal, base)
    assert refused.status_code in (403, 404) and "Q3 summary" not in refused.text
    assert "paula/" not in hal.get(f"{hub.url}/hub/home", timeout=30).text
    shown = urlparse(link)
    accepted = accept_code(hub, hal, {"accept_url": f"{shown.path}?{shown.query}",
                                      "code": parse_qs(shown.query)["code"][0]})
    assert accepted.status_code == 200, accepted.text[:300]
    assert "Q3 summary" in open_page(hal, base).text

    # each page opened holds a kernel: one more than the limit is told the dashboard is full, and gets no kernel
    answers = [open_page(hal, base) for _ in range(MAX_VIEWERS + 1)]
    full = [answer for answer in answers if answer.status_code == 503]
    assert full, [answer.status_code for answer in answers]
    assert "This dashboard is full" in full[0].text and f"{MAX_VIEWERS} viewers at once" in full[0].text
    assert full[0].headers.get("Retry-After") == "60"


def test_a_dashboard_shared_with_everyone_reaches_people_who_sign_up_later_and_only_that_one(hub, browser):
    olive = hub.signup_and_login("olive")
    assert hub.start_server(olive, "olive").ready
    for name in ("open", "closed"):
        write_as_owner(hub, "olive", f"{name}.ipynb", nbformat.writes(report_notebook()).encode())
    context, page = login_page(browser, hub, "olive")
    try:
        for name, everyone in (("open", True), ("closed", False)):
            page.goto(f"{hub.url}/hub/home?publish={name}.ipynb")
            form = page.locator('form[data-action="publish-own"]')
            expect(form.get_by_label("Title of the dashboard")).to_have_value(name.capitalize())
            if everyone:
                form.get_by_label("everyone on this hub").check()
            form.get_by_role("button", name="Publish").click()
            page.wait_for_load_state()  # the page reloads once it is published
            expect(page.locator(f'.workbench-publication[data-server="dash-{name}"]')).to_contain_text(
                "version 1", timeout=120_000)
        page.goto(f"{hub.url}/hub/workbench/dashboards")
        expect(page.locator('.workbench-dashboard[data-server="dash-open"] [data-everyone]')).to_contain_text(
            "everyone on this hub")
        expect(page.locator('.workbench-dashboard[data-server="dash-closed"] [data-audience]')).to_contain_text(
            "only you")
    finally:
        context.close()
    for name in ("open", "closed"):
        wait_until_ready(hub, olive, "olive", f"dash-{name}")

    # nadia signs up after it was shared: the group lists nobody, and still she sees it and opens it
    nadia = hub.signup_and_login("nadia")
    home = nadia.get(f"{hub.url}/hub/home", timeout=30).text
    assert 'data-shared-server="olive/dash-open"' in home and "olive/dash-closed" not in home
    assert "Q3 summary" in open_page(nadia, hub.user_url("olive", "dash-open")).text
    closed = open_page(nadia, hub.user_url("olive", "dash-closed"))
    assert closed.status_code in (403, 404) and "Q3 summary" not in closed.text
    # the owner's own list does not show her dashboard as shared with herself
    assert 'data-shared-server="olive/' not in olive.get(f"{hub.url}/hub/home", timeout=30).text
