"""Time to interactive of each dashboard in Chromium: preheated, cold, and stock Voila preheating as the anchor;
and a user's own notebook published as a dashboard, against the same notebook in Voila unpublished.

    python benchmarks/dashboard.py                    # the dashboards in notebooks/dashboards.json and the
                                                      # published notebook, 3 rounds
    python benchmarks/dashboard.py --quick            # 1 round
    python benchmarks/dashboard.py --published-only   # only the published notebook, published and unpublished

Time to interactive: from the navigation's start until the page has loaded, the control a person uses first is
on it (``READY`` below) and the page's main thread is free to answer (``performance.now()`` read in the page once
the control is there). Every page load is a first visit: a new browser context, nothing cached.

Three servers serve the same notebooks:

* "preheated": a Jupyter server as the hub starts a user's (the repository's ``user_server/jupyter_config`` with
  Voila as a server extension) with the variables the hub sets by default: one kernel per dashboard that already
  ran it (``user_server/voila_preheat.py``; the pool refills between rounds);
* "cold": the same server told to preheat nothing, so each page load starts a kernel that runs the whole
  notebook (what the first viewer of a published page, or anyone right after a restart, waits for);
* "warm": the same server with one warm kernel instead of pools (``user_server/warm_kernels.py``: started, the
  dashboards' modules imported, handed to whichever dashboard is opened, which then runs its cells);
* "stock": stock Voila (``voila NOTEBOOK --preheat_kernel=True --pool_size=1``, its own templates and settings),
  one process per notebook, as the anchor.

A notebook of a user's own, ``benchmarks/published_report.ipynb`` (a title, a pandas table and a plotly chart of
generated data, a Refresh button that updates an output), is opened two ways:

* "published": by a viewer of the dashboard its owner published as ``dash-published-report``, from a server started
  as the hub starts that server (``spawner/workbench.py``): ``python -m jupyterhub.singleuser`` with the users'
  server configuration and :func:`spawner.published.published_server`'s args and environment, so restricted to
  the one page, with one kernel kept ready that already ran it (refilled between rounds); the snapshot in
  ``dashboards/published/published-report.ipynb``, opened at the server's own address, which redirects to the
  page. Such a server has to have a hub: :class:`HubStandIn` answers what it asks, its version when it starts and
  the OAuth steps of a viewer already signed in to the hub, so each load includes the viewer's sign-in redirects
  (but not the real hub's few milliseconds per step);
* "unpublished": the same notebook in the "cold" server (a user's server, nothing preheated) at
  ``voila/render/published_report.ipynb``: what its owner waits for opening it in Voila.

For each page it also prints what the time went to: ``server`` (request to the HTML's last byte: for a
preheated page the pre-rendered notebook, for a cold one the kernel's start and the whole notebook's run),
``redirects`` (navigation start to the page's own request: a published page's sign-in), ``bytes`` (HTTP bodies
and the kernel's websocket frames), ``script`` (the main thread's time in JavaScript, Chromium's ScriptDuration),
``widgets`` (from the kernel's websocket opening to interactive: widget state and views) and ``round trips``
(messages the page sent its kernel before it was interactive). Requests to hosts other than this machine are
counted: offline, none may block rendering. A page must also show what ``SHOWN`` names (the report's chart),
checked after the timing: loads that did not are printed. Medians per dashboard; the last line is one
JSON object with ``preheated_tti_max_median_s`` and ``cold_tti_max_median_s`` (the slowest dashboard's median;
null with ``--published-only``), ``published_tti_median_s``, ``unpublished_tti_median_s`` and
``published_vs_unpublished_ratio`` (published / unpublished), and every dashboard's figures.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spawner.dashboards import (  # noqa: E402
    FOLDER,
    POOL_SIZE_VARIABLE,
    PREHEAT_VARIABLE,
    WARM_KERNELS_VARIABLE,
    Dashboard,
    load_manifest,
    preheat_environment,
)
from spawner.published import own_notebook, published_server, server_name  # noqa: E402
from spawner.user_server_files import jupyter_environment  # noqa: E402
from testing.support import free_port, port_open, wait_for  # noqa: E402
from testing.user_server import ServerProcess, UserServer  # noqa: E402 - the server the browser tests use

CHROMIUM = os.environ.get("WORKBENCH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# What a person waits for on each dashboard before they can use it; any other notebook is interactive when
# its page has loaded (Voila sends the page once the notebook has run).
READY = {
    "query_optimization.ipynb": "button:has-text('Run comparison')",
    "load_test.ipynb": "button:has-text('Start')",
    "data_models.ipynb": "button:has-text('Create model')",
    "caching.ipynb": "button:has-text('Run comparison')",
    "conversations.ipynb": "button:has-text('Run comparison')",
    "published_report.ipynb": "button:has-text('Refresh')",
}
# What else a page must show, checked once it is interactive (not timed): a load without it is counted as missing it.
SHOWN = {"published_report.ipynb": ".js-plotly-plot"}  # its plotly chart (fig.show(): jupyterlab-plotly draws it)
MODES = ("cold", "warm", "preheated", "stock")
PUBLISHED_MODES = ("published", "unpublished")
# A user's own notebook, and what it is once its owner published it as dash-published-report
REPORT = Path(__file__).resolve().parent / "published_report.ipynb"
PUBLISHED = Dashboard(own_notebook("published-report"), "Published report", f"published from {REPORT.name}")
OWNER = "owner"
# As the hub gives the published server (spawner/workbench.py: the hub's default share_revocation_seconds)
AUTH_CACHE_SECONDS = 10
# Preheated kernels start however busy the machine is: it is busy with the pages being measured
MEASURING = ("--PreheatingKernelManager.busy_threshold=1",)
# When the page opened its first websocket (the kernel's), in the page's own clock.
WEBSOCKET_CLOCK = """
const OriginalWebSocket = window.WebSocket;
window.WebSocket = function (...args) {
  if (window.__firstWebSocketAt === undefined) window.__firstWebSocketAt = performance.now();
  return new OriginalWebSocket(...args);
};
window.WebSocket.prototype = OriginalWebSocket.prototype;
Object.assign(window.WebSocket, OriginalWebSocket);
"""


def preheating(dashboards: list[Dashboard], mode: str) -> dict[str, str]:
    """What the hub tells a user's server to keep ready, for the modes that are a user's server ("cold": nothing,
    whatever the environment this runs in says)."""
    nothing = {PREHEAT_VARIABLE: "", POOL_SIZE_VARIABLE: "0", WARM_KERNELS_VARIABLE: "0"}
    if mode == "cold":
        return nothing
    return {**nothing, **preheat_environment(dashboards, 1, "kernels" if mode == "warm" else "pools")}


class HubStandIn(BaseHTTPRequestHandler):
    """What a published dashboard's server asks its hub, answered for one viewer signed in to the hub whom the
    server is shared with: the hub's version (when the server starts), the OAuth authorization (at once, as the hub
    does for a signed-in viewer), a new token for its code, and who a token is (as the server's auth asks for each
    new token and again after ``HubOAuth.cache_max_age``)."""

    tokens: set[str] = set()
    scopes: list[str] = []

    @classmethod
    def start(cls, server: str) -> ThreadingHTTPServer:
        """A stand-in for the hub of ``server`` (``owner/name``), answering in a thread of this process."""
        cls.scopes = [f"access:servers!server={server}"]
        httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), cls)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        return httpd

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = parse_qs(url.query)
        if url.path.rstrip("/") == "/hub/api":
            self.answer(200, {"version": self.version()})
        elif url.path == "/hub/api/oauth2/authorize":
            code = {"code": secrets.token_urlsafe(16), "state": query.get("state", [""])[0]}
            self.send_response(302)
            self.send_header("Location", f"{query['redirect_uri'][0]}?{urlencode(code)}")
            self.end_headers()
        elif url.path == "/hub/api/user" and self.headers.get("Authorization", "").split(" ")[-1] in self.tokens:
            self.answer(200, {"kind": "user", "name": "viewer", "admin": False, "groups": [], "scopes": self.scopes})
        else:
            self.answer(403, {"status": 403, "message": "not for the stand-in"})

    def do_POST(self) -> None:
        path = urlparse(self.path).path
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if path == "/hub/api/oauth2/token":
            token = secrets.token_hex(16)
            self.tokens.add(token)
            self.answer(200, {"access_token": token, "token_type": "Bearer"})
        elif path.startswith("/hub/api/users/") and path.endswith("/activity"):
            self.answer(200, {})
        else:
            self.answer(403, {"status": 403, "message": "not for the stand-in"})

    def answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("X-JupyterHub-Version", self.version())
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    @staticmethod
    def version() -> str:
        import jupyterhub

        return jupyterhub.__version__

    def log_message(self, *_args) -> None:
        pass


class PublishedDashboardServer(ServerProcess):
    """The server of ``dashboard`` published by :data:`OWNER` over ``root``, started as the hub's spawner starts it
    (``spawner/workbench.py``): JupyterHub's single-user server with the users' server configuration, the hub's
    variables (``hub``: the stand-in) and :func:`spawner.published.published_server`'s args and environment."""

    def __init__(self, root: Path, dashboard: Dashboard, hub: ThreadingHTTPServer, log_path: Path,
                 args: tuple[str, ...] = ()):
        self.root, self.port, self.log_path = root, free_port(), log_path
        name = server_name(dashboard)
        self.prefix = f"/user/{OWNER}/{name}/"
        published = published_server(dashboard, auth_cache_seconds=AUTH_CACHE_SECONDS, pool_size=1)
        hub_url, origin = f"http://127.0.0.1:{hub.server_port}", f"http://127.0.0.1:{self.port}"
        access = json.dumps([f"access:servers!server={OWNER}/{name}", f"access:servers!user={OWNER}"])
        # What JupyterHub gives every server it spawns (Spawner.get_env); the hub is on its own port here, not on
        # the server's origin behind the proxy, so its host and the OAuth callback are whole URLs
        hub_environment = {
            "JUPYTERHUB_API_TOKEN": secrets.token_hex(16),
            "JUPYTERHUB_CLIENT_ID": f"jupyterhub-user-{OWNER}-{name}",
            "JUPYTERHUB_HOST": hub_url,
            "JUPYTERHUB_OAUTH_CALLBACK_URL": f"{origin}{self.prefix}oauth_callback",
            "JUPYTERHUB_OAUTH_SCOPES": access,
            "JUPYTERHUB_OAUTH_ACCESS_SCOPES": access,
            "JUPYTERHUB_USER": OWNER,
            "JUPYTERHUB_SERVER_NAME": name,
            "JUPYTERHUB_API_URL": f"{hub_url}/hub/api",
            "JUPYTERHUB_ACTIVITY_URL": f"{hub_url}/hub/api/users/{OWNER}/activity",
            "JUPYTERHUB_BASE_URL": "/",
            "JUPYTERHUB_SERVICE_PREFIX": self.prefix,
            "JUPYTERHUB_SERVICE_URL": f"{origin}{self.prefix}",
            "JUPYTERHUB_DEFAULT_URL": published.default_url,
        }
        self.log = open(log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub.singleuser", "--allow-root", f"--ServerApp.root_dir={root}",
             *published.args, *args],
            cwd=root, env={**os.environ, **jupyter_environment(), **hub_environment, **published.environment},
            stdout=self.log, stderr=subprocess.STDOUT,
        )
        try:
            # the server's version is the one API it answers: the hub asks it to know the server is up
            wait_for(lambda: requests.get(self.url("api"), timeout=1).ok, 90, f"published server ({log_path})")
        except BaseException:
            self.stop()
            raise

    def url(self, path: str = "") -> str:
        """``path`` below the server's own address (that address itself redirects to the dashboard's page)."""
        return f"http://127.0.0.1:{self.port}{self.prefix}{path}"


