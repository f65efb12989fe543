"""JsonViewer in Chromium: first paint and expand time for a ~100k-value document, against an eager anchor.

    python benchmarks/json_viewer.py            # 9,000 records (~100k values), 3 rounds
    python benchmarks/json_viewer.py --quick    # 900 records, 1 round

Ours: the JsonViewer in a Voila page of a Jupyter server configured as users' servers are (the repository's
``user_server/jupyter_config``, Voila as a server extension). First paint is the viewer's own
``json-viewer:first-paint`` performance entry: from the start of its render to the first frame painted after it
is on the page (the data stays in the kernel; only the first level is in the widget state). Expand is a click
on a range of 100 records (100 rows fetched from the kernel), and on one record, until the new rows are painted.
The kernel's cost of building the widget is reported too. The same page is also measured from a server that
differs only in using jupyter_server's stock kernel websocket (Nagle's algorithm on;
``user_server/kernel_websocket.py`` says why that matters): ``stock_*`` figures.

Anchor: the naive eager render, a ``<details>`` element per container for the whole document, in a plain page:
from the start of the script (the JSON text already in the page) to the first frame painted after it; expand is
opening one record's ``<details>``. Measured once in headless Chromium on a 2-core machine, it took ~5.7 s for
~120k values, and a 1,000-deep document crashed the tab.

Goal: first paint <= 300 ms and expand <= 50 ms for ours. Rounds alternate ours and the anchor; medians.
The machine's load average is printed with the figures. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from testing.user_server import UserServer  # noqa: E402 - the user-like server the browser tests use

CHROMIUM = os.environ.get("WORKBENCH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
VALUES_PER_RECORD = 11  # scalars in one record below; plus the record and its two inner containers

# Resolves once a node matching `selector` exists (watching DOM insertions), then after the next paint.
AFTER_PAINT = """
const appeared = (selector) => new Promise((resolve) => {
  if (document.querySelector(selector)) return resolve();
  const observer = new MutationObserver(() => {
    if (document.querySelector(selector)) { observer.disconnect(); resolve(); }
  });
  observer.observe(document.body, { childList: true, subtree: true });
});
const painted = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve)));
"""
CLICK_AND_TIME = AFTER_PAINT + """
return (async () => {
  const start = performance.now();
  document.querySelector(CLICK).click();
  await appeared(WAIT);
  await painted();
  return performance.now() - start;
})();
"""


def make_document(records: int, seed: int = 1) -> dict:
    rng = random.Random(seed)
    return {
        "run": {"id": "bench", "started": "2026-01-01T00:00:00Z"},
        "records": [
            {
                "id": i,
                "user": f"user-{rng.randint(1, 10_000)}",
                "latency_ms": round(rng.uniform(0.3, 80), 3),
                "ok": rng.random() > 0.02,
                "bytes": rng.randint(100, 50_000),
                "tags": [rng.choice("abcdef") for _ in range(3)],
                "where": {"region": rng.choice(["eu", "us", "ap"]), "zone": rng.randint(1, 3), "host": f"h{i % 50}"},
            }
            for i in range(records)
        ],
    }


def count_values(value) -> int:
    stack, count = [value], 0
    while stack:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count



def notebook(data_file: Path) -> dict:
    source = f"""import json, time
import ipywidgets as w
from widgets.json_viewer import JsonViewer
with open({str(data_file)!r}) as handle:
    document = json.load(handle)
started = time.perf_counter()
viewer = JsonViewer(document)
build_ms = (time.perf_counter() - started) * 1000
state_bytes = len(json.dumps(viewer._root))
viewer.add_class("bench-viewer")
figures = f'<span class="kernel-figures" data-build-ms="{{build_ms:.3f}}" data-state-bytes="{{state_bytes}}"></span>'
w.VBox([w.HTML(figures), viewer])"""
    return {
        "cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source}],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def anchor_page(document_text: str) -> str:
    # The anchor: a <details> for every container, everything built before the first paint.
    return """<!doctype html><meta charset="utf-8"><body><div id="tree"></div>
