"""A user publishes a notebook of their own as a dashboard, on a real hub, and shares it like a built-in one.

One hub for the module, whose limit of own dashboards per person is 1. alice writes a notebook with an ipywidgets
button into her home and publishes it from her home page; bob, with whom she shares it, uses the button; carol is
refused. Editing the notebook changes nothing until alice republishes (same address); unpublishing removes it.
Bad requests are each refused with a message saying what is wrong, and nothing is published by them. A notebook
carrying a script that tries to act as its viewer achieves nothing (users' servers have origins of their own).
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import nbformat
import pytest
import requests
from playwright.sync_api import expect

from testing.hub import Hub
from tests.hub.test_sharing import open_page, wait_until_ready
from tests.security.test_origins import plant_hostile_cell

pytestmark = [pytest.mark.hub, pytest.mark.slow, pytest.mark.browser]

PASSWORD = "correct horse battery"  # the harness signs everyone up with it
URL_NAME = "weekly-report"
SERVER = f"dash-{URL_NAME}"
SOURCE = "reports/weekly.ipynb"


def widget_notebook(version: str) -> nbformat.NotebookNode:
    """A page whose text says its version, with a button whose click runs in the kernel (a widget message)."""
    book = nbformat.v4.new_notebook()
    book.cells = [
        nbformat.v4.new_markdown_cell(f"# Weekly report, version {version}"),
        nbformat.v4.new_code_cell(
            "import ipywidgets as widgets\n"
            f"button = widgets.Button(description='Count {version}')\n"
            "button.on_click(lambda _: setattr(button, 'description', 'Counted by the kernel'))\n"
            "button"
        ),
    ]
    return book


def write_as_owner(hub: Hub, user: str, relative: str, content: bytes) -> Path:
    """Write a file into the user's home as the user would (the hub runs servers under their own account)."""
    home = hub.home_of(user)
    owner = home.stat()
    path = home / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    for made in [path, *[home / folder for folder in path.relative_to(home).parents if folder != Path(".")]]:
        os.chown(made, owner.st_uid, owner.st_gid)
    return path


def link_as_owner(hub: Hub, user: str, relative: str, target: str) -> None:
    home = hub.home_of(user)
    owner = home.stat()
    (home / relative).symlink_to(target)
    os.lchown(home / relative, owner.st_uid, owner.st_gid)


def publish(hub: Hub, browser: requests.Session, **body) -> requests.Response:
    headers = {"X-XSRFToken": hub.hub_xsrf(browser)}
    return browser.post(f"{hub.url}/hub/workbench/publish", json=body, headers=headers, timeout=120)


def page_text(browser: requests.Session, url: str) -> str:
    response = open_page(browser, url)
    return response.text if response.status_code == 200 else f"{response.status_code}"


def login_page(browser, hub: Hub, user: str):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{hub.url}/hub/login?next=/hub/home")
    page.fill("#username_input", user)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    page.wait_for_url("**/hub/home", timeout=60_000)
    return context, page


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    hub = Hub(tmp_path_factory.mktemp("own-dashboards-hub"),
              extra_env={"WORKBENCH_PLAYGROUND": "false", "WORKBENCH_OWN_DASHBOARDS_PER_USER": "1"})
    yield hub
    leftovers = hub.stop()
    assert not leftovers, f"the hub left processes behind: {leftovers}"


