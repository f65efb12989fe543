"""The latency proxy puts a real round trip between a client and a server: it adds the configured delay (and
not much more), passes every byte unchanged under concurrent load, ends connections as their ends do, listens on
loopback only, and leaves nothing running once stopped or once its parent is gone."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

import pytest

from profiler.inputs import InputError
from profiler.netdelay import MAX_ROUND_TRIP_MS, LatencyProxy, checked_round_trip

# What the delay adds beyond the proxy's own forwarding (a proxy set to 0 ms, measured alternately with it):
# 0.05-0.3 ms on this project's 2-core machines with other work running (load 2-7; SELECT 1 and one-byte echoes,
# lower quartiles of 60-100), the timer waking late. The bound leaves room for a busier machine and still fails a
# proxy whose delay was off by half a round trip at 1 ms. The lower quartile, not the median: at a load of 6 on
# 2 cores the median of a whole second of SELECT 1 through the 2 ms proxy once came out 6.4 ms above the plain
# proxy's, the proxy waiting for a core, which says nothing about the delay it applies.
OVERSHOOT_BOUND_MS = 0.6


def lower_quartile(values: list[float]) -> float:
    return statistics.quantiles(values, n=4)[0]


class EchoServer:
    """A TCP server on 127.0.0.1 that sends back what it receives; ``events`` records how connections ended."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.events: list[str] = []
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections.append(connection)
            threading.Thread(target=self._echo, args=(connection,), daemon=True).start()

    def _echo(self, connection):
        try:
            while data := connection.recv(65536):
                connection.sendall(data)
            self.events.append("eof")
            connection.shutdown(socket.SHUT_WR)
        except OSError:
            self.events.append("error")

    def close(self):
        self.listener.close()
        for connection in self.connections:
            connection.close()


@pytest.fixture
def echo():
    server = EchoServer()
    yield server
    server.close()


def round_trips_ms(port: int, count: int) -> list[float]:
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        times = []
        for _ in range(count):
            started = time.perf_counter()
            client.sendall(b"x")
            assert client.recv(16) == b"x"
            times.append((time.perf_counter() - started) * 1e3)
    return times


@pytest.mark.parametrize("round_trip_ms", [0.5, 1.0, 2.0])
def test_a_round_trip_through_the_proxy_takes_the_configured_time(echo, round_trip_ms):
    through, forwarding = [], []
    with LatencyProxy("127.0.0.1", echo.port, round_trip_ms) as proxy, \
            LatencyProxy("127.0.0.1", echo.port, 0) as plain:
        for _ in range(10):  # alternately, so both see the same load
            through += round_trips_ms(proxy.port, 10)
            forwarding += round_trips_ms(plain.port, 10)
    # every byte is held half the round trip each way, so no trip can be shorter
    assert min(through) >= round_trip_ms
    added = lower_quartile(through) - lower_quartile(forwarding)
    assert round_trip_ms - 0.1 <= added <= round_trip_ms + OVERSHOOT_BOUND_MS


@pytest.mark.parametrize("round_trip_ms", [1.0, 2.0])
def test_select_1_on_postgresql_pays_the_round_trip(postgres_url, round_trip_ms):
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(postgres_url)

    def times_ms(connection, count: int) -> list[float]:
        times = []
        for _ in range(count):
            started = time.perf_counter()
            connection.execute("SELECT 1").fetchall()
            times.append((time.perf_counter() - started) * 1e3)
        return times

    def connect(port: int):
        return psycopg.connect(host="127.0.0.1", port=port, dbname=url.database, user=url.username, autocommit=True)

    through, forwarding = [], []
    with LatencyProxy(url.host, url.port or 5432, round_trip_ms) as proxy, \
            LatencyProxy(url.host, url.port or 5432, 0) as plain, \
            connect(proxy.port) as far, connect(plain.port) as near:
        for _ in range(6):
            through += times_ms(far, 10)
            forwarding += times_ms(near, 10)
    assert min(through) >= round_trip_ms
    added = lower_quartile(through) - lower_quartile(forwarding)
    assert round_trip_ms - 0.1 <= added <= round_trip_ms + OVERSHOOT_BOUND_MS


