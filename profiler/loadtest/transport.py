"""A lean asyncio DynamoDB client: the JSON protocol over keep-alive HTTP/1.1 connections of its own, replies
parsed by httptools (llhttp, the C parser uvicorn uses), requests signed by :class:`.protocol.SigV4Signer`.

Why not boto3: on this machine boto3 costs ~1.4 ms of CPU per request (event hooks, request preparation,
urllib3), so one core drives ~700 requests/s and threads do not help (the GIL). aiobotocore would be the
asyncio boto3 but pins an older botocore than ours.

Why not aiohttp, which this client replaced: with the signing down to 3.5 µs, aiohttp's request and response
objects were most of the engine's CPU per request (109 µs per request in all, against 106 µs for Locust's
FastHttpUser on geventhttpclient; benchmarks/load_generator.py). A request here is one ``write`` of bytes built
from the signed headers, and a reply is the parser's callbacks filling a buffer, on a connection taken from an
idle list: no per-request objects beyond the bytes, the future and its timeout.

This client sends the same wire-format parameters boto3's low-level client takes, and retries as
:mod:`.protocol` describes.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from typing import Any, Callable
from urllib.parse import urlsplit

from botocore.auth import _host_from_url

from .protocol import DEFAULT_MAX_ATTEMPTS, Attempts, Reply, connection_error_code, endpoint_for, error_code, \
    signed_headers


class BadResponse(ValueError):
    """The server's bytes are not an HTTP/1.1 response (counted as ``BadResponse``, and retried)."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection: a request written whole, its reply assembled by the parser's callbacks."""

    def __init__(self) -> None:
        # imported with the first connection, not with the engine: the load-test dashboard opens without it
        import httptools

        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.parse_error = httptools.HttpParserError
        self.reply: asyncio.Future | None = None
        self.deadline: asyncio.TimerHandle | None = None
        self.body: list[bytes] = []
        self.closed = False

    # asyncio.Protocol
    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except self.parse_error as error:
            self._fail(BadResponse(f"the server's reply is not HTTP/1.1: {error}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(exc or ConnectionResetError("the server closed the connection before replying"))

    # httptools' callbacks
    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        reply, self.reply = self.reply, None
        self.deadline.cancel()
        if not self.parser.should_keep_alive():
            self.close()
        if reply is not None and not reply.done():
            reply.set_result((self.parser.get_status_code(), b"".join(self.body)))

    def send(self, request: bytes, timeout: float) -> asyncio.Future:
        """The reply's (status, body), or TimeoutError once ``timeout`` seconds pass without it (a timer on the
        loop, where asyncio.wait_for would start a task per request)."""
        loop = asyncio.get_running_loop()
        self.body = []
        self.reply = loop.create_future()
        self.deadline = loop.call_later(timeout, self._fail, TimeoutError(f"no reply within {timeout:g} s"))
        self.transport.write(request)
        return self.reply

    def _fail(self, error: Exception) -> None:
        reply, self.reply = self.reply, None
        if self.deadline is not None:
            self.deadline.cancel()
        self.close()
        if reply is not None and not reply.done():
            reply.set_exception(error)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class DynamoHttpClient:
    """One per event loop. ``credentials`` returns botocore frozen credentials (called per request, so refreshed
    playground credentials are picked up). At most ``max_connections`` requests are in flight; each attempt has
    ``timeout`` seconds to connect, then as long from being sent to its whole reply."""

    def __init__(self, *, region: str, endpoint_url: str | None, credentials: Callable[[], Any],
                 max_connections: int = 64, max_attempts: int = DEFAULT_MAX_ATTEMPTS, timeout: float = 10.0):
        self.url = endpoint_for(region, endpoint_url)
        self.region = region
        self._credentials = credentials
        self._max_attempts = max_attempts
        self._timeout = timeout
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{self.url!r} is not an http(s) endpoint")
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._ssl = ssl.create_default_context() if parts.scheme == "https" else None
        # the Host header the signature covers, as botocore derives it (no default port)
        self._request_line = (f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {_host_from_url(self.url)}\r\n"
                              "Accept-Encoding: identity\r\n")
        self._idle: list[_Connection] = []
        self._open: set[_Connection] = set()
        self._slots = asyncio.Semaphore(max_connections)
        self._failures = (asyncio.TimeoutError, OSError, ValueError)

    async def close(self) -> None:
        for connection in list(self._open):
            connection.close()
        self._idle.clear()
        self._open.clear()

    async def _connection(self) -> _Connection:
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed:
                return connection
            self._open.discard(connection)
        _, connection = await asyncio.wait_for(asyncio.get_running_loop().create_connection(
            _Connection, self._host, self._port, ssl=self._ssl), self._timeout)
        self._open.add(connection)
        return connection

    def _request(self, api: str, body: bytes) -> bytes:
        headers = signed_headers(self._credentials(), self.region, self.url, api, body)
        lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        return f"{self._request_line}{lines}Content-Length: {len(body)}\r\n\r\n".encode() + body

    async def _exchange(self, request: bytes) -> tuple[int, bytes]:
        connection = await self._connection()
        try:
            status, payload = await connection.send(request, self._timeout)
        except BaseException:
            connection.close()
            self._open.discard(connection)
            raise
        if connection.closed:
            self._open.discard(connection)
        else:
            self._idle.append(connection)
        return status, payload

    async def _attempt(self, api: str, body: bytes) -> tuple[int, dict[str, Any]]:
        request = self._request(api, body)
        async with self._slots:
            status, payload = await self._exchange(request)
        return status, (json.loads(payload) if payload else {})

    async def call(self, api: str, params: dict[str, Any]) -> Reply:
        body = json.dumps(params, separators=(",", ":")).encode()
        attempts = Attempts(self._max_attempts)
        while True:
            try:
                status, reply = await self._attempt(api, body)
                code = error_code(status, reply)
            except asyncio.CancelledError:
                raise
            except self._failures as exc:
                status, reply, code = 0, {}, connection_error_code(exc)
            final = attempts.after(status, reply, code)
            if final is not None:
                return final
            await asyncio.sleep(attempts.backoff())
