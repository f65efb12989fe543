"""Access ends when it should: a viewer whose share is revoked loses the dashboard they already have open, its
kernel connection included, within the revocation time; the viewers still allowed keep theirs.

The published server's auth answers a request once, and a kernel websocket is one request that can stay open
for hours: without the server asking the hub again (user_server/kernel_websocket.py, AccessWatch), the revoked
viewer's widgets would keep working as long as the page stayed open.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
import requests
import websocket

from testing.hub import Hub
from tests.hub.test_sharing import KERNEL_ID, is_dashboard, open_page, wait_until, wait_until_ready

pytestmark = [pytest.mark.hub, pytest.mark.slow]

SERVER = "dash-query-optimization"
REVOCATION_SECONDS = 3  # short, so the test waits little; the server checks every this many seconds
# Allowance above the revocation time: one request to the hub, the close handshake, and this test's polling.
SLACK_SECONDS = 2.0
POLICY_VIOLATION = 1008  # RFC 6455: what the server closes a connection with when its user lost access


class OpenKernel:
    """A viewer's open kernel websocket, as their page holds it: widget messages go through until it closes."""

    def __init__(self, browser: requests.Session, server_url: str, page_html: str):
        self.kernel_id = KERNEL_ID.search(page_html).group(0)
        cookies = "; ".join(f"{c.name}={c.value}" for c in browser.cookies if c.path != "/hub/")
        url = f"{server_url.replace('http', 'ws', 1)}api/kernels/{self.kernel_id}/channels"
        self.socket = websocket.create_connection(url, cookie=cookies, timeout=30)
        self.close_code: int | None = None

    def answers(self, timeout: float = 30) -> bool:
        """Send a widget message (a comm_info_request, which viewers may send) and wait for its reply."""
        msg_id = uuid.uuid4().hex
        header = {"msg_id": msg_id, "msg_type": "comm_info_request", "username": "viewer", "session": "s",
                  "version": "5.3"}
        self.socket.send(json.dumps({"channel": "shell", "header": header, "parent_header": {}, "metadata": {},
                                     "content": {}}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._receive(deadline):
                return False
            if self._last.get("parent_header", {}).get("msg_id") == msg_id:
                return True
        return False

    def wait_closed(self, timeout: float) -> bool:
        """Read until the server closes the connection; False if it is still open after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if not self._receive(deadline):
                    return True
            except websocket.WebSocketTimeoutException:
                return False
        return False

    def _receive(self, deadline: float) -> bool:
        """One frame; False when it closes the connection (its code kept)."""
        self.socket.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            opcode, data = self.socket.recv_data(control_frame=True)
        except websocket.WebSocketConnectionClosedException:
            return False
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            self.close_code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
            return False
        if opcode == websocket.ABNF.OPCODE_TEXT:
            self._last = json.loads(data)
        else:
            self._last = {}
        return True

    def close(self) -> None:
        self.socket.close()


@pytest.fixture
def hub(tmp_path):
    hub = Hub(tmp_path / "hub", extra_env={
        "WORKBENCH_SHARE_REVOCATION_SECONDS": str(REVOCATION_SECONDS),
        # as in production: the viewer's page takes a kernel that already ran the dashboard, and a new one
        # takes its place, which must survive the revocation
        "WORKBENCH_DASHBOARD_POOL_SIZE": "1",
    })
    yield hub
    leftovers = hub.stop()
    assert not leftovers, f"the hub left processes behind: {leftovers}"


def server_url(hub: Hub, model: dict) -> str:
    """Where a server answers, as the hub's API says: a full URL when users' servers have origins of their own."""
    return model["url"] if model["url"].startswith("http") else hub.url + model["url"]


def kernel_model(browser: requests.Session, base: str, kernel_id: str) -> requests.Response:
    return browser.get(f"{base}api/kernels/{kernel_id}", timeout=30)


def test_a_revoked_viewers_open_kernel_connection_is_closed_and_its_kernel_shut_down(hub):
    alice, bob, carol = (hub.signup_and_login(name) for name in ("alice", "bob", "carol"))
    started = hub.hub_api(alice, "POST", f"/users/alice/servers/{SERVER}")
    assert started.status_code in (201, 202), started.text
    base = server_url(hub, wait_until_ready(hub, alice, "alice", SERVER))
    for viewer in ("bob", "carol"):
        shared = hub.hub_api(alice, "POST", f"/shares/alice/{SERVER}", json={"user": viewer})
        assert shared.status_code == 200, shared.text
    bob_page, carol_page = open_page(bob, base), open_page(carol, base)
    assert is_dashboard(bob_page) and is_dashboard(carol_page)
    assert is_dashboard(open_page(alice, base))  # the owner reads kernels' models below

    bob_kernel, carol_kernel = OpenKernel(bob, base, bob_page.text), OpenKernel(carol, base, carol_page.text)
    try:
        assert bob_kernel.kernel_id != carol_kernel.kernel_id
        # allowed viewers keep their connections through several checks
        time.sleep(2 * REVOCATION_SECONDS + 1)
        assert bob_kernel.answers() and carol_kernel.answers()

        revoked = hub.hub_api(alice, "PATCH", f"/shares/alice/{SERVER}", json={"user": "bob"})
        assert revoked.status_code == 200, revoked.text
        began = time.monotonic()
        assert bob_kernel.wait_closed(REVOCATION_SECONDS + SLACK_SECONDS), (
            f"bob's kernel websocket is still open {REVOCATION_SECONDS + SLACK_SECONDS} s after the revoke")
        print(f"bob's connection closed {time.monotonic() - began:.1f} s after the revoke "
              f"(revocation time {REVOCATION_SECONDS} s)")
        assert bob_kernel.close_code == POLICY_VIOLATION

        # his kernel is gone, and with it whatever his page held (a kernel takes up to jupyter_client's 5 s
        # shutdown wait to exit; 0.9 s here); carol's connection and kernel are untouched
        wait_until(lambda: kernel_model(alice, base, bob_kernel.kernel_id).status_code == 404, timeout=10)
        assert carol_kernel.answers()
        assert kernel_model(alice, base, carol_kernel.kernel_id).status_code == 200
        # opening the page again is refused too (the server's own auth, within the same time)
        assert not is_dashboard(open_page(bob, base))
    finally:
        bob_kernel.close()
        carol_kernel.close()
