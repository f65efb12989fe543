"""Time to interactive of each dashboard in Chromium, in a user's server with and without kernel preheating.

    python benchmarks/dashboard.py            # every dashboard in notebooks/dashboards.json, 3 rounds
    python benchmarks/dashboard.py --quick    # 1 round

Time to interactive: from the navigation's start until the page has loaded and the control a person uses
first is on it (``READY`` below; ``performance.now()`` in the page when it appears). Both servers are what the
hub starts for a user: a Jupyter server with the repository's ``user_server/jupyter_config`` and Voila as a server
extension, serving the dashboards from ``dashboards/``. "default" is told to preheat nothing, so each page load
starts a kernel that runs the whole notebook; "preheated" gets the variables the hub sets by default
(``user_server/voila_preheat.py``: one kernel per dashboard that already ran it; the pool refills between rounds).
Requests to hosts other than this machine are counted: offline, none may block rendering. Medians per
dashboard; last line one JSON object whose ``ratio`` is the median over dashboards of default / preheated.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from testing.user_server import UserServer  # noqa: E402 - the user-like server the browser tests use

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



def time_to_interactive(browser, url: str, ready: str | None) -> tuple[float, int]:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    external = []
    page.on("request", lambda request: external.append(request.url)
            if urlparse(request.url).hostname not in ("127.0.0.1", "localhost", None) else None)
    try:
        page.goto(url, wait_until="load", timeout=180_000)
        if ready:
            page.wait_for_selector(ready, timeout=180_000)
        return page.evaluate("performance.now()") / 1000, len(external)
    finally:
        page.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--refill", type=float, default=8.0, help="seconds for the preheated pool to refill")
    args = parser.parse_args()
    rounds = 1 if args.quick else args.rounds
    manifest = json.loads((ROOT / "notebooks" / "dashboards.json").read_text())["dashboards"]
    notebooks = [entry["notebook"] for entry in manifest]

    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="dashboard-bench-"))
    folders = {}
    for mode in ("default", "preheated"):
        folders[mode] = work / mode
        (folders[mode] / "dashboards").mkdir(parents=True)
        for notebook in notebooks:
            shutil.copy(ROOT / "notebooks" / notebook, folders[mode] / "dashboards" / notebook)
    heated = " ".join(f"dashboards/{notebook}" for notebook in notebooks)
    servers = {
        mode: UserServer(folders[mode], work / f"{mode}.log", env={
            "WORKBENCH_PREHEAT_NOTEBOOKS": heated if mode == "preheated" else "", "WORKBENCH_PREHEAT_POOL_SIZE": "1",
        })
        for mode in folders
    }
    times = {mode: {notebook: [] for notebook in notebooks} for mode in servers}
    external = 0
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            time.sleep(args.refill)  # the preheated pool's first kernels run their notebooks
            for round_number in range(rounds):
                for notebook in notebooks:
                    for mode in ("default", "preheated"):
                        url = servers[mode].url(f"voila/render/dashboards/{notebook}")
                        seconds, outside = time_to_interactive(browser, url, READY.get(notebook))
                        times[mode][notebook].append(seconds)
                        external += outside
                    print(f"round {round_number + 1} {notebook}: default {times['default'][notebook][-1]:.2f} s, "
                          f"preheated {times['preheated'][notebook][-1]:.2f} s", file=sys.stderr)
                    time.sleep(args.refill)
            browser.close()
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(work, ignore_errors=True)

    figures = {}
    ratios = []
    print(f"{'dashboard':32} {'default s':>10} {'preheated s':>12} {'ratio':>7}")
    for notebook in notebooks:
        default = statistics.median(times["default"][notebook])
        preheated = statistics.median(times["preheated"][notebook])
        ratios.append(default / preheated)
        figures[notebook] = {"default_s": round(default, 2), "preheated_s": round(preheated, 2)}
        print(f"{notebook:32} {default:10.2f} {preheated:12.2f} {default / preheated:7.2f}")
    print(json.dumps({
        "benchmark": "dashboard",
        "rounds": rounds,
        "load_average": round(os.getloadavg()[0], 2),
        "dashboards": figures,
        "external_requests": external,
        "ratio": round(statistics.median(ratios), 2),
    }))


if __name__ == "__main__":
    main()
