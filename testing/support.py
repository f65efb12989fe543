"""Where the repository is, free ports and waiting for servers: what every driver in this package needs."""

from __future__ import annotations

import random
import socket
import time
from pathlib import Path
from typing import Callable

REPO_ROOT = Path(__file__).resolve().parent.parent


# Ports for the tests' hubs and services come from below the kernel's ephemeral range (32768-60999 here,
# /proc/sys/net/ipv4/ip_local_port_range): a port the kernel hands out for port 0 is also what it gives the next
# outgoing connection, and a hub started a moment later found its port taken ("Address already in use").
TEST_PORTS = range(20_000, 32_000)


_handed_out: set[int] = set()  # never twice in one process: a hub asks for four at once, and binds them later


def free_port() -> int:
    for _ in range(200):
        port = random.choice(TEST_PORTS)
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            _handed_out.add(port)
            return port
    raise RuntimeError(f"no free port in {TEST_PORTS.start}-{TEST_PORTS.stop - 1}")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def wait_for(condition: Callable[[], object], timeout: float, what: str, interval: float = 0.1):
    """Poll ``condition`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = condition()
            if result:
                return result
        except Exception as error:  # noqa: BLE001 - reported below if it never succeeds
            last_error = error
        time.sleep(interval)
    raise TimeoutError(f"{what} not ready after {timeout} s" + (f" (last error: {last_error!r})" if last_error else ""))


def resolve_localhost_names() -> None:
    """Resolve every ``*.localhost`` name to this machine in this process, as browsers do (RFC 6761), so a test
    reaches users' servers on their own origins (``alice.localhost``); this machine's resolver does not. The
    loopback address is given directly: ``localhost`` itself may resolve to ``::1`` first, where the proxy is not."""
    if getattr(socket.getaddrinfo, "resolves_localhost_names", False):
        return
    original = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if isinstance(host, bytes):
            host = host.decode("idna")
        if isinstance(host, str) and (host == "localhost" or host.endswith(".localhost")):
            host = "127.0.0.1"
        return original(host, *args, **kwargs)

    getaddrinfo.resolves_localhost_names = True
    socket.getaddrinfo = getaddrinfo
