"""A database at a distance: a TCP proxy that puts a real network round trip between this process and a database.

On the machine a workbench runs on, PostgreSQL answers over loopback in tens of microseconds, so every statement
looks nearly free; in production it is on another host, 0.5–2 ms a round trip away (same or another availability
zone). :class:`LatencyProxy` listens on 127.0.0.1 (an ephemeral port, never another interface) and forwards every
connection to the real server, holding each chunk of bytes for half the round trip in each direction before
passing it on, so a statement pays the round trip wherever the driver waits for the network, exactly as it would
against a remote host. Nothing in the query code sleeps.

The proxy runs as a child process (this very file, run with ``python -I``): the profiled ORM code holds the GIL
for milliseconds at a time, and a forwarding thread in the same process would wait for it, adding delay that
depends on the workload rather than the distance. The child stops when :meth:`LatencyProxy.stop` is called,
when the object is collected, when this process exits, and when this process dies (it watches its stdin, a pipe
from this process, and exits at end of file), so a killed kernel leaves no proxy behind.

Netem (``tc qdisc ... netem delay``) would be the kernel's way, but needs root and a network namespace of its own.

May import the standard library and :mod:`profiler.inputs` only.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections import deque

# The distances offered: none (a database next to the server), and typical round trips to a managed database
# (RDS) in the same availability zone (0.5 ms) and across zones of one region (1-2 ms).
ROUND_TRIPS_MS = (0.0, 0.5, 1.0, 2.0)
MAX_ROUND_TRIP_MS = 50.0  # further than any one-region deployment: anything larger is a typo
_CHUNK = 256 * 1024
_READY_TIMEOUT_S = 10.0


def checked_round_trip(value, field: str = "round_trip_ms") -> float:
    """``value`` as milliseconds if it is a number from 0 to ``MAX_ROUND_TRIP_MS``; InputError otherwise."""
    from profiler.inputs import is_real, refuse

    if not is_real(value) or not 0 <= value <= MAX_ROUND_TRIP_MS:
        offered = ", ".join(f"{ms:g}" for ms in ROUND_TRIPS_MS)
        raise refuse(field, f"a round trip in milliseconds from 0 to {MAX_ROUND_TRIP_MS:g} (offered: {offered})",
                     value)
    return float(value)


class LatencyProxy:
    """``with LatencyProxy("127.0.0.1", 5432, round_trip_ms=1.0) as proxy:`` connect to ``proxy.port`` on
    127.0.0.1 instead of the server; every byte takes ``round_trip_ms / 2`` each way."""

    def __init__(self, target_host: str, target_port: int, round_trip_ms: float):
        from profiler.inputs import refuse, whole_number

        self.round_trip_ms = checked_round_trip(round_trip_ms)
        if not isinstance(target_host, str) or not target_host or len(target_host) > 255:
            raise refuse("target_host", "a host name or address", target_host)
        self.target = (target_host, whole_number("target_port", target_port, 1, 65535))
        self.host = "127.0.0.1"
        self.port: int | None = None
        self._process: subprocess.Popen | None = None
        self._finalizer = None

    def start(self) -> LatencyProxy:
        if self._process is not None:
            return self
        process = subprocess.Popen(
            [sys.executable, "-I", os.path.abspath(__file__), self.target[0], str(self.target[1]),
             repr(self.round_trip_ms / 2e3)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, close_fds=True,
        )
        self._process = process
        self._finalizer = weakref.finalize(self, _stop_process, process)
        line = _read_line(process, _READY_TIMEOUT_S)
        if not line.startswith("listening "):
            self.stop()
            raise RuntimeError(f"the latency proxy did not start: {line or 'no answer'}")
        self.port = int(line.split()[1])
        return self

    def stop(self) -> None:
        if self._finalizer is not None:
            self._finalizer()
        self._process = None
        self.port = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> LatencyProxy:
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = f"127.0.0.1:{self.port}" if self.port else "stopped"
        return f"LatencyProxy({where} -> {self.target[0]}:{self.target[1]}, {self.round_trip_ms:g} ms round trip)"


def _read_line(process: subprocess.Popen, timeout: float) -> str:
    found: list[str] = []
    reader = threading.Thread(target=lambda: found.append(process.stdout.readline().decode().strip()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not found:
        return ""
    if not found[0] and process.poll() is not None:
        return process.stderr.read().decode(errors="replace").strip()[-500:]
    return found[0]


def _stop_process(process: subprocess.Popen) -> None:
    for stream in (process.stdin, process.stdout, process.stderr):
        try:
            stream.close()  # end of file on its stdin: the child exits by itself
        except OSError:
            pass
    try:
        process.wait(2)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(2)


def distant_url(url, proxy: LatencyProxy | None):
    """A SQLAlchemy URL (``sqlalchemy.engine.URL``) reaching the same database through ``proxy`` (None: ``url``)."""
    return url if proxy is None else url.set(host=proxy.host, port=proxy.port)


# --- the child process -------------------------------------------------------------------------------------------
# One thread and select(2) for every connection. select's timeout is a timeval, so a 0.25 ms hold is asked for as
# 0.25 ms, where epoll and poll (asyncio's selectors) round it up to a whole millisecond; with the kernel's default
# 50 µs timer slack a 0.25 ms select still slept 0.33 ms (median of 200 on this 2-core machine), hence
# _exact_timers. What the proxy costs by itself, forwarding at 0 ms: SELECT 1 took 0.18-0.32 ms through it
# against 0.05 ms direct (medians of 300, load 1.5-2.5); the tests bound what the delay adds on top of that.
class _Direction:
    """Bytes from ``source`` to ``destination``: each chunk is stamped when read and sent once it is due, so a
    stream of chunks is delayed, not slowed."""

    def __init__(self, source: socket.socket, destination: socket.socket):
        self.source, self.destination = source, destination
        self.held: deque = deque()  # (due, bytes); b"" is the end of the stream
        self.out = bytearray()  # due, not yet accepted by the destination
        self.read_all = False  # the source ended its stream
        self.ending = False  # that end is due
        self.ended = False  # and was passed on


class _Connection:
    def __init__(self, client: socket.socket, upstream: socket.socket):
        self.sockets = (client, upstream)
        self.directions = (_Direction(client, upstream), _Direction(upstream, client))
        for sock in self.sockets:
            sock.setblocking(False)
            # a chunk sent when due must leave at once, not wait for Nagle to join it to the next one
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    @property
    def finished(self) -> bool:
        return all(direction.ended for direction in self.directions)

    def close(self) -> None:
        for sock in self.sockets:
            try:
                sock.close()
            except OSError:
                pass


def _exact_timers() -> None:
    """Linux lets a timer fire up to 50 µs late by default (timer slack) so wake-ups can be batched; for a hold of
    250 µs that is a fifth more. 1 ns asks for the timer as set (prctl PR_SET_TIMERSLACK, this process only)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(29, 1, 0, 0, 0)
        except (OSError, AttributeError):
            pass