def test_bad_publications_are_refused_with_a_message(hub):
    eve = hub.signup_and_login("eve")

    def refused(notebook, url_name="mine", title="Mine", **more) -> str:
        response = publish(hub, eve, notebook=notebook, title=title, url_name=url_name, **more)
        assert response.status_code == 400, (notebook, url_name, response.status_code, response.text[:300])
        return response.json()["message"]

    # a missing notebook: the first request also gives eve her account and home
    assert "no such notebook" in refused("missing.ipynb")
    home = hub.home_of("eve")
    assert home.is_dir()
    write_as_owner(hub, "eve", "good.ipynb", nbformat.writes(widget_notebook("1")).encode())

    assert "not inside your home" in refused("../other/report.ipynb")
    assert "not inside your home" in refused("/etc/passwd.ipynb")
    assert "only .ipynb" in refused("notes.txt")
    write_as_owner(hub, "eve", "fake.ipynb", b"this is no notebook")
    assert "is not a notebook" in refused("fake.ipynb")
    write_as_owner(hub, "eve", "old.ipynb", b'{"nbformat": 3, "worksheets": []}')
    assert "is not a notebook" in refused("old.ipynb")
    # links planted to lead out of the home: to a real notebook others may read, and to a folder
    shipped = str(Path(__file__).resolve().parents[2] / "notebooks" / "caching.ipynb")
    link_as_owner(hub, "eve", "escape.ipynb", shipped)
    assert "leads outside your home" in refused("escape.ipynb")
    link_as_owner(hub, "eve", "linked", str(Path(shipped).parent))
    assert "leads outside your home" in refused("linked/caching.ipynb")
    # names: a built-in's, a malformed one, and no title
    assert "built-in dashboard" in refused("good.ipynb", url_name="caching")
    assert "lowercase letters" in refused("good.ipynb", url_name="Mine/../x")
    assert "title" in refused("good.ipynb", title="  ")
    assert "Nothing is published" in refused("good.ipynb", republish=True)
    # nothing was published or copied by any of them
    servers = hub.hub_api(eve, "GET", "/users/eve").json()["servers"]
    assert not [name for name in servers if name.startswith("dash-")], servers
    assert not (home / "dashboards" / "published").exists() or not list((home / "dashboards" / "published").iterdir())

    # one is allowed (this hub's limit); a second under another name is refused; so is the same name again
    first = publish(hub, eve, notebook="good.ipynb", title="Good", url_name="good")
    assert first.status_code == 200, hub.log()[-4000:]
    assert "limit" in refused("good.ipynb", url_name="second")
    assert "already used by your dashboard 'Good'" in refused("good.ipynb", url_name="good")
    # unpublished, the name and the place under the limit are free again
    assert hub.hub_api(eve, "DELETE", "/users/eve/servers/dash-good", json={"remove": True}).status_code in (202, 204)
    # removed, not only stopped: the hub lists a server as gone once it stops, and deletes its record after
    wait_until(lambda: "dash-good" not in hub.hub_api(eve, "GET", "/users/eve?include_stopped_servers=1").json()[
        "servers"])
    response = publish(hub, eve, notebook="good.ipynb", title="Other", url_name="good")
    assert response.status_code == 200, response.text


def wait_until(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)


def test_own_notebook_published_shared_republished_and_unpublished(hub, browser):
    alice = hub.signup_and_login("alice")
    bob = hub.signup_and_login("bob")
    carol = hub.signup_and_login("carol")
    # alice's first server gives her account and home; she writes her notebook there
    assert hub.start_server(alice, "alice").ready
    source = write_as_owner(hub, "alice", SOURCE, nbformat.writes(widget_notebook("one")).encode())

    # she publishes it from her home page
    context, page = login_page(browser, hub, "alice")
    try:
        form = page.locator('form[data-action="publish-own"]')
        form.get_by_label("Notebook, as a path in your home").fill(SOURCE)
        form.get_by_label("Title of the dashboard").fill("Weekly report")
        form.get_by_label("URL name (lowercase letters, digits and hyphens)").fill(URL_NAME)
        form.get_by_role("button", name="Publish").click()
        entry = page.locator(f'.workbench-publication[data-server="{SERVER}"]')
        expect(entry).to_contain_text("version 1", timeout=120_000)
        expect(entry).to_contain_text(SOURCE)
    finally:
        context.close()
    wait_until_ready(hub, alice, "alice", SERVER)
    base = hub.user_url("alice", SERVER)
    assert hub.hub_api(alice, "POST", f"/shares/alice/{SERVER}", json={"user": "bob"}).status_code == 200

    # bob finds it under "Shared with me", by its title, and uses its button: the click runs in the kernel
    bob_home = bob.get(f"{hub.url}/hub/home", timeout=30).text
    assert re.search(rf'data-shared-server="alice/{SERVER}" href="[^"]+">Weekly report<', bob_home), bob_home[-2000:]
    context, page = login_page(browser, hub, "bob")
    try:
        page.goto(base)
        authorize = page.get_by_role("button", name="Authorize")
        if authorize.count():
            authorize.click()  # JupyterHub asks once before opening a server someone shared
        button = page.get_by_role("button", name="Count one")
        expect(button).to_be_visible(timeout=120_000)
        button.click()
        expect(page.get_by_role("button", name="Counted by the kernel")).to_be_visible(timeout=30_000)
    finally:
        context.close()

    # the restriction of published servers applies: no code, Lab, terminals or files for the viewer
    for path in ("lab", "tree", "api/contents", "api/terminals", "api/kernels", f"files/{SOURCE}",
                 "files/dashboards/published/weekly-report.ipynb", "voila/tree", "voila/render/" + SOURCE):
        response = bob.get(base + path, timeout=30)
        assert response.status_code == 403, (path, response.status_code, response.text[:200])
    # carol, with whom nothing is shared, is refused and learns nothing of the page
    refused = open_page(carol, base)
    assert refused.status_code in (403, 404) and "Weekly report" not in refused.text
    assert f"alice/{SERVER}" not in carol.get(f"{hub.url}/hub/home", timeout=30).text

    # alice edits her notebook: viewers still get the published copy
    source.write_bytes(nbformat.writes(widget_notebook("two")).encode())
    assert "version one" in page_text(bob, base)
    # she republishes it: same address, same viewers, the new version
    response = publish(hub, alice, notebook=SOURCE, title="Weekly report", url_name=URL_NAME, republish=True)
    assert response.status_code == 200, response.text
    assert response.json()["publication"]["version"] == 2
    wait_until_ready(hub, alice, "alice", SERVER)
    text = page_text(bob, base)
    assert "version two" in text and "version one" not in text, text[:500]
    assert "version 2" in alice.get(f"{hub.url}/hub/home", timeout=30).text

    # unpublished: removed with its shares, for bob too
    removed = hub.hub_api(alice, "DELETE", f"/users/alice/servers/{SERVER}", json={"remove": True})
    assert removed.status_code in (202, 204), removed.text
    wait_until(lambda: SERVER not in hub.hub_api(alice, "GET", "/users/alice").json()["servers"])
    assert "version two" not in page_text(bob, base)
    assert f"alice/{SERVER}" not in bob.get(f"{hub.url}/hub/home", timeout=30).text
    assert f'data-server="{SERVER}"' not in alice.get(f"{hub.url}/hub/home", timeout=30).text


