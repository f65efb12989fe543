"""Sharing a published dashboard through the real hub: exactly the people chosen see it, and they see only it.

One hub for the module: alice publishes the query-optimization dashboard once; each test shares it with users
of its own (the load-test test publishes that dashboard too).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from html import unescape

import psutil
import pytest
import requests
import websocket
from playwright.sync_api import expect

from hub.settings import load
from testing.hub import Hub, xsrf_from
from tests.support import artifact_path

pytestmark = [pytest.mark.hub, pytest.mark.slow]

SERVER = "dash-query-optimization"
DASHBOARD_TEXT = "Run one workload under several loading strategies"
REVOCATION_SECONDS = load({}).share_revocation_seconds  # the documented default the hub runs with
PASSWORD = "correct horse battery"  # the harness signs everyone up with it
SHORTEST_CODE_SECONDS = 60  # JupyterHub's lower bound for a share code's lifetime
ADMIN = "root-admin"


@dataclass
class Published:
    hub: Hub
    alice: requests.Session
    base: str  # the published server's URL
    early_code: dict  # made when the module started, so its expiry is reached while other tests run

    def share_with(self, user: str) -> None:
        response = self.hub.hub_api(self.alice, "POST", f"/shares/alice/{SERVER}", json={"user": user})
        assert response.status_code == 200, response.text

    def make_code(self, expires_in: int) -> dict:
        response = self.hub.hub_api(self.alice, "POST", f"/share-codes/alice/{SERVER}", json={"expires_in": expires_in})
        assert response.status_code == 200, response.text
        return response.json()


def wait_until_ready(hub: Hub, browser: requests.Session, user: str, server: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        model = hub.hub_api(browser, "GET", f"/users/{user}").json()["servers"].get(server, {})
        if model.get("ready"):
            return model
        time.sleep(0.5)
    raise AssertionError(f"{user}/{server} not ready after {timeout} s:\n{hub.log()[-3000:]}")


def wait_until(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def sharing_hub(tmp_path_factory):
    """The module's hub, with an admin who can make groups."""
    hub = Hub(tmp_path_factory.mktemp("sharing-hub"), extra_env={"WORKBENCH_ADMIN_USERS": ADMIN})
    yield hub
    leftovers = hub.stop()
    assert not leftovers, f"the hub left processes behind: {leftovers}"


@pytest.fixture(scope="module")
def admin(sharing_hub: Hub) -> requests.Session:
    return sharing_hub.admin_login(ADMIN)


@pytest.fixture(scope="module")
def published(sharing_hub: Hub) -> Published:
    hub = sharing_hub
    alice = hub.signup_and_login("alice")
    response = hub.hub_api(alice, "POST", f"/users/alice/servers/{SERVER}")
    assert response.status_code in (201, 202), response.text
    wait_until_ready(hub, alice, "alice", SERVER)
    published = Published(hub, alice, hub.user_url("alice", SERVER), early_code={})
    published.early_code = published.make_code(SHORTEST_CODE_SECONDS)
    return published


def open_page(browser: requests.Session, url: str) -> requests.Response:
    """GET as a browser would, confirming JupyterHub's one-time "authorize access" page for a shared server."""
    response = browser.get(url, timeout=120)
    if "/hub/api/oauth2/authorize" in response.url and response.status_code == 200 and "<form" in response.text:
        fields = re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', response.text)
        response = browser.post(response.url, data=[(k, unescape(v)) for k, v in fields], timeout=120)
    return response


def is_dashboard(response: requests.Response) -> bool:
    return response.status_code == 200 and DASHBOARD_TEXT in response.text


def accept_code(hub: Hub, browser: requests.Session, code: dict) -> requests.Response:
    page = browser.get(f"{hub.url}{code['accept_url']}", timeout=30)
    if page.status_code != 200:
        return page
    return browser.post(
        f"{hub.url}/hub/accept-share", data={"_xsrf": xsrf_from(page.text), "code": code["code"]}, timeout=60
    )


