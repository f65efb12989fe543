"""A Jupyter server extension that adds a ``Server-Timing`` header to every response of the user's server.

Enabled on every user server (``jupyter_server_config.d/profiler-workbench.json``, installed with the package),
it covers JupyterLab, the REST API and Voila, which runs inside the same server. Each response reports, in the
W3C Server-Timing syntax (https://www.w3.org/TR/server-timing/):

- ``wait``: from the request's arrival to its handler starting (the server's event loop was busy),
- ``handler``: from the handler starting to the first byte of the response (for Voila, the time until the
  page starts streaming),
- ``total``: the two together,
- any phase a handler recorded with :func:`add_phase` while it ran.

The browser reads these from the Performance API (``performance.getEntriesByType("navigation"|"resource")
[i].serverTiming``); the dashboards' request timer shows them.
"""

from __future__ import annotations

import re
import time

from tornado import httputil
from tornado.web import OutputTransform

HEADER = "Server-Timing"
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_PHASES_ATTRIBUTE = "_workbench_server_timing"


def add_phase(request: httputil.HTTPServerRequest, name: str, seconds: float, description: str = "") -> None:
    """Record a named phase of ``request`` to report in its Server-Timing header."""
    if not _TOKEN.match(name):
        raise ValueError(f"{name!r} is not a valid Server-Timing metric name (an HTTP token)")
    phases = getattr(request, _PHASES_ATTRIBUTE, None)
    if phases is None:
        phases = []
        setattr(request, _PHASES_ATTRIBUTE, phases)
    phases.append((name, seconds, description))


def format_metric(name: str, seconds: float, description: str = "") -> str:
    metric = f"{name};dur={seconds * 1000:.2f}"
    if description:
        escaped = description.replace("\\", "\\\\").replace('"', '\\"')
        metric += f';desc="{escaped}"'
    return metric


def header_value(wait: float, handler: float, phases: list[tuple[str, float, str]]) -> str:
    metrics = [
        format_metric("wait", wait, "Waiting for the server"),
        format_metric("handler", handler, "Handler until first byte"),
    ]
    metrics += [format_metric(name, seconds, description) for name, seconds, description in phases]
    metrics.append(format_metric("total", wait + handler, "Total until first byte"))
    return ", ".join(metrics)


class ServerTimingTransform(OutputTransform):
    """Created by tornado when a handler starts on a request; stamps the header on the first chunk."""

    def __init__(self, request: httputil.HTTPServerRequest) -> None:
        self.request = request
        self.handler_started = time.time()

    def transform_first_chunk(self, status_code, headers, chunk, finishing):
        now = time.time()
        arrived = getattr(self.request, "_start_time", self.handler_started)
        wait = max(0.0, self.handler_started - arrived)
        phases = getattr(self.request, _PHASES_ATTRIBUTE, [])
        headers[HEADER] = header_value(wait, now - self.handler_started, phases)
        return status_code, headers, chunk


def _jupyter_server_extension_points():
    return [{"module": "user_server.server_timing"}]


def _load_jupyter_server_extension(serverapp) -> None:
    serverapp.web_app.add_transform(ServerTimingTransform)
    serverapp.log.info("Server-Timing headers on every response (user_server.server_timing)")
