"""A Jupyter server extension that turns a single-user server into one published dashboard and nothing else.

Loaded only in servers started by :func:`spawner.published.published_server`. It puts a rule in front of every
route of the server: a request whose path is not the dashboard's Voila page, a Voila asset, the hub's OAuth
callback or a kernel's websocket is answered 403 — JupyterLab, terminals, the contents, kernels and sessions
APIs, other notebooks (``/voila/tree``, ``/voila/render/...``) and files included. The kernel websocket itself
only passes widget messages (``MappingKernelManager.allowed_message_types``, set by the same spawner args).

Viewers' open kernel websockets are asked about again every ``HubOAuth.cache_max_age`` seconds (the spawner sets
it to the hub's share revocation time): whoever lost access, a revoked share or a group left, has their
connections closed and their kernels shut down (:class:`user_server.kernel_websocket.AccessWatch`).

A server shows its page to at most ``WORKBENCH_DASHBOARD_MAX_VIEWERS`` viewers at once (the hub's
``dashboard_max_viewers``): each page holds a kernel of the owner's, all in the server's memory limit, which the
operating system enforces (the server's control group). One viewer more gets a page saying the dashboard is full,
with status 503 and no kernel started, rather than a dashboard that dies when the memory runs out. Kernels the
server keeps ready for its page are not viewers' and are not counted.

If the dashboard is not named in the environment, or the server cannot ask the hub about its viewers, the
extension refuses to load, and the server (started with ``reraise_server_extension_failures``) refuses to start: a
published server never runs unrestricted.
"""

from __future__ import annotations

import os
import re

from tornado import web
from tornado.httputil import HTTPServerRequest
from tornado.routing import Matcher, Rule

from user_server.kernel_websocket import AccessWatch, PromptKernelWebsocketConnection

# Set by the spawner for a published server (spawner/published.py names the same; a test keeps them equal).
DASHBOARD_VARIABLE = "WORKBENCH_PUBLISHED_DASHBOARD"
MAX_VIEWERS_VARIABLE = "WORKBENCH_DASHBOARD_MAX_VIEWERS"

_KERNEL_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_ASSETS = (
    r"voila/static/.*",
    r"voila/templates/.*",
    r"voila/labextensions/.*",
    r"voila/api/themes/.*",
    r"static/.*",
    rf"voila/api/shutdown/{_KERNEL_ID}",
    rf"voila/query/{_KERNEL_ID}",  # the preheated kernel's request-info socket
    rf"api/kernels/{_KERNEL_ID}/channels",
)
# Voila's widget manager reads its kernel's model; shutting the kernel down or restarting it stays closed.
_READ_ONLY = (rf"api/kernels/{_KERNEL_ID}",)


def allowed_paths(notebook: str) -> re.Pattern:
    """Paths below the server's base URL that stay reachable, whatever the method."""
    dashboard = re.escape(f"voila/render/dashboards/{notebook}")
    # "api" alone answers the server's version, which the hub reads when the server starts
    return re.compile("|".join(["", "api", "oauth_callback", dashboard, *_ASSETS]))


READ_ONLY_PATHS = re.compile("|".join(_READ_ONLY))


class OutsideDashboard(Matcher):
    def __init__(self, base_url: str, allowed: re.Pattern):
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.allowed = allowed

    def match(self, request: HTTPServerRequest) -> dict | None:
        path = request.path if request.path.endswith("/") or request.path != self.base_url[:-1] else self.base_url
        if path.startswith(self.base_url):
            below = path[len(self.base_url) :]
            if self.allowed.fullmatch(below) or (request.method == "GET" and READ_ONLY_PATHS.fullmatch(below)):
                return None
        return {}


class Refused(web.RequestHandler):
    def initialize(self, notebook: str) -> None:
        self.notebook = notebook

    def prepare(self) -> None:
        self.set_status(403)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(f"403: this server only shows the published dashboard {self.notebook}.\n")