class StockVoila(ServerProcess):
    """Stock Voila serving one notebook with its own kernel preheating, none of this repository's settings."""

    def __init__(self, notebook: Path, log_path: Path):
        self.port = free_port()
        self.log = open(log_path, "w")
        environment = {key: value for key, value in os.environ.items() if not key.startswith("JUPYTER_")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "voila", str(notebook), "--no-browser", f"--port={self.port}",
             "--Voila.ip=127.0.0.1", "--preheat_kernel=True", "--pool_size=1"],
            cwd=notebook.parent, env=environment, stdout=self.log, stderr=subprocess.STDOUT,
        )
        try:
            # listening is enough: a page request now would take the kernel being preheated
            wait_for(lambda: port_open(self.port), 90, f"Voila ({log_path})")
        except BaseException:
            self.stop()
            raise

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


def load_page(browser, url: str, ready: str | None, shown: str | None = None) -> dict:
    """One first visit of ``url``: seconds to interactive and what they went to (and with ``shown``, a selector,
    ``missing``: 1 if the page did not show it within 10 s of being interactive)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    external, sent, received = [], [0], [0]
    interactive = [False]
    page.on("request", lambda request: external.append(request.url)
            if urlparse(request.url).hostname not in ("127.0.0.1", "localhost", None) else None)

    def watch(websocket):
        def on_sent(_payload):
            if not interactive[0]:
                sent[0] += 1

        def on_received(payload):
            received[0] += len(payload or b"")
        websocket.on("framesent", on_sent)
        websocket.on("framereceived", on_received)
    page.on("websocket", watch)
    page.add_init_script(WEBSOCKET_CLOCK)
    devtools = context.new_cdp_session(page)
    devtools.send("Performance.enable")
    try:
        page.goto(url, wait_until="load", timeout=180_000)
        if ready:
            page.wait_for_selector(ready, timeout=180_000)
        seconds = page.evaluate("performance.now()") / 1000
        interactive[0] = True
        timing = page.evaluate("""() => {
            const nav = performance.getEntriesByType('navigation')[0];
            const bytes = performance.getEntriesByType('resource').reduce((sum, e) => sum + e.transferSize, 0);
            return {server: nav.responseEnd - nav.requestStart, redirects: nav.fetchStart - nav.startTime,
                    bytes: bytes + nav.transferSize, websocket: window.__firstWebSocketAt ?? null};
        }""")
        metrics = {entry["name"]: entry["value"] for entry in devtools.send("Performance.getMetrics")["metrics"]}
        opened = timing["websocket"]
        missing = {}
        if shown:
            from playwright.sync_api import TimeoutError as PlaywrightTimeout

            try:
                page.wait_for_selector(shown, state="attached", timeout=10_000)
                missing = {"missing": 0}
            except PlaywrightTimeout:
                missing = {"missing": 1}
        return {
            "tti_s": seconds,
            "server_s": timing["server"] / 1000,
            "redirects_s": timing["redirects"] / 1000,
            "bytes": timing["bytes"] + received[0],
            "script_s": metrics.get("ScriptDuration", 0.0),
            "widgets_s": seconds - opened / 1000 if opened is not None else 0.0,
            "round_trips": sent[0],
            "external": len(external),
            **missing,
        }
    finally:
        context.close()


def median_figures(loads: list[dict]) -> dict:
    return {key: statistics.median(load[key] for load in loads) for key in loads[0]
            if key not in ("external", "missing")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--refill", type=float, default=8.0, help="seconds for the preheated pools to refill")
    parser.add_argument("--published-only", action="store_true",
                        help="only the published notebook: published and unpublished")
    args = parser.parse_args()
    rounds = 1 if args.quick else args.rounds
    dashboards = [] if args.published_only else load_manifest(ROOT / "notebooks" / "dashboards.json")
    notebooks = [dashboard.notebook for dashboard in dashboards]
    modes = () if args.published_only else MODES
    # the unpublished notebook is opened in the cold server, a user's server with nothing preheated
    user_modes = [mode for mode in ("cold", "warm", "preheated") if mode in modes or mode == "cold"]

    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="dashboard-bench-"))
    for mode in [*user_modes, *(["stock"] if "stock" in modes else [])]:
        (work / mode / FOLDER).mkdir(parents=True)
        for notebook in notebooks:
            shutil.copy(ROOT / "notebooks" / notebook, work / mode / FOLDER / notebook)
    shutil.copy(REPORT, work / "cold" / REPORT.name)  # the owner's notebook, in their home
    snapshot = work / "published" / FOLDER / PUBLISHED.notebook  # what publishing it took
    snapshot.parent.mkdir(parents=True)
    shutil.copy(REPORT, snapshot)
    servers: dict = {}
    urls: dict = {}
    hub = HubStandIn.start(f"{OWNER}/{server_name(PUBLISHED)}")
    try:
        for mode in user_modes:
            servers[mode] = UserServer(work / mode, work / f"{mode}.log", env=preheating(dashboards, mode),
                                       args=MEASURING)
            for notebook in notebooks:
                urls[mode, notebook] = servers[mode].url(f"voila/render/{FOLDER}/{notebook}")
        for notebook in notebooks:
            stock = StockVoila(work / "stock" / FOLDER / notebook, work / f"stock-{notebook}.log")
            servers["stock", notebook] = stock
            urls["stock", notebook] = stock.url()
        servers["published"] = PublishedDashboardServer(work / "published", PUBLISHED, hub, work / "published.log",
                                                        args=MEASURING)
        urls["published", REPORT.name] = servers["published"].url()
        urls["unpublished", REPORT.name] = servers["cold"].url(f"voila/render/{REPORT.name}")
        loads: dict = {(mode, notebook): [] for mode in modes for notebook in notebooks}
        loads.update({(mode, REPORT.name): [] for mode in PUBLISHED_MODES})
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            time.sleep(args.refill + 2 * (len(notebooks) + 1))  # every pool's first kernel has run its notebook
            for round_number in range(rounds):
                for notebook, notebook_modes in [*((n, modes) for n in notebooks), (REPORT.name, PUBLISHED_MODES)]:
                    for mode in notebook_modes:
                        loads[mode, notebook].append(
                            load_page(browser, urls[mode, notebook], READY.get(notebook), SHOWN.get(notebook)))
                    print(f"round {round_number + 1} {notebook}: " + ", ".join(
                        f"{mode} {loads[mode, notebook][-1]['tti_s']:.2f} s" for mode in notebook_modes),
                        file=sys.stderr)
                    time.sleep(args.refill)
            browser.close()
    finally:
        for server in servers.values():
            server.stop()
        hub.shutdown()
        shutil.rmtree(work, ignore_errors=True)

    figures = {notebook: {mode: median_figures(loads[mode, notebook]) for mode in modes} for notebook in notebooks}
    figures[REPORT.name] = {mode: median_figures(loads[mode, REPORT.name]) for mode in PUBLISHED_MODES}
    print(f"\n{'dashboard':26} {'mode':11} {'interactive':>11} {'server':>8} {'redirects':>9} {'MB':>6} "
          f"{'script':>7} {'widgets':>8} {'round trips':>11}")
    for notebook, rows in figures.items():
        for mode, row in rows.items():
            print(f"{notebook:26} {mode:11} {row['tti_s']:10.2f}s {row['server_s']:7.2f}s {row['redirects_s']:8.2f}s "
                  f"{row['bytes'] / 1e6:6.2f} {row['script_s']:6.2f}s {row['widgets_s']:7.2f}s "
                  f"{row['round_trips']:11.0f}")
    for (mode, notebook), runs in loads.items():
        if sum(load.get("missing", 0) for load in runs):
            print(f"{notebook} {mode}: {SHOWN[notebook]} not shown in {sum(load['missing'] for load in runs)} of "
                  f"{len(runs)} loads")

    def slowest(mode: str) -> float | None:
        return round(max(figures[n][mode]["tti_s"] for n in notebooks), 2) if notebooks else None

    published, unpublished = (figures[REPORT.name][mode]["tti_s"] for mode in PUBLISHED_MODES)
    print(json.dumps({
        "benchmark": "dashboard",
        "rounds": rounds,
        "load_average": round(os.getloadavg()[0], 2),
        "preheated_tti_max_median_s": slowest("preheated"),
        "cold_tti_max_median_s": slowest("cold"),
        "stock_voila_tti_max_median_s": slowest("stock"),
        "dashboards": {notebook: {mode: {key: round(value, 3) for key, value in row.items()}
                                  for mode, row in rows.items()} for notebook, rows in figures.items()},
        # stock Voila asks CDNs for its fonts and MathJax; this hub's pages may ask none
        "external_requests": sum(load["external"] for (mode, _), runs in loads.items() if mode != "stock"
                                 for load in runs),
        "ratio": round(statistics.median(figures[n]["cold"]["tti_s"] / figures[n]["preheated"]["tti_s"]
                                         for n in notebooks), 2) if notebooks else None,
        "published_tti_median_s": round(published, 2),
        "unpublished_tti_median_s": round(unpublished, 2),
        "published_vs_unpublished_ratio": round(published / unpublished, 2),
    }))


if __name__ == "__main__":
    main()