def _serve(target: tuple[str, int], delay_s: float) -> None:
    _exact_timers()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))  # loopback only: the proxy is for this process, never reachable from elsewhere
    listener.listen(64)
    listener.setblocking(False)
    parent = sys.stdin.fileno()  # a pipe from the parent: end of file when it closes it or dies
    sys.stdout.write(f"listening {listener.getsockname()[1]}\n")
    sys.stdout.flush()
    connections: list[_Connection] = []
    while True:
        now = time.monotonic()
        due = []
        for connection in list(connections):
            try:
                for direction in connection.directions:
                    while direction.held and direction.held[0][0] <= now:
                        data = direction.held.popleft()[1]
                        if data:
                            direction.out += data
                        else:
                            direction.ending = True
                    if direction.out:
                        try:
                            sent = direction.destination.send(direction.out)
                            del direction.out[:sent]
                        except BlockingIOError:
                            pass
                    if direction.ending and not direction.out and not direction.ended:
                        direction.destination.shutdown(socket.SHUT_WR)
                        direction.ended = True
                    if direction.held:
                        due.append(direction.held[0][0])
            except OSError:  # a reset or a broken pipe ends the whole connection, as it would without us
                connection.close()
                connections.remove(connection)
                continue
            if connection.finished:
                connection.close()
                connections.remove(connection)
        readers = [parent, listener]
        writers = []
        for connection in connections:
            for direction in connection.directions:
                if not direction.read_all:
                    readers.append(direction.source)
                if direction.out:
                    writers.append(direction.destination)
        timeout = max(0.0, min(due) - time.monotonic()) if due else None
        readable, _writable, _ = select.select(readers, writers, [], timeout)
        stamp = time.monotonic() + delay_s
        for sock in readable:
            if sock is parent:
                if not os.read(parent, 4096):
                    os._exit(0)
            elif sock is listener:
                try:
                    client, _address = listener.accept()
                except BlockingIOError:
                    continue
                try:
                    upstream = socket.create_connection(target, timeout=10)
                except OSError:
                    client.close()
                    continue
                connections.append(_Connection(client, upstream))
            else:
                for connection in connections:
                    for direction in connection.directions:
                        if direction.source is sock and not direction.read_all:
                            try:
                                data = sock.recv(_CHUNK)
                            except BlockingIOError:
                                continue
                            except OSError:
                                data = b""  # reset: pass an end of stream on, the send side finds the rest
                            direction.held.append((stamp, data))
                            direction.read_all = not data


if __name__ == "__main__":
    _serve((sys.argv[1], int(sys.argv[2])), float(sys.argv[3]))
