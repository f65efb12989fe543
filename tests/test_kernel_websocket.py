"""Users' servers send kernel messages to the browser at once (benchmarks/json_viewer.py measures the effect)."""

from __future__ import annotations

from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from traitlets.config.loader import PyFileConfigLoader

from testing.support import REPO_ROOT
from user_server.kernel_websocket import PromptKernelWebsocketConnection


class RecordingHandler:
    def __init__(self):
        self.calls = []

    def set_nodelay(self, value):
        self.calls.append(("set_nodelay", value))


def test_the_connection_turns_nagle_off_before_the_kernel_connects(monkeypatch):
    handler = RecordingHandler()
    monkeypatch.setattr(ZMQChannelsWebsocketConnection, "connect", lambda self: handler.calls.append(("connect",)))
    connection = PromptKernelWebsocketConnection.__new__(PromptKernelWebsocketConnection)
    monkeypatch.setattr(PromptKernelWebsocketConnection, "websocket_handler", handler, raising=False)
    connection.connect()
    assert handler.calls == [("set_nodelay", True), ("connect",)]


def test_users_servers_are_configured_with_it():
    folder = REPO_ROOT / "user_server" / "jupyter_config"
    config = PyFileConfigLoader("jupyter_server_config.py", path=str(folder)).load_config()
    assert config.ServerApp.kernel_websocket_connection_class == (
        f"{PromptKernelWebsocketConnection.__module__}.{PromptKernelWebsocketConnection.__name__}"
    )
