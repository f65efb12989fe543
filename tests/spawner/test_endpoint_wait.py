"""A spawn waits for the AWS endpoint (the local AWS may still be starting): only a real HTTP answer counts."""

from __future__ import annotations

import asyncio
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from spawner.stacks import PlaygroundError
from spawner.stacks import endpoint_answers as answers
from spawner.stacks import wait_until_answering as wait_until_healthy
from testing.support import free_port


class NotFound(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_server_answering_even_404_is_up():
    server = HTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert asyncio.run(answers(f"http://127.0.0.1:{server.server_address[1]}"))
    finally:
        server.shutdown()


def test_nothing_listening_is_not_up():
    assert not asyncio.run(answers(f"http://127.0.0.1:{free_port()}"))


def test_a_port_that_accepts_but_never_answers_is_not_up():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert not asyncio.run(answers(f"http://127.0.0.1:{port}", timeout=0.5))


def test_waiting_gives_up_with_a_message_naming_the_endpoint():
    endpoint = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(PlaygroundError, match=endpoint):
        asyncio.run(wait_until_healthy(endpoint, timeout=0.5, interval=0.1))
