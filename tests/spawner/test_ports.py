"""A user's server is handed to the proxy only on a port its own account listens on: a process of another account
that takes the port first (by chance, or a hostile user's on purpose) would otherwise receive the user's traffic,
because the hub takes any HTTP answer at the server's address for the server's."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from contextlib import contextmanager
from typing import Iterator

import pytest
import requests
from tornado.web import HTTPError

from spawner import accounts, ports
from spawner.workbench import SystemUserSpawner
from testing.isolation import TestAccounts
from testing.support import free_port
from tests.spawner.mocking import hub_start, make_spawner

NOBODY = 65534
# Like a single-user server: binds where the hub said, answers with whose server it is, exits if the port is taken.
SERVER = """
import http.server, os, urllib.parse
url = urllib.parse.urlsplit(os.environ["JUPYTERHUB_SERVICE_URL"])
class Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("server of " + os.environ["JUPYTERHUB_USER"]).encode()
        self.send_response(200); self.end_headers(); self.wfile.write(body)
http.server.HTTPServer((url.hostname, url.port), Answer).serve_forever()
"""
SQUATTER = """
import http.server, socket, sys
class Server(http.server.HTTPServer):
    address_family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
class Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"the squatter")
server = Server((sys.argv[1], int(sys.argv[2])), Answer)
print("listening", flush=True)
server.serve_forever()
"""

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="other accounts' sockets need root to make")


@contextmanager
def listening_as(uid: int, address: str, port: int) -> Iterator[None]:
    """An HTTP server of account ``uid`` on ``address``:``port`` for the block's duration."""
    squatter = subprocess.Popen(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", sys.executable,
                                 "-c", SQUATTER, address, str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert squatter.stdout.readline().strip() == "listening"
        yield
    finally:
        squatter.kill()
        squatter.wait()


@needs_root
def test_the_kernel_names_the_account_of_every_listener_and_where_it_takes_connections():
    port = free_port()
    own = socket.create_server(("127.0.0.1", port))
    try:
        assert ports.holders("127.0.0.1", port) == {0}
        assert ports.holders("127.0.0.2", port) == set(), "a listener on 127.0.0.1 takes nothing for 127.0.0.2"
        assert ports.holders("0.0.0.0", port) == {0}, "a server on every address is in the way of any listener"
    finally:
        own.close()
    assert ports.holders("127.0.0.1", port) == set()

    other = free_port()
    with listening_as(NOBODY, "::", other):
        assert ports.holders("127.0.0.1", other) == {NOBODY}, "a socket on :: takes IPv4 connections too"
        [listener] = ports.listeners(other)
        assert str(listener.address) == "::" and listener.uid == NOBODY


async def test_accepts_says_whether_anything_takes_connections_at_an_address():
    port = free_port()
    assert not await ports.accepts("127.0.0.1", port)
    listening = socket.create_server(("127.0.0.1", port))
    try:
        assert await ports.accepts("127.0.0.1", port)
        assert await ports.accepts("", port), "no address: the loopback one, as the hub connects"
    finally:
        listening.close()


@pytest.fixture
def system_spawner(tmp_path):
    test_accounts = TestAccounts(tmp_path / "state")
    made = []

    def make(**traits) -> SystemUserSpawner:
        spawner = make_spawner(SystemUserSpawner, "alice", tmp_path, account_prefix=test_accounts.prefix,
                               homes_dir=str(test_accounts.homes_dir), playground_enabled=False,
                               cmd=[sys.executable, "-c", SERVER], **traits)
        made.append(spawner)
        return spawner

    yield make
    for spawner in made:
        if spawner.proc is not None and spawner.proc.poll() is None:
            spawner.proc.kill()
            spawner.proc.wait()
        spawner.control_group.remove()
    test_accounts.remove()


@needs_root
async def test_a_port_taken_by_another_account_before_the_server_binds_it_is_left_for_another(system_spawner):
    taken = free_port()
    with listening_as(NOBODY, "127.0.0.1", taken):
        spawner = system_spawner(port=taken)  # as if the free port the hub chose had been taken in the meantime
        ip, port = await hub_start(spawner)
        assert port != taken
        account = accounts.lookup(spawner.account_name)
        assert ports.holders(ip, port) == {account.uid}
        assert requests.get(f"http://{ip}:{port}/", timeout=10).text == "server of alice"
        assert requests.get(f"http://127.0.0.1:{taken}/", timeout=10).text == "the squatter", "left alone"


@needs_root
async def test_a_server_whose_every_port_is_taken_fails_with_a_message_and_runs_nowhere(system_spawner):
    taken = free_port()
    with listening_as(NOBODY, "127.0.0.1", taken):
        spawner = system_spawner(port=taken, port_attempts=1)
        with pytest.raises(HTTPError) as refused:
            await hub_start(spawner)
        assert refused.value.status_code == 503
        assert "could not get a port of its own" in refused.value.log_message
        assert spawner.proc.poll() is not None, "the server that lost its port is not left running"
