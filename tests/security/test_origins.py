"""A hostile published page: alice edits the dashboard she publishes so that it carries her own script, and
shares it with bob. When bob opens it, the script tries to act as bob on the hub and on bob's own server.

Each user's servers have an origin of their own (``<user>.hub.localhost``): the browser keeps alice's script
away from bob's login on the hub and from bob's server. The same attack on a hub whose servers share the hub's
origin (``WORKBENCH_USER_SUBDOMAINS=false``) is run too, to show the probe is real: there it opens a
websocket on bob's own server as bob.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import nbformat
import pytest
import requests

from testing.hub import Hub

SERVER = "dash-caching"
NOTEBOOK = "caching.ipynb"
PASSWORD = "correct horse battery"

# Every attempt records what it got; "read" means the page saw the answer, which only same-origin code may.
HOSTILE_SCRIPT = """
<div id="hostile-results">running</div>
<script>
(async () => {
  const hub = HUB_URL, victim = VICTIM, victimServer = VICTIM_SERVER;
  const results = {};
  async function attempt(name, url, options) {
    try {
      const response = await fetch(url, Object.assign({credentials: "include"}, options || {}));
      const text = await response.text();
      results[name] = "read " + response.status + " " + text.slice(0, 60);
    } catch (error) {
      results[name] = "blocked " + error.name;
    }
  }
  await attempt("hub_api_user", hub + "/hub/api/user");
  // a request without custom headers needs no preflight: it is sent, and the hub must refuse it
  await attempt("hub_api_new_token", hub + "/hub/api/users/" + victim + "/tokens",
                {method: "POST", body: "{}", headers: {"Content-Type": "text/plain"}});
  await attempt("victim_files", victimServer + "api/contents");
  await attempt("victim_new_kernel", victimServer + "api/kernels",
                {method: "POST", body: "{}", headers: {"Content-Type": "text/plain"}});
  try {
    const frame = document.createElement("iframe");
    frame.src = hub + "/hub/token";
    document.body.appendChild(frame);
    await new Promise((resolve) => { frame.onload = resolve; setTimeout(resolve, 5000); });
    const found = frame.contentDocument.querySelector("input[name=_xsrf]");
    results["hub_page_read"] = "read " + (found ? "xsrf" : frame.contentDocument.title);
  } catch (error) {
    results["hub_page_read"] = "blocked " + error.name;
  }
  // bob's own server in a frame: on a shared origin its page, cookies and XSRF token are the script's to use
  try {
    const frame = document.createElement("iframe");
    frame.src = victimServer + "lab";
    document.body.appendChild(frame);
    await new Promise((resolve) => { frame.onload = resolve; setTimeout(resolve, 5000); });
    const xsrf = (frame.contentDocument.cookie.match(/_xsrf=([^;]+)/) || [])[1] || "";
    const response = await fetch(victimServer + "api/kernels", {method: "POST", credentials: "include",
      headers: {"X-XSRFToken": decodeURIComponent(xsrf), "Content-Type": "application/json"}, body: "{}"});
    results["victim_kernel_via_frame"] = "read " + response.status;
  } catch (error) {
    results["victim_kernel_via_frame"] = "blocked " + error.name;
  }
  try {
    const socket = new WebSocket(victimServer.replace("http", "ws") + "api/events/subscribe");
    results["victim_socket"] = await new Promise((resolve) => {
      socket.onopen = () => resolve("read open");
      socket.onerror = () => resolve("blocked error");
      setTimeout(() => resolve("blocked timeout"), 5000);
    });
  } catch (error) {
    results["victim_socket"] = "blocked " + error.name;
  }
  document.getElementById("hostile-results").textContent = JSON.stringify(results);
})();
</script>
"""


def plant_hostile_cell(notebook: Path, hub_url: str, victim: str, victim_server: str) -> None:
    script = (HOSTILE_SCRIPT.replace("HUB_URL", json.dumps(hub_url)).replace("VICTIM_SERVER", json.dumps(victim_server))
              .replace("VICTIM", json.dumps(victim)))
    book = nbformat.read(notebook, as_version=4)
    book.cells.insert(0, nbformat.v4.new_code_cell(
        f"from IPython.display import HTML, display\ndisplay(HTML({script!r}))"))
    nbformat.write(book, notebook)


def api_tokens(hub: Hub, browser) -> list[str]:
    """The tokens made in the user's name through the hub's API (not those of servers they logged in to)."""
    tokens = hub.hub_api(browser, "GET", "/users/bob/tokens").json()["api_tokens"]
    return [token["id"] for token in tokens if "/user/" not in (token["oauth_client"] or "")]


def wait_ready(hub: Hub, browser, user: str, server: str = "") -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        model = hub.hub_api(browser, "GET", f"/users/{user}").json()["servers"].get(server, {})
        if model.get("ready"):
            return
        time.sleep(0.5)
    raise AssertionError(f"{user}/{server} not ready:\n{hub.log()[-3000:]}")


@pytest.mark.parametrize("subdomains", ["true", "false"], ids=["own-origins", "shared-origin"])
def test_a_hostile_published_page_cannot_act_as_its_viewer(start_hub, browser, subdomains):
    hub = start_hub(WORKBENCH_USER_SUBDOMAINS=subdomains, WORKBENCH_PLAYGROUND="false")
    alice = hub.signup_and_login("alice")
    bob = hub.signup_and_login("bob")
    assert hub.start_server(bob, "bob").ready
    assert hub.hub_api(alice, "POST", f"/users/alice/servers/{SERVER}").status_code in (201, 202)
    wait_ready(hub, alice, "alice", SERVER)
    assert hub.hub_api(alice, "POST", f"/shares/alice/{SERVER}", json={"user": "bob"}).status_code == 200
    # alice's own edit of the page she publishes (her home is hers to change)
    plant_hostile_cell(hub.home_of("alice") / "dashboards" / NOTEBOOK, hub.url, "bob",
                       hub.user_url("bob"))
    tokens_before = api_tokens(hub, bob)

    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{hub.url}/hub/login")
        page.fill("#username_input", "bob")
        page.fill("#password_input", PASSWORD)
        page.click("#login_submit")
        page.wait_for_url(lambda url: "/hub/login" not in url, timeout=60_000)
        page.goto(hub.user_url("alice", SERVER))
        authorize = page.get_by_role("button", name="Authorize")
        if authorize.count():
            authorize.click()  # JupyterHub asks once before opening a server someone shared
        results_box = page.locator("#hostile-results")
        results_box.wait_for(timeout=120_000)
        page.wait_for_function("document.getElementById('hostile-results').textContent.startsWith('{')",
                               timeout=60_000)
        results = json.loads(results_box.text_content())
    finally:
        context.close()

    tokens_after = api_tokens(hub, bob)
    token = hub.hub_api(bob, "POST", "/users/bob/tokens", json={"note": "check"}).json()["token"]
    bob_kernels = requests.get(f"{hub.user_url('bob')}api/kernels", headers={"Authorization": f"token {token}"},
                               timeout=30).json()
    if subdomains == "true":
        assert all(outcome.startswith("blocked") for outcome in results.values()), results
        assert tokens_after == tokens_before  # nothing was made in bob's name
        assert bob_kernels == []  # and nothing runs on his server
    else:
        # the same script on a shared origin opens a websocket on bob's own server as bob: the probe is real
        assert results["victim_socket"] == "read open", results
