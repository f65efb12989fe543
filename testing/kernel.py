"""Code run in a user's own kernel on a real hub, the way a notebook cell runs: an API token the user made for
themselves, a kernel started on their server, an ``execute_request`` over the kernel's websocket. What the code
prints comes back; what the hub and the OS let that kernel do is what the user can do."""

from __future__ import annotations

import json
import textwrap
import uuid

import requests
import websocket

from testing.hub import Hub


class KernelError(AssertionError):
    """The cell raised: its exception name and value, and the traceback."""


class UserKernel:
    def __init__(self, hub: Hub, browser: requests.Session, username: str, server: str = ""):
        self.hub, self.username = hub, username
        made = hub.hub_api(browser, "POST", f"/users/{username}/tokens", json={"note": "kernel test"})
        assert made.status_code in (200, 201), made.text
        self.token = made.json()["token"]
        self.base = hub.user_url(username, server)
        started = requests.post(f"{self.base}api/kernels", headers=self.headers, json={"name": "python3"}, timeout=60)
        assert started.status_code == 201, (started.status_code, started.text[:500])
        self.kernel_id = started.json()["id"]
        self.connect()

    def connect(self) -> None:
        """(Re)open the kernel's websocket, as a page does after its connection dropped."""
        ws_url = self.base.replace("http://", "ws://") + f"api/kernels/{self.kernel_id}/channels"
        self.socket = websocket.create_connection(ws_url, header=[f"Authorization: token {self.token}"], timeout=120)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def run(self, code: str, timeout: float = 120) -> str:
        """Run ``code`` (dedented) and return what it printed; raise :class:`KernelError` if it raised."""
        msg_id = uuid.uuid4().hex
        self.socket.settimeout(timeout)
        self.socket.send(json.dumps({
            "header": {"msg_id": msg_id, "username": self.username, "session": uuid.uuid4().hex,
                       "msg_type": "execute_request", "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": textwrap.dedent(code), "silent": False, "store_history": False,
                        "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
        }))
        printed: list[str] = []
        error: dict | None = None
        while True:
            message = json.loads(self.socket.recv())
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "stream":
                printed.append(content["text"])
            elif kind == "error":
                error = content
            elif kind == "status" and content["execution_state"] == "idle":
                break
        if error is not None:
            raise KernelError(f"{error['ename']}: {error['evalue']}\n" + "\n".join(error.get("traceback", [])))
        return "".join(printed)

    def close(self) -> None:
        self.socket.close()
        requests.delete(f"{self.base}api/kernels/{self.kernel_id}", headers=self.headers, timeout=30)
