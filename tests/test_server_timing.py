"""The Server-Timing extension: well-formed headers (W3C syntax) on every response of a Jupyter server."""

from __future__ import annotations

import re

import pytest
from tornado.httputil import HTTPServerRequest
from tornado.web import Application, RequestHandler

from user_server.server_timing import ServerTimingTransform, add_phase, format_metric

# https://www.w3.org/TR/server-timing/#the-server-timing-header-field
TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
QUOTED = r'"(?:[^"\\]|\\.)*"'
PARAM = rf"\s*;\s*{TOKEN}\s*=\s*(?:{TOKEN}|{QUOTED})"
METRIC = re.compile(rf"\s*({TOKEN})((?:{PARAM})*)\s*")


def parse_server_timing(header: str) -> dict[str, float]:
    """Metric name -> duration in ms; fails on anything that is not the W3C grammar."""
    metrics: dict[str, float] = {}
    position = 0
    while position < len(header):
        match = METRIC.match(header, position)
        assert match and match.end() > position, f"malformed Server-Timing at {header[position:]!r}"
        duration = re.search(r";\s*dur\s*=\s*([0-9.]+)", match.group(2))
        metrics[match.group(1)] = float(duration.group(1)) if duration else 0.0
        position = match.end()
        if position < len(header):
            assert header[position] == ",", f"expected a comma at {header[position:]!r}"
            position += 1
    return metrics


def test_descriptions_with_quotes_stay_well_formed():
    header = format_metric("db", 0.0123, 'the "orders" query \\ 2')
    assert parse_server_timing(header) == {"db": 12.3}


def test_metric_names_must_be_tokens():
    request = HTTPServerRequest(method="GET", uri="/")
    with pytest.raises(ValueError, match="not a valid Server-Timing metric name"):
        add_phase(request, "kernel start", 0.1)


class Slow(RequestHandler):
    def get(self):
        add_phase(self.request, "kernel", 0.25, "Kernel start")
        self.write("ok")


def test_every_response_carries_total_and_named_phases(tmp_path):
    import asyncio

    from tornado.httpclient import AsyncHTTPClient
    from tornado.httpserver import HTTPServer
    from tornado.netutil import bind_sockets

    async def run():
        app = Application([(r"/slow", Slow)])
        app.add_transform(ServerTimingTransform)
        sockets = bind_sockets(0, "127.0.0.1")
        server = HTTPServer(app)
        server.add_sockets(sockets)
        port = sockets[0].getsockname()[1]
        try:
            slow = await AsyncHTTPClient().fetch(f"http://127.0.0.1:{port}/slow")
            missing = await AsyncHTTPClient().fetch(f"http://127.0.0.1:{port}/nowhere", raise_error=False)
        finally:
            server.stop()
        return slow, missing

    slow, missing = asyncio.run(run())
    metrics = parse_server_timing(slow.headers["Server-Timing"])
    assert metrics["kernel"] == 250.0
    assert list(metrics)[-1] == "total" and metrics["total"] >= metrics["handler"]
    assert "total" in parse_server_timing(missing.headers["Server-Timing"]), "error pages are timed too"