def test_a_hostile_own_notebook_cannot_act_as_its_viewer(hub, browser):
    """The attack of tests/security/test_origins.py, from a notebook mallory writes and publishes herself."""
    mallory = hub.signup_and_login("mallory")
    victor = hub.signup_and_login("victor")
    assert hub.start_server(victor, "victor").ready
    assert hub.start_server(mallory, "mallory").ready
    notebook = write_as_owner(hub, "mallory", "innocent.ipynb", nbformat.writes(widget_notebook("one")).encode())
    plant_hostile_cell(notebook, hub.url, "victor", hub.user_url("victor"))
    published = publish(hub, mallory, notebook="innocent.ipynb", title="Innocent", url_name="innocent")
    assert published.status_code == 200, published.text
    wait_until_ready(hub, mallory, "mallory", "dash-innocent")
    assert hub.hub_api(mallory, "POST", "/shares/mallory/dash-innocent", json={"user": "victor"}).status_code == 200
    tokens_before = own_api_tokens(hub, victor, "victor")

    context, page = login_page(browser, hub, "victor")
    try:
        page.goto(hub.user_url("mallory", "dash-innocent"))
        authorize = page.get_by_role("button", name="Authorize")
        if authorize.count():
            authorize.click()
        page.wait_for_function("(document.getElementById('hostile-results') || {textContent: ''})"
                               ".textContent.startsWith('{')", timeout=120_000)
        results = json.loads(page.locator("#hostile-results").text_content())
    finally:
        context.close()

    assert set(results) >= {"hub_api_user", "hub_api_new_token", "victim_files", "victim_socket"}, results
    assert all(outcome.startswith("blocked") for outcome in results.values()), results
    assert own_api_tokens(hub, victor, "victor") == tokens_before  # nothing was made in victor's name
    token = hub.hub_api(victor, "POST", "/users/victor/tokens", json={"note": "check"}).json()["token"]
    kernels = requests.get(f"{hub.user_url('victor')}api/kernels", headers={"Authorization": f"token {token}"},
                           timeout=30).json()
    assert kernels == []  # and nothing runs on his server


def own_api_tokens(hub: Hub, browser: requests.Session, user: str) -> list[str]:
    """The tokens made in the user's name through the hub's API (not those of servers they logged in to)."""
    tokens = hub.hub_api(browser, "GET", f"/users/{user}/tokens").json()["api_tokens"]
    return [token["id"] for token in tokens if "/user/" not in (token["oauth_client"] or "")]