<script id="data" type="application/json">""" + document_text.replace("</", "<\\/") + """</script>
<script>
window.benchStart = performance.now();
function build(key, value, depth) {
  if (value !== null && typeof value === "object") {
    const details = document.createElement("details");
    details.open = depth === 0;
    const summary = document.createElement("summary");
    const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
    summary.textContent = key + (Array.isArray(value) ? ` [${entries.length}]` : ` {${entries.length}}`);
    details.appendChild(summary);
    for (const [k, v] of entries) details.appendChild(build(k, v, depth + 1));
    return details;
  }
  const row = document.createElement("div");
  row.textContent = `${key}: ${JSON.stringify(value)}`;
  return row;
}
const data = JSON.parse(document.getElementById("data").textContent);
document.getElementById("tree").appendChild(build("data", data, 0));
requestAnimationFrame(() => setTimeout(() => { window.benchFirstPaint = performance.now() - window.benchStart; }));
</script>"""


def click_and_time(page, click: str, wait: str) -> float:
    """Milliseconds from a click on ``click`` until ``wait`` exists and the frame after it is painted."""
    script = f"(() => {{ const CLICK = {json.dumps(click)}, WAIT = {json.dumps(wait)};" + CLICK_AND_TIME + "})()"
    return page.evaluate(script)


def measure_ours(browser, url: str) -> dict:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(url)
        page.wait_for_selector('.bench-viewer .jv-row[data-path="1"]', timeout=120_000)
        page.wait_for_function("performance.getEntriesByName('json-viewer:first-paint').length > 0")
        first_paint = page.evaluate("performance.getEntriesByName('json-viewer:first-paint')[0].duration")
        figures = page.locator(".kernel-figures")
        expands = []
        # The "records" row is path 1; after it come its ranges of 100 (rows: root, run, records, ranges).
        page.click('.bench-viewer .jv-row[data-path="1"] .jv-caret')
        page.wait_for_selector(".bench-viewer .jv-range")
        for nth in (1, 2, 3):
            click = f".bench-viewer .jv-range:nth-child({4 + nth}) .jv-caret"
            expands.append(click_and_time(page, click, f'.bench-viewer .jv-row[data-path="1.{nth * 100}"]'))
            page.click(click)  # close it again so the next range is at the same place
        page.click(".bench-viewer .jv-range:nth-child(4) .jv-caret")
        page.wait_for_selector('.bench-viewer .jv-row[data-path="1.0"]')
        record_expands = [
            click_and_time(
                page,
                f'.bench-viewer .jv-row[data-path="1.{i}"] .jv-caret',
                f'.bench-viewer .jv-row[data-path="1.{i}.0"]',
            )
            for i in (2, 1, 0)  # bottom up, so opening one does not move the next
        ]
        return {
            "first_paint_ms": first_paint,
            "range_expand_ms": statistics.median(expands),
            "record_expand_ms": statistics.median(record_expands),
            "kernel_build_ms": float(figures.get_attribute("data-build-ms")),
            "state_bytes": int(figures.get_attribute("data-state-bytes")),
        }
    finally:
        page.close()


def measure_anchor(browser, html_file: Path) -> dict:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(html_file.as_uri(), timeout=300_000)
        page.wait_for_function("window.benchFirstPaint !== undefined", timeout=300_000)
        first_paint = page.evaluate("window.benchFirstPaint")
        click = "#tree > details > details:nth-of-type(2) > details:nth-of-type(1) > summary"
        wait = "#tree > details > details:nth-of-type(2) > details[open]"
        expand = click_and_time(page, click, wait)
        return {"first_paint_ms": first_paint, "record_expand_ms": expand}
    finally:
        page.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="900 records, 1 round")
    parser.add_argument("--records", type=int, help="records in the document (default 9,000: ~100k values)")
    parser.add_argument("--rounds", type=int)
    args = parser.parse_args()
    records = args.records or (900 if args.quick else 9_000)
    rounds = args.rounds or (1 if args.quick else 3)

    from playwright.sync_api import sync_playwright

    document = make_document(records)
    values = count_values(document)
    document_text = json.dumps(document)
    work = Path(tempfile.mkdtemp(prefix="bench_json_viewer_"))
    (work / "data.json").write_text(document_text)
    (work / "viewer.ipynb").write_text(json.dumps(notebook(work / "data.json")))
    anchor_file = work / "anchor.html"
    anchor_file.write_text(anchor_page(document_text))
    stock = "jupyter_server.services.kernels.connection.channels.ZMQChannelsWebsocketConnection"
    servers = {
        "ours": UserServer(work, work / "ours.log"),
        "stock": UserServer(work, work / "stock.log", args=(f"--ServerApp.kernel_websocket_connection_class={stock}",)),
    }
    ours, stock_runs, anchor = [], [], []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            for round_ in range(rounds):
                ours.append(measure_ours(browser, servers["ours"].url("voila/render/viewer.ipynb")))
                stock_runs.append(measure_ours(browser, servers["stock"].url("voila/render/viewer.ipynb")))
                anchor.append(measure_anchor(browser, anchor_file))
                print(f"round {round_ + 1}: ours {ours[-1]}  stock websocket {stock_runs[-1]}  anchor {anchor[-1]}",
                      file=sys.stderr)
            browser.close()
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(work, ignore_errors=True)

    def median(rows, key):
        return round(statistics.median(row[key] for row in rows), 1)

    result = {
        "benchmark": "json_viewer",
        "records": records,
        "values": values,
        "rounds": rounds,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "ours_first_paint_ms": median(ours, "first_paint_ms"),
        "ours_range_expand_ms": median(ours, "range_expand_ms"),
        "ours_record_expand_ms": median(ours, "record_expand_ms"),
        "ours_kernel_build_ms": median(ours, "kernel_build_ms"),
        "ours_initial_state_bytes": ours[0]["state_bytes"],
        "stock_range_expand_ms": median(stock_runs, "range_expand_ms"),
        "stock_record_expand_ms": median(stock_runs, "record_expand_ms"),
        "anchor_first_paint_ms": median(anchor, "first_paint_ms"),
        "anchor_record_expand_ms": median(anchor, "record_expand_ms"),
        "anchor_document_bytes": len(document_text),
        "goal_first_paint_ms": 300,
        "goal_expand_ms": 50,
    }
    result["ratio"] = round(result["anchor_first_paint_ms"] / max(result["ours_first_paint_ms"], 0.1), 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
