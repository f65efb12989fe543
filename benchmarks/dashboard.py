"""Time to interactive of each dashboard in Chromium: preheated, cold, and stock Voila preheating as the anchor.

    python benchmarks/dashboard.py            # every dashboard in notebooks/dashboards.json, 3 rounds
    python benchmarks/dashboard.py --quick    # 1 round

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

For each page it also prints what the time went to: ``server`` (request to the HTML's last byte: for a
preheated page the pre-rendered notebook, for a cold one the kernel's start and the whole notebook's run),
``bytes`` (HTTP bodies and the kernel's websocket frames), ``script`` (the main thread's time in JavaScript,
Chromium's ScriptDuration), ``widgets`` (from the kernel's websocket opening to interactive: widget state and
views) and ``round trips`` (messages the page sent its kernel before it was interactive). Requests to hosts other
than this machine are counted: offline, none may block rendering. Medians per dashboard; the last line is one
JSON object with ``preheated_tti_max_median_s`` and ``cold_tti_max_median_s`` (the slowest dashboard's median)
and every dashboard's figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

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
}
MODES = ("cold", "warm", "preheated", "stock")
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


def load_page(browser, url: str, ready: str | None) -> dict:
    """One first visit of ``url``: seconds to interactive and what they went to."""
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
            return {server: nav.responseEnd - nav.requestStart, bytes: bytes + nav.transferSize,
                    websocket: window.__firstWebSocketAt ?? null};
        }""")
        metrics = {entry["name"]: entry["value"] for entry in devtools.send("Performance.getMetrics")["metrics"]}
        opened = timing["websocket"]
        return {
            "tti_s": seconds,
            "server_s": timing["server"] / 1000,
            "bytes": timing["bytes"] + received[0],
            "script_s": metrics.get("ScriptDuration", 0.0),
            "widgets_s": seconds - opened / 1000 if opened is not None else 0.0,
            "round_trips": sent[0],
            "external": len(external),
        }
    finally:
        context.close()


def median_figures(loads: list[dict]) -> dict:
    return {key: statistics.median(load[key] for load in loads) for key in loads[0] if key != "external"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--refill", type=float, default=8.0, help="seconds for the preheated pools to refill")
    args = parser.parse_args()
    rounds = 1 if args.quick else args.rounds
    manifest = json.loads((ROOT / "notebooks" / "dashboards.json").read_text())["dashboards"]
    notebooks = [entry["notebook"] for entry in manifest]

    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="dashboard-bench-"))
    for mode in MODES:
        (work / mode / "dashboards").mkdir(parents=True)
        for notebook in notebooks:
            shutil.copy(ROOT / "notebooks" / notebook, work / mode / "dashboards" / notebook)
    heated = " ".join(f"dashboards/{notebook}" for notebook in notebooks)
    servers: dict = {}
    urls: dict = {}
    try:
        for mode in ("cold", "warm", "preheated"):
            servers[mode] = UserServer(work / mode, work / f"{mode}.log", env={
                "WORKBENCH_PREHEAT_NOTEBOOKS": heated if mode != "cold" else "",
                "WORKBENCH_PREHEAT_POOL_SIZE": "1" if mode == "preheated" else "0",
                "WORKBENCH_WARM_KERNELS": "1" if mode == "warm" else "0",
            }, args=("--PreheatingKernelManager.busy_threshold=1",))  # pools fill however busy: pages are measured
            for notebook in notebooks:
                urls[mode, notebook] = servers[mode].url(f"voila/render/dashboards/{notebook}")
        for notebook in notebooks:
            stock = StockVoila(work / "stock" / "dashboards" / notebook, work / f"stock-{notebook}.log")
            servers["stock", notebook] = stock
            urls["stock", notebook] = stock.url()
        loads: dict = {(mode, notebook): [] for mode in MODES for notebook in notebooks}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            time.sleep(args.refill + 2 * len(notebooks))  # every pool's first kernel has run its notebook
            for round_number in range(rounds):
                for notebook in notebooks:
                    for mode in MODES:
                        loads[mode, notebook].append(load_page(browser, urls[mode, notebook], READY.get(notebook)))
                    print(f"round {round_number + 1} {notebook}: " + ", ".join(
                        f"{mode} {loads[mode, notebook][-1]['tti_s']:.2f} s" for mode in MODES), file=sys.stderr)
                    time.sleep(args.refill)
            browser.close()
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(work, ignore_errors=True)

    figures = {notebook: {mode: median_figures(loads[mode, notebook]) for mode in MODES} for notebook in notebooks}
    print(f"\n{'dashboard':26} {'mode':10} {'interactive':>11} {'server':>8} {'MB':>6} {'script':>7} "
          f"{'widgets':>8} {'round trips':>11}")
    for notebook in notebooks:
        for mode in MODES:
            row = figures[notebook][mode]
            print(f"{notebook:26} {mode:10} {row['tti_s']:10.2f}s {row['server_s']:7.2f}s "
                  f"{row['bytes'] / 1e6:6.2f} {row['script_s']:6.2f}s {row['widgets_s']:7.2f}s "
                  f"{row['round_trips']:11.0f}")
    print(json.dumps({
        "benchmark": "dashboard",
        "rounds": rounds,
        "load_average": round(os.getloadavg()[0], 2),
        "preheated_tti_max_median_s": round(max(figures[n]["preheated"]["tti_s"] for n in notebooks), 2),
        "cold_tti_max_median_s": round(max(figures[n]["cold"]["tti_s"] for n in notebooks), 2),
        "stock_voila_tti_max_median_s": round(max(figures[n]["stock"]["tti_s"] for n in notebooks), 2),
        "dashboards": {notebook: {mode: {key: round(value, 3) for key, value in row.items()}
                                  for mode, row in modes.items()} for notebook, modes in figures.items()},
        # stock Voila asks CDNs for its fonts and MathJax; this hub's pages may ask none
        "external_requests": sum(load["external"] for (mode, _), runs in loads.items() if mode != "stock"
                                 for load in runs),
        "ratio": round(statistics.median(
            figures[n]["cold"]["tti_s"] / figures[n]["preheated"]["tti_s"] for n in notebooks), 2),
    }))


if __name__ == "__main__":
    main()
