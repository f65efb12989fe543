"""Kernel websockets that send each message at once (Nagle's algorithm off), for widgets that answer clicks.

Tornado leaves Nagle's algorithm on for websockets unless the handler turns it off (``set_nodelay``), and
jupyter_server's kernel websocket does not. A widget round trip ends with several small frames written back to
back (the kernel's ``busy`` status, the widget's answer, ``idle``): with Nagle on, a frame written while an
earlier one is unacknowledged waits for that ACK, which the browser's side may delay by tens of milliseconds.
``benchmarks/json_viewer.py`` measures this connection class against jupyter_server's own, side by side.
Configured for users' servers in ``user_server/jupyter_config/jupyter_server_config.py``.
"""

from __future__ import annotations

from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection


class PromptKernelWebsocketConnection(ZMQChannelsWebsocketConnection):
    """jupyter_server's kernel websocket connection with TCP_NODELAY set on the socket to the browser."""

    def connect(self):
        self.websocket_handler.set_nodelay(True)
        return super().connect()
