"""The engine's HTTP client against servers that behave and servers that do not: keep-alive connections reused,
a closed connection replaced, a reply cut off, a server that never answers, bytes that are not HTTP, a chunked
reply. Each server here is a plain asyncio server speaking raw bytes, so the client's own parsing is what is
tested."""

from __future__ import annotations

import asyncio
import json
import time
from types import SimpleNamespace

import httptools
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from profiler.loadtest.transport import DynamoHttpClient

CREDENTIALS = SimpleNamespace(access_key="AKIDEXAMPLE", secret_key="secret", token=None)


class RawServer:
    """Reads each request with httptools and answers what ``reply(request_number, request)`` returns: bytes to
    send, or None to send nothing and keep the connection open."""

    def __init__(self, reply):
        self.reply = reply
        self.connections = 0
        self.requests: list[dict] = []
        self.server: asyncio.base_events.Server | None = None

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc) -> None:
        self.server.close()
        if hasattr(self.server, "close_clients"):
            self.server.close_clients()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        parsed: list[dict] = []

        class Collect:
            def __init__(self):
                self.current = {"headers": {}, "body": b""}

            def on_header(self, name, value):
                self.current["headers"][name.decode().lower()] = value.decode()

            def on_body(self, body):
                self.current["body"] += body

            def on_message_complete(self):
                parsed.append(self.current)
                self.current = {"headers": {}, "body": b""}

        parser = httptools.HttpRequestParser(Collect())
        try:
            while data := await reader.read(65536):
                parser.feed_data(data)
                while parsed:
                    request = parsed.pop(0)
                    self.requests.append(request)
                    answer = self.reply(len(self.requests), request)
                    if answer is None:
                        continue
                    writer.write(answer)
                    await writer.drain()
                    # a reply that says so, or one cut short, ends the connection
                    if b"Connection: close" in answer or not answer.endswith((b"}", b"\r\n\r\n")):
                        writer.close()
                        return
        except (ConnectionError, httptools.HttpParserError):
            pass
        finally:
            writer.close()


def ok(payload: dict, *extra: bytes) -> bytes:
    body = json.dumps(payload).encode()
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\n" + b"".join(extra)
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


def run(coroutine):
    return asyncio.run(coroutine)


def test_requests_share_keep_alive_connections_and_carry_botocores_signature():
    async def main():
        server = RawServer(lambda n, request: ok({"Item": {"n": {"N": str(n)}}}))
        async with server as url:
            client = DynamoHttpClient(region="us-east-1", endpoint_url=url, credentials=lambda: CREDENTIALS,
                                      max_connections=4)
            try:
                calls = [client.call("GetItem", {"TableName": "t", "Key": {"pk": {"S": str(i)}}}) for i in range(200)]
                replies = await asyncio.gather(*calls)
            finally:
                await client.close()
        return server, url, replies

    server, url, replies = run(main())
    assert [r.error for r in replies] == [None] * 200
    assert sorted(int(r.body["Item"]["n"]["N"]) for r in replies) == list(range(1, 201))
    assert server.connections <= 4, "each request opened a connection of its own"
    # what a DynamoDB endpoint checks: the signature botocore computes for the same request
    request = server.requests[0]
    headers = request["headers"]
    assert headers["host"] == url.removeprefix("http://")
    assert headers["content-length"] == str(len(request["body"]))
    assert headers["x-amz-target"] == "DynamoDB_20120810.GetItem"
    expected = AWSRequest(method="POST", url=url + "/", data=request["body"],
                          headers={"Content-Type": headers["content-type"], "X-Amz-Target": headers["x-amz-target"]})
    expected.context["timestamp"] = headers["x-amz-date"]
    SigV4Auth(Credentials("AKIDEXAMPLE", "secret"), "dynamodb", "us-east-1").add_auth(expected)
    assert headers["authorization"] == expected.headers["Authorization"]