def test_every_byte_passes_unchanged_both_ways_under_concurrent_load(echo):
    failures = []

    def client(seed: int, port: int):
        generator = random.Random(seed)
        payload = generator.randbytes(generator.randint(1 << 20, 3 << 20))
        received = bytearray()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
                reader = threading.Thread(target=lambda: received.extend(_read_all(sock)))
                reader.start()
                position = 0
                while position < len(payload):  # uneven writes: chunk boundaries must not matter
                    size = generator.choice((1, 7, 1500, 65536, 300_000))
                    sock.sendall(payload[position:position + size])
                    position += size
                sock.shutdown(socket.SHUT_WR)
                reader.join(60)
            if hashlib.sha256(received).digest() != hashlib.sha256(payload).digest():
                failures.append(f"client {seed}: {len(received)} of {len(payload)} bytes, or different ones")
        except OSError as error:
            failures.append(f"client {seed}: {error}")

    with LatencyProxy("127.0.0.1", echo.port, 0.5) as proxy:
        threads = [threading.Thread(target=client, args=(seed, proxy.port)) for seed in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(90)
    assert not failures
    assert echo.events.count("eof") == 8  # each client's end of stream reached the server, after its data


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while data := sock.recv(1 << 20):
        chunks.append(data)
    return b"".join(chunks)


def test_an_end_of_stream_is_passed_on_and_stop_leaves_nothing_running(echo):
    proxy = LatencyProxy("127.0.0.1", echo.port, 1.0).start()
    port, process = proxy.port, proxy._process
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"hello")
        sock.shutdown(socket.SHUT_WR)
        assert _read_all(sock) == b"hello"  # the server ended its side after ours: both ends passed on
    assert echo.events == ["eof"]

    # a server that closes first: the client sees the end, not a hang
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"x")
        assert sock.recv(1) == b"x"
        deadline = time.monotonic() + 5
        while len(echo.connections) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        echo.connections[1].shutdown(socket.SHUT_RDWR)
        assert sock.recv(10) == b""

    proxy.stop()
    assert process.poll() is not None and not proxy.running and proxy.port is None
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_it_listens_on_loopback_only(echo):
    with LatencyProxy("127.0.0.1", echo.port, 0.5) as proxy:
        listening = _listening_addresses(proxy.port)
    assert listening == {"0100007F"}  # 127.0.0.1 in /proc/net/tcp's byte order, and on no other address


def _listening_addresses(port: int) -> set[str]:
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        with open(table) as lines:
            next(lines)
            for line in lines:
                local, _remote, state = line.split()[1:4]
                address, hex_port = local.split(":")
                if int(hex_port, 16) == port and state == "0A":  # LISTEN
                    found.add(address)
    return found


def test_the_proxy_ends_when_its_parent_dies(echo, tmp_path):
    """A killed kernel takes its proxy with it: the child exits at the end of file of its stdin."""
    script = tmp_path / "parent.py"
    script.write_text(
        "import sys, time\n"
        f"sys.path.insert(0, {os.getcwd()!r})\n"
        "from profiler.netdelay import LatencyProxy\n"
        f"proxy = LatencyProxy('127.0.0.1', {echo.port}, 1.0).start()\n"
        "print(proxy._process.pid, proxy.port, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        child_pid, port = map(int, parent.stdout.readline().split())
        assert round_trips_ms(port, 3)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(5)
        deadline = time.monotonic() + 5
        while _alive(child_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child_pid)
    finally:
        parent.kill()
        parent.wait(5)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"  # a zombie has exited (its parent reaps it)
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("value", [-0.5, MAX_ROUND_TRIP_MS + 1, float("nan"), float("inf"), "1", None, True])
def test_a_round_trip_that_is_not_a_bounded_number_is_refused(value):
    with pytest.raises(InputError) as refused:
        checked_round_trip(value)
    assert refused.value.field == "round_trip_ms"
    assert "a round trip in milliseconds from 0 to 50 (offered: 0, 0.5, 1, 2)" in str(refused.value)
    with pytest.raises(InputError):
        LatencyProxy("127.0.0.1", 5432, value)


@pytest.mark.parametrize("host, port, field", [("", 5432, "target_host"), ("127.0.0.1", 0, "target_port"),
                                               ("127.0.0.1", 70000, "target_port"), (None, 5432, "target_host")])
def test_a_bad_target_is_refused(host, port, field):
    with pytest.raises(InputError) as refused:
        LatencyProxy(host, port, 1.0)
    assert refused.value.field == field
