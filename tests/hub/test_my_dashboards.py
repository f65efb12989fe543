"""An owner's "My dashboards" page on a real hub: who can see each dashboard, its views, the limits, and the
actions that change them.

One hub for the module, whose limit of own dashboards per person is 1 (so the page shows the limit reached).
olga publishes a notebook of hers and shares it with victor from the page; victor opens it, which the page then
counts; olga makes and revokes a share link, republishes, removes victor (who is then refused) and unpublishes,
all from the page. victor's own page
never shows olga's dashboards.
"""

from __future__ import annotations

import re
import time

import nbformat
import pytest
import requests
from playwright.sync_api import expect

from testing.hub import Hub
from tests.hub.test_own_dashboards import login_page, publish, widget_notebook, write_as_owner
from tests.hub.test_sharing import is_dashboard, open_page, wait_until, wait_until_ready

pytestmark = [pytest.mark.hub, pytest.mark.slow, pytest.mark.browser]

REVOCATION_SECONDS = 5  # short, so that a removed viewer is refused soon
SERVER = "dash-sales"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    hub = Hub(tmp_path_factory.mktemp("my-dashboards-hub"),
              extra_env={"WORKBENCH_PLAYGROUND": "false", "WORKBENCH_OWN_DASHBOARDS_PER_USER": "1",
                         "WORKBENCH_SHARE_REVOCATION_SECONDS": str(REVOCATION_SECONDS)})
    yield hub
    leftovers = hub.stop()
    assert not leftovers, f"the hub left processes behind: {leftovers}"


def shows_dashboard(browser, url: str) -> bool:
    response = open_page(browser, url)
    return response.status_code == 200 and "Weekly report, version one" in response.text


def test_owner_sees_audience_views_and_limits_and_changes_them(hub, browser):
    olga = hub.signup_and_login("olga")
    victor = hub.signup_and_login("victor")
    assert hub.start_server(olga, "olga").ready  # her account and home
    write_as_owner(hub, "olga", "sales.ipynb", nbformat.writes(widget_notebook("one")).encode())
    published = publish(hub, olga, notebook="sales.ipynb", title="Sales", url_name="sales")
    assert published.status_code == 200, published.text
    wait_until_ready(hub, olga, "olga", SERVER)
    base = hub.user_url("olga", SERVER)
    mine = f"{hub.url}/hub/workbench/dashboards"

    # from her page, olga shares it with victor
    context, page = login_page(browser, hub, "olga")
    try:
        page.goto(mine)
        entry = page.locator(f'.workbench-dashboard[data-server="{SERVER}"]')
        expect(entry.locator("h2")).to_have_text("Sales")
        expect(entry.locator("[data-audience]")).to_contain_text("only you")
        expect(entry.locator("[data-views]")).to_contain_text("0 in the last day, 0 in the last week")
        expect(entry.locator("[data-state]")).to_contain_text("running")
        expect(page.locator('[data-limit="own"]')).to_contain_text("1 of 1 used")
        expect(page.locator("[data-limit-reached]")).to_contain_text("Unpublish one")
        # a name that is no user: an in-page alert, nothing shared
        entry.get_by_label("Name of the user or group to share with").fill("nobody-here")
        entry.get_by_role("button", name="Share", exact=True).click()
        expect(entry.get_by_role("alert")).to_contain_text("nobody-here")
        entry.get_by_label("Name of the user or group to share with").fill("victor")
        entry.get_by_role("button", name="Share", exact=True).click()
        expect(entry.locator('[data-audience] li[data-user="victor"]')).to_be_visible(timeout=30_000)
    finally:
        context.close()

    # victor opens it (through the hub's login to that server: the view the page counts)
    assert shows_dashboard(victor, base), hub.log()[-3000:]

    # victor's page is his own: none of olga's dashboards, whatever he asks for
    for url in (mine, f"{mine}?user=olga", f"{mine}/olga"):
        response = victor.get(url, timeout=30)
        assert "Sales" not in response.text and SERVER not in response.text, (url, response.status_code)
    assert "You publish no dashboards yet" in victor.get(mine, timeout=30).text
    # and nobody logged out sees anything
    anonymous = requests.get(mine, timeout=30)
    assert SERVER not in anonymous.text and "/hub/login" in anonymous.url

    context, page = login_page(browser, hub, "olga")
    try:
        page.goto(mine)
        entry = page.locator(f'.workbench-dashboard[data-server="{SERVER}"]')
        expect(entry.locator('[data-audience] li[data-user="victor"]')).to_contain_text("victor")
        expect(entry.locator("[data-views]")).to_contain_text("1 in the last day, 1 in the last week")
        expect(page.locator('[data-limit="own"]')).to_contain_text("1 of 1 used")
        expect(page.locator('[data-limit="servers"]')).to_contain_text(re.compile(r"1 of \d+ used"))

        # a share link: listed with its expiry until revoked
        entry.get_by_role("button", name="Make a share link").click()
        expect(entry.locator(".workbench-share-code")).to_contain_text("/hub/accept-share", timeout=30_000)
        page.reload()
        expect(entry.locator("[data-audience] [data-code]")).to_contain_text(re.compile(r"expires \d{4}-"))
        entry.locator('[data-action="revoke-codes"]').click()
        expect(entry.locator("[data-audience] [data-code]")).to_have_count(0, timeout=30_000)

        # she republishes it: a new version, same address, victor still listed
        entry.locator('[data-action="republish"]').click()
        expect(entry).to_contain_text("version 2", timeout=120_000)
        expect(entry.locator('[data-audience] li[data-user="victor"]')).to_be_visible()
        wait_until_ready(hub, olga, "olga", SERVER)
        assert shows_dashboard(victor, base)

        # she removes victor: the page says so, and he is refused once the server's cache of the hub's word expires
        entry.locator('[data-action="revoke"][data-user="victor"]').click()
        expect(entry.locator("[data-audience]")).to_contain_text("only you", timeout=30_000)
        began = time.monotonic()
        wait_until(lambda: not shows_dashboard(victor, base), timeout=REVOCATION_SECONDS + 30)
        assert time.monotonic() - began < REVOCATION_SECONDS + 30
        assert not is_dashboard(open_page(victor, base))

        # she unpublishes it: gone from her page and from the hub, and the place under her limit is free
        entry.locator('[data-action="unpublish"]').click()
        expect(page.locator("[data-none]")).to_be_visible(timeout=60_000)
        expect(page.locator('[data-limit="own"]')).to_contain_text("0 of 1 used")
        expect(page.locator("[data-limit-reached]")).to_have_count(0)
    finally:
        context.close()
    wait_until(lambda: SERVER not in hub.hub_api(olga, "GET", "/users/olga").json()["servers"])
    assert not shows_dashboard(victor, base)