def test_a_connection_the_server_closes_is_replaced_and_nothing_is_lost():
    async def main():
        # every reply says Connection: close, so no connection is ever used twice
        server = RawServer(lambda n, request: ok({"n": n}, b"Connection: close\r\n"))
        async with server as url:
            client = DynamoHttpClient(region="us-east-1", endpoint_url=url, credentials=lambda: CREDENTIALS,
                                      max_connections=2)
            try:
                replies = [await client.call("PutItem", {"TableName": "t"}) for _ in range(10)]
                open_after = len(client._open)
            finally:
                await client.close()
        return server, replies, open_after

    server, replies, open_after = run(main())
    assert [r.error for r in replies] == [None] * 10 and [r.retries for r in replies] == [0] * 10
    assert server.connections == 10
    assert open_after == 0, "closed connections are still counted open"


def test_a_reply_cut_off_is_retried_on_a_new_connection():
    def reply(n, request):
        if n == 1:
            return b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"trunc"  # then the server hangs up
        return ok({"fine": True})

    async def main():
        server = RawServer(reply)
        async with server as url:
            client = DynamoHttpClient(region="us-east-1", endpoint_url=url, credentials=lambda: CREDENTIALS)
            try:
                return server, await client.call("GetItem", {"TableName": "t"})
            finally:
                await client.close()

    server, answer = run(main())
    assert answer.error is None and answer.body == {"fine": True} and answer.retries == 1
    assert server.connections == 2


def test_a_server_that_never_answers_times_out_each_attempt():
    async def main():
        server = RawServer(lambda n, request: None)
        async with server as url:
            client = DynamoHttpClient(region="us-east-1", endpoint_url=url, credentials=lambda: CREDENTIALS,
                                      timeout=0.3, max_attempts=2)
            started = time.monotonic()
            try:
                answer = await client.call("GetItem", {"TableName": "t"})
            finally:
                await client.close()
            return answer, time.monotonic() - started

    answer, elapsed = run(main())
    assert answer.error == "Timeout" and answer.retries == 1
    assert 0.6 <= elapsed < 0.6 + 1.0 + 1.0  # two timeouts and at most one second of backoff


def test_bytes_that_are_not_http_are_a_bad_response():
    async def main():
        server = RawServer(lambda n, request: b"SSH-2.0-OpenSSH_9.2\r\n")
        async with server as url:
            client = DynamoHttpClient(region="us-east-1", endpoint_url=url, credentials=lambda: CREDENTIALS,
                                      max_attempts=1)
            try:
                return await client.call("GetItem", {"TableName": "t"})
            finally:
                await client.close()

    assert run(main()).error == "BadResponse"


def test_a_chunked_reply_and_an_error_reply_are_read_whole():
    error = json.dumps({"__type": "com.amazonaws.dynamodb.v20120810#ValidationException", "message": "bad key"})

    def reply(n, request):
        if n == 1:
            return (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"5\r\n{\"a\":\r\n3\r\n 1}\r\n0\r\n\r\n")
        return b"HTTP/1.1 400 Bad Request\r\nContent-Length: %d\r\n\r\n%s" % (len(error), error.encode())

    async def main():
        server = RawServer(reply)
        async with server as url:
            client = DynamoHttpClient(region="us-east-1", endpoint_url=url, credentials=lambda: CREDENTIALS)
            try:
                return [await client.call("GetItem", {"TableName": "t"}) for _ in range(2)]
            finally:
                await client.close()

    chunked, invalid = run(main())
    assert chunked.error is None and chunked.body == {"a": 1}
    assert invalid.error == "ValidationException" and invalid.retries == 0 and invalid.body["message"] == "bad key"


def test_an_endpoint_that_is_not_http_is_refused_at_once():
    with pytest.raises(ValueError, match="is not an http"):
        DynamoHttpClient(region="us-east-1", endpoint_url="ftp://example.com", credentials=lambda: CREDENTIALS)