def viewers_kernels(kernel_manager) -> int:
    """Kernels of the server that viewers' pages hold: all of them but those kept ready for the page."""
    ready = kernel_manager._ready_kernel_ids() if hasattr(kernel_manager, "_ready_kernel_ids") else set()
    return sum(1 for kernel_id in kernel_manager.list_kernel_ids() if kernel_id not in ready)


class DashboardFull(Matcher):
    """Matches a request for the dashboard's page while ``max_viewers`` pages already hold a kernel."""

    def __init__(self, base_url: str, notebook: str, kernel_manager, max_viewers: int):
        self.page = (base_url if base_url.endswith("/") else base_url + "/") + f"voila/render/dashboards/{notebook}"
        self.kernel_manager = kernel_manager
        self.max_viewers = max_viewers

    def match(self, request: HTTPServerRequest) -> dict | None:
        if request.method != "GET" or request.path != self.page:
            return None
        return {} if viewers_kernels(self.kernel_manager) >= self.max_viewers else None


class Full(web.RequestHandler):
    def initialize(self, max_viewers: int) -> None:
        self.max_viewers = max_viewers

    def prepare(self) -> None:
        self.set_status(503)
        self.set_header("Retry-After", "60")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(
            "<!doctype html><html lang=en><meta charset=utf-8><title>This dashboard is full</title>"
            "<body style='font-family: system-ui, sans-serif; max-width: 40em; margin: 3em auto'>"
            "<h1>This dashboard is full</h1>"
            f"<p>It already serves {self.max_viewers} viewer{'s' if self.max_viewers != 1 else ''} at once, as "
            "many as its owner's limit on this hub. Try again in a few minutes: a place frees up as soon as "
            "someone closes the page.</p></body></html>"
        )


def max_viewers(environ=os.environ) -> int:
    text = environ.get(MAX_VIEWERS_VARIABLE, "0") or "0"
    try:
        value = int(text)
    except ValueError:
        raise RuntimeError(f"{MAX_VIEWERS_VARIABLE}={text!r} is not a whole number") from None
    return max(value, 0)


def _jupyter_server_extension_points():
    return [{"module": __name__}]


def _load_jupyter_server_extension(server_app) -> None:
    notebook = os.environ.get(DASHBOARD_VARIABLE, "")
    if not notebook:
        raise RuntimeError(f"{DASHBOARD_VARIABLE} is not set: refusing to run a published server unrestricted")
    web_app = server_app.web_app
    matcher = OutsideDashboard(web_app.settings["base_url"], allowed_paths(notebook))
    web_app.default_router.rules.insert(0, Rule(matcher, Refused, {"notebook": notebook}))
    limit = max_viewers()
    if limit:
        full = DashboardFull(web_app.settings["base_url"], notebook, server_app.kernel_manager, limit)
        web_app.default_router.rules.insert(1, Rule(full, Full, {"max_viewers": limit}))
    watch_viewers(server_app)
    server_app.log.info("Published dashboard server: only %s and its assets answer", notebook)


def watch_viewers(server_app) -> AccessWatch:
    """Re-check open kernel websockets as often as the server's auth re-asks the hub about a request
    (``HubOAuth.cache_max_age``): both then end access within the same revocation time."""
    hub_auth = getattr(server_app.identity_provider, "hub_auth", None)
    if hub_auth is None:
        raise RuntimeError("not run by JupyterHub (no hub auth): refusing to run a published server whose "
                           "viewers' access cannot be checked")
    if hub_auth.cache_max_age <= 0:  # 0 is HubOAuth's "never ask again"
        raise RuntimeError("HubOAuth.cache_max_age is not a positive number of seconds: a revoked viewer would "
                           "never be refused")
    if not issubclass(server_app.kernel_websocket_connection_class, PromptKernelWebsocketConnection):
        raise RuntimeError(f"kernel websockets are {server_app.kernel_websocket_connection_class.__name__}, not "
                           f"{PromptKernelWebsocketConnection.__name__}: viewers' access could not be checked")
    watch = AccessWatch(hub_auth, server_app.kernel_manager, hub_auth.cache_max_age, server_app.log)
    watch.start()
    server_app.log.info("Checking open kernel websockets' access with the hub every %s s", hub_auth.cache_max_age)
    return watch