KERNEL_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class KernelSocket:
    """The kernel websocket of a Voila page a viewer opened, spoken to directly as a hostile page could."""

    def __init__(self, browser: requests.Session, server_url: str, page_html: str):
        self.kernel_id = KERNEL_ID.search(page_html).group(0)
        self.cookies = "; ".join(f"{c.name}={c.value}" for c in browser.cookies if c.path != "/hub/")
        self.url = f"{server_url.replace('http', 'ws', 1)}api/kernels/{self.kernel_id}/channels"
        self.received: list[dict] = []

    def __enter__(self) -> "KernelSocket":
        self.socket = websocket.create_connection(self.url, cookie=self.cookies, timeout=30)
        return self

    def __exit__(self, *exc) -> None:
        self.socket.close()

    def send(self, msg_type: str, content: dict, metadata: dict | None = None) -> str:
        msg_id = uuid.uuid4().hex
        header = {"msg_id": msg_id, "msg_type": msg_type, "username": "viewer", "session": "s", "version": "5.3"}
        self.socket.send(json.dumps({"channel": "shell", "header": header, "parent_header": {},
                                     "metadata": metadata or {}, "content": content}))
        return msg_id

    def wait_for(self, condition, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.socket.settimeout(max(0.1, deadline - time.monotonic()))
            message = json.loads(self.socket.recv())
            self.received.append(message)
            if condition(message):
                return message
        raise AssertionError(f"no such message within {timeout} s")

    def collect(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                self.socket.settimeout(max(0.1, deadline - time.monotonic()))
                self.received.append(json.loads(self.socket.recv()))
        except websocket.WebSocketTimeoutException:
            pass


def test_shared_viewer_uses_the_dashboard_and_reaches_nothing_else(published, tmp_path):
    hub, alice = published.hub, published.alice
    bob = hub.signup_and_login("bob")
    carol = hub.signup_and_login("carol")
    published.share_with("bob")

    # the owner's home page lists who it is shared with; bob's lists it under "Shared with me"
    home = alice.get(f"{hub.url}/hub/home", timeout=30).text
    assert f'data-server="{SERVER}"' in home and 'data-user="bob"' in home
    bob_home = bob.get(f"{hub.url}/hub/home", timeout=30).text
    link = re.search(rf'data-shared-server="alice/{SERVER}" href="([^"]+)"', bob_home)
    assert link, bob_home[-3000:]

    page = open_page(bob, f"{hub.url}{link.group(1)}")
    assert is_dashboard(page), (page.status_code, page.url, page.text[:500])

    # not shared: refused, and the page says nothing of the dashboard
    refused = open_page(carol, published.base)
    assert not is_dashboard(refused) and refused.status_code in (403, 404)

    # everything else on the published server is closed, for the viewer as for anyone
    for path in ("lab", "tree", "api/contents", "api/contents/dashboards", "api/terminals", "api/sessions",
                 "api/kernels", "files/dashboards/query_optimization.ipynb", "voila/tree",
                 "voila/render/dashboards/other.ipynb", "terminals/1"):
        response = bob.get(published.base + path, timeout=30)
        assert response.status_code == 403, (path, response.status_code, response.text[:200])
    server_xsrf = next((c.value for c in bob.cookies if c.name == "_xsrf" and c.path.startswith("/user/alice/")), "")
    started = bob.post(published.base + "api/kernels", headers={"X-XSRFToken": server_xsrf}, timeout=30)
    assert started.status_code == 403 and "only shows the published dashboard" in started.text
    # ... and alice's own server (JupyterLab, files) is not shared at all
    assert hub.start_server(alice, "alice").ready
    for path in ("lab", "api/contents", "api/status"):
        response = bob.get(f"{hub.user_url('alice')}{path}", timeout=30)
        assert response.status_code in (403, 404) and "JupyterLab" not in response.text, (path, response.status_code)

    # the page's own kernel passes widget messages but drops code to execute
    marker = tmp_path / "executed-by-viewer"
    with KernelSocket(bob, published.base, page.text) as kernel:
        execute = kernel.send("execute_request", {"code": f"open({str(marker)!r}, 'w').write('x')", "silent": False})
        probe = kernel.send("comm_info_request", {})
        kernel.wait_for(lambda message: message["parent_header"].get("msg_id") == probe)
        kernel.collect(seconds=1)  # an execute_request sent before the probe would have been answered by now
    assert any(m["msg_type"] == "comm_info_reply" for m in kernel.received)
    assert not [m for m in kernel.received if m["parent_header"].get("msg_id") == execute]
    assert not marker.exists()
    kernel_id = kernel.kernel_id
    # the page's kernel can be read (Voila's widget manager does) but not stopped, restarted or interrupted
    assert bob.get(f"{published.base}api/kernels/{kernel_id}", timeout=30).status_code == 200
    for method, path in (("DELETE", ""), ("POST", "/restart"), ("POST", "/interrupt")):
        response = bob.request(method, f"{published.base}api/kernels/{kernel_id}{path}",
                               headers={"X-XSRFToken": server_xsrf}, timeout=30)
        assert response.status_code == 403, (method, path, response.status_code)

    # the published server tells dashboards they are viewed (no actions that spend the owner's AWS); Lab doesn't
    environments = {}
    for process in hub.descendants():
        try:
            if "jupyterhub.singleuser" in " ".join(process.cmdline()):
                environ = process.environ()
                environments[environ.get("JUPYTERHUB_SERVER_NAME", "")] = environ
        except psutil.Error:
            continue
    assert environments[SERVER].get("WORKBENCH_DASHBOARD_VIEWER") == "1"
    assert "WORKBENCH_DASHBOARD_VIEWER" not in environments[""]


def access_probe(browser: requests.Session, published: Published) -> int:
    """A cheap request the server authorizes like the page itself (a kernel websocket that does not exist):
    404 while the viewer has access, 403 or a redirect to the hub once they do not."""
    url = f"{published.base}api/kernels/{uuid.uuid4()}/channels"
    return browser.get(url, timeout=30, allow_redirects=False).status_code


def wait_until_refused(browser: requests.Session, published: Published, who: str) -> None:
    """Probe until the server refuses the viewer; fail if that takes longer than the documented time."""
    began = time.monotonic()
    while access_probe(browser, published) == 404:
        assert time.monotonic() - began < REVOCATION_SECONDS + 5, f"{who}: still allowed after the documented time"
        time.sleep(0.5)
    print(f"{who} refused after {time.monotonic() - began:.1f} s (documented: {REVOCATION_SECONDS} s)")


def test_a_revoked_viewer_is_refused_within_the_documented_time(published):
    hub = published.hub
    dave = hub.signup_and_login("dave")
    published.share_with("dave")
    assert is_dashboard(open_page(dave, published.base))
    assert access_probe(dave, published) == 404

    revoked = hub.hub_api(published.alice, "PATCH", f"/shares/alice/{SERVER}", json={"user": "dave"})
    assert revoked.status_code == 200, revoked.text
    wait_until_refused(dave, published, "revoked viewer")
    assert not is_dashboard(open_page(dave, published.base))
    dave_home = dave.get(f"{hub.url}/hub/home", timeout=30).text
    assert f"alice/{SERVER}" not in dave_home


def test_a_group_share_admits_its_members_until_they_leave_the_group_or_the_share_is_revoked(published, admin):
    """Works only through hub/sharing/rules.py: JupyterHub 6.1.1 leaves group shares out of members' tokens."""
    hub = published.hub
    kim, mia, leo = (hub.signup_and_login(name) for name in ("kim", "mia", "leo"))
    assert hub.hub_api(admin, "POST", "/groups/analysts").status_code == 201
    assert hub.hub_api(admin, "POST", "/groups/analysts/users", json={"users": ["kim", "mia"]}).status_code == 200
    response = hub.hub_api(published.alice, "POST", f"/shares/alice/{SERVER}", json={"group": "analysts"})
    assert response.status_code == 200, response.text

    assert 'data-group="analysts"' in published.alice.get(f"{hub.url}/hub/home", timeout=30).text
    assert f'data-shared-server="alice/{SERVER}"' in kim.get(f"{hub.url}/hub/home", timeout=30).text
    assert is_dashboard(open_page(kim, published.base)) and is_dashboard(open_page(mia, published.base))
    assert f'data-shared-server="alice/{SERVER}"' not in leo.get(f"{hub.url}/hub/home", timeout=30).text
    refused = open_page(leo, published.base)
    assert not is_dashboard(refused) and refused.status_code in (403, 404)

    # leaving the group: refused within the documented time, while the group's other members keep it
    left = hub.hub_api(admin, "DELETE", "/groups/analysts/users", json={"users": ["kim"]})
    assert left.status_code == 200, left.text
    wait_until_refused(kim, published, "member who left the group")
    assert access_probe(mia, published) == 404
    assert f"alice/{SERVER}" not in kim.get(f"{hub.url}/hub/home", timeout=30).text

    # revoking the group's share: its members are refused too
    revoked = hub.hub_api(published.alice, "PATCH", f"/shares/alice/{SERVER}", json={"group": "analysts"})
    assert revoked.status_code == 200, revoked.text
    wait_until_refused(mia, published, "member of a revoked group")
    assert not is_dashboard(open_page(mia, published.base))


def test_only_published_dashboards_can_be_shared_through_the_api(published, admin):
    hub, alice = published.hub, published.alice
    hub.signup_and_login("olga")
    alice.get(f"{hub.url}/hub/home", timeout=30)  # the home page makes alice's default server known to the hub
    lab = "Only published dashboards can be shared: the default (JupyterLab) server of alice is not one"
    for path, body in (("/shares/alice/", {"user": "olga"}), ("/share-codes/alice/", {"expires_in": 3600}),
                       ("/shares/alice/dash-not-a-dashboard", {"user": "olga"})):
        response = hub.hub_api(alice, "POST", path, json=body)
        assert response.status_code == 403, (path, response.status_code, response.text)
        assert response.json()["message"].startswith(lab if path.endswith("/") else "Only published dashboards")
    assert hub.hub_api(alice, "GET", "/shares/alice/").json()["items"] == []
    assert hub.hub_api(alice, "GET", "/share-codes/alice/").json()["items"] == []

    # an admin keeps what JupyterHub lets admins do; and revoking is open for every server
    shared = hub.hub_api(admin, "POST", "/shares/alice/", json={"user": "olga"})
    assert shared.status_code == 200, shared.text
    revoked = hub.hub_api(alice, "PATCH", "/shares/alice/", json={"user": "olga"})
    assert revoked.status_code == 200, revoked.text
    assert hub.hub_api(alice, "GET", "/shares/alice/").json()["items"] == []


def test_only_offered_dashboards_can_be_published(published):
    hub, alice = published.hub, published.alice
    response = hub.hub_api(alice, "POST", "/users/alice/servers/dash-not-a-dashboard")
    assert response.status_code == 400
    assert response.json()["message"].startswith("No dashboard to publish as 'dash-not-a-dashboard'")
    assert "dash-not-a-dashboard" not in hub.hub_api(alice, "GET", "/users/alice").json()["servers"]

def log_in(context, hub: Hub, username: str):
    page = context.new_page()
    page.goto(f"{hub.url}/hub/login?next=/hub/home")
    page.fill("#username_input", username)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    page.wait_for_url("**/hub/home", timeout=60_000)
    return page


@pytest.mark.browser
def test_in_the_browser_owner_shares_viewer_runs_it_owner_revokes_and_publishes_another(published, admin, browser):
    hub = published.hub
    hub.signup("grace", PASSWORD)
    assert hub.hub_api(admin, "POST", "/groups/reviewers").status_code == 201
    owner_context = browser.new_context(viewport={"width": 1280, "height": 900})
    viewer_context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        viewer = log_in(viewer_context, hub, "grace")  # the hub knows people once they have logged in
        owner = log_in(owner_context, hub, "alice")
        box = owner.locator(f'.workbench-publication[data-server="{SERVER}"]')
        box.locator('input[name="share-with"]').fill("grace")
        box.get_by_role("button", name="Share", exact=True).click()
        box.locator('[data-action="revoke"][data-user="grace"]').wait_for(timeout=30_000)
        box.locator('select[name="share-kind"]').select_option("group")
        box.locator('input[name="share-with"]').fill("reviewers")
        box.get_by_role("button", name="Share", exact=True).click()
        box.locator('[data-action="revoke"][data-group="reviewers"]').click(timeout=30_000)
        box.locator('[data-action="revoke"][data-group="reviewers"]').wait_for(state="detached", timeout=30_000)
        box.get_by_role("button", name="Make a share link").click()
        link = box.locator(".workbench-share-code")
        expect(link).to_contain_text("/hub/accept-share?code=", timeout=30_000)
        code = re.search(r"code=([\w-]+)", link.inner_text()).group(1)
        box.get_by_role("button", name="Revoke unused share links").click()
        expect(link).to_have_text("Unused share links revoked.", timeout=30_000)
        accepted = accept_code(
            hub, hub.signup_and_login("judy"), {"code": code, "accept_url": f"/hub/accept-share?code={code}"}
        )
        assert accepted.status_code in (403, 404), accepted.status_code

        viewer.reload()
        refused_assets: list[str] = []
        viewer.on("response", lambda r: refused_assets.append(r.url) if r.status == 403 else None)
        viewer.locator(f'a[data-shared-server="alice/{SERVER}"]').click()
        viewer.get_by_role("button", name="Authorize").click()  # JupyterHub asks once before opening a shared server
        run = viewer.get_by_role("button", name="Run comparison")
        run.wait_for(timeout=120_000)
        run.click()  # widgets work for a viewer: the click reaches the kernel and the run's progress comes back
        viewer.wait_for_selector(".pw-progress-message:has-text('Compared 6 strategies')", timeout=240_000)
        assert refused_assets == [], refused_assets
        viewer.screenshot(path=str(artifact_path("shared-dashboard-viewer.png")))

        owner.reload()
        box.locator('[data-action="revoke"][data-user="grace"]').click()
        box.locator('[data-action="revoke"][data-user="grace"]').wait_for(state="detached", timeout=30_000)
        time.sleep(REVOCATION_SECONDS + 2)
        viewer.reload()
        expect(viewer.get_by_text(DASHBOARD_TEXT)).to_have_count(0)

        # publishing from the home page: the spawn page, then the dashboard on its own server
        owner.locator('.workbench-publication[data-server="dash-caching"] [data-action="publish"]').click()
        owner.wait_for_url("**/user/alice/dash-caching/voila/render/dashboards/caching.ipynb*", timeout=120_000)
        owner.goto(f"{hub.url}/hub/home")
        owner.locator('.workbench-publication[data-server="dash-caching"]').get_by_role(
            "button", name="Stop publishing").click()
        wait_until(lambda: "dash-caching" not in hub.hub_api(published.alice, "GET", "/users/alice").json()["servers"])
    finally:
        owner_context.close()
        viewer_context.close()


def test_a_viewer_cannot_start_a_load_test_even_with_a_forged_click(published):
    """The load-test dashboard's Start would spend the owner's AWS: off for viewers, and a click message sent
    straight to the kernel (the disabled button is only a browser-side state) is refused too."""
    hub, alice = published.hub, published.alice
    response = hub.hub_api(alice, "POST", "/users/alice/servers/dash-load-test")
    assert response.status_code in (201, 202), response.text
    wait_until_ready(hub, alice, "alice", "dash-load-test")
    ivan = hub.signup_and_login("ivan")
    assert hub.hub_api(alice, "POST", "/shares/alice/dash-load-test", json={"user": "ivan"}).status_code == 200
    server = hub.user_url("alice", "dash-load-test")
    page = open_page(ivan, server)
    assert page.status_code == 200 and "Read-only." in unescape(page.text), page.text[:500]

    with KernelSocket(ivan, server, page.text) as kernel:
        control = uuid.uuid4().hex
        kernel.send("comm_open", {"comm_id": control, "target_name": "jupyter.widget.control", "data": {}},
                    {"version": "1.0.0"})
        kernel.send("comm_msg", {"comm_id": control, "data": {"method": "request_states"}})
        states = kernel.wait_for(lambda m: m["msg_type"] == "comm_msg"
                                 and m["content"]["data"].get("method") == "update_states")["content"]["data"]["states"]
        buttons = {model["state"].get("description"): model_id for model_id, model in states.items()
                   if model["model_name"] == "ButtonModel"}
        assert states[buttons["Start"]]["state"]["disabled"] is True
        kernel.received.clear()
        click = {"method": "custom", "content": {"event": "click"}}
        kernel.send("comm_msg", {"comm_id": buttons["Start"], "data": click})
        kernel.wait_for(lambda m: m["msg_type"] == "comm_msg" and "Start is off" in json.dumps(m["content"]["data"]))
        kernel.collect(seconds=2)
    # refused with the read-only note, and no run began (a started run enables Stop)
    stop_enabled = [m for m in kernel.received if m["msg_type"] == "comm_msg"
                    and m["content"].get("comm_id") == buttons["Stop"]
                    and m["content"]["data"].get("state", {}).get("disabled") is False]
    assert stop_enabled == []


# last in the module: by now the early code's shortest lifetime (60 s) has mostly passed while other tests ran
def test_a_share_code_admits_whoever_accepts_it_until_it_expires(published):
    hub = published.hub
    erin = hub.signup_and_login("erin")
    assert not is_dashboard(open_page(erin, published.base))
    accepted = accept_code(hub, erin, published.make_code(3600))
    assert accepted.status_code == 200, accepted.text[:300]
    assert is_dashboard(open_page(erin, published.base))

    frank = hub.signup_and_login("frank")
    code = published.early_code
    expires = datetime.fromisoformat(code["expires_at"].replace("Z", "+00:00"))
    time.sleep(max(0.0, (expires - datetime.now(timezone.utc)).total_seconds()) + 1)
    late = accept_code(hub, frank, code)
    assert late.status_code in (403, 404), (late.status_code, late.text[:300])
    assert not is_dashboard(open_page(frank, published.base))
