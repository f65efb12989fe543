"""Bytes sent over the widget comm per live update: LiveGraph vs plotly's FigureWidget.

Both widgets hold a run of N points in 5 series (requests/s, p50, p95, p99, errors) and receive the same
update: one new point in every series. FigureWidget has no extend-traces, so the update is the documented
way to add data: assign the longer arrays inside ``batch_update()``. Every message the widgets publish is
captured in-process by a comm that stands in for the kernel; a message counts as its JSON text plus its
binary buffers, which is what crosses the websocket. Rounds alternate between the two widgets; figures are
medians. Also reported: the bytes of each widget's comm_open (its JavaScript and initial state).

    python benchmarks/live_graph.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import comm
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import plotly.graph_objects as go

from widgets.live_graph import LiveGraph

SERIES = ["rps", "p50", "p95", "p99", "errors"]
SIZES = [1_000, 10_000, 100_000]


class CapturingComm(comm.DummyComm):
    """Stands in for the kernel's comm: keeps the size of every message a widget publishes."""

    kernel = "capturing"

    def __init__(self, *args, **kwargs):
        self.sizes: list[tuple[str, int]] = []
        super().__init__(*args, **kwargs)

    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
        text = json.dumps(data, default=str, separators=(",", ":"))
        self.sizes.append((msg_type, len(text.encode()) + sum(memoryview(buffer).nbytes for buffer in buffers or [])))

    def bytes_since(self, start: int) -> int:
        return sum(size for _, size in self.sizes[start:])


def fake_run(points: int, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    times = 1.7e9 + np.arange(points, dtype=np.float64)
    return times, {name: rng.random(points) * 100 for name in SERIES}


def new_point(t: float, rng: np.random.Generator) -> dict[str, float]:
    return {name: float(value) for name, value in zip(SERIES, rng.random(len(SERIES)) * 100, strict=True)}


def make_live_graph(times, values) -> LiveGraph:
    # Default max_points: a long run is held as recent points plus min/max buckets, as in real use.
    graph = LiveGraph(series=SERIES, flush_interval=0)
    graph.extend(times, values)
    return graph


def make_figure_widget(times, values) -> go.FigureWidget:
    return go.FigureWidget([go.Scatter(x=times, y=values[name], name=name, mode="lines") for name in SERIES])


def update_live_graph(graph: LiveGraph, t: float, point: dict) -> None:
    graph.append(t, point)


def update_figure_widget(figure: go.FigureWidget, t: float, point: dict) -> None:
    with figure.batch_update():
        for trace in figure.data:
            trace.x = np.append(trace.x, t)
            trace.y = np.append(trace.y, point[trace.name])


def measure(widget, update, t: float, point: dict) -> tuple[int, float]:
    start = len(widget.comm.sizes)
    began = time.perf_counter()
    update(widget, t, point)
    elapsed = time.perf_counter() - began
    return widget.comm.bytes_since(start), elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 rounds instead of 9")
    rounds = 3 if parser.parse_args().quick else 9
    comm.create_comm = CapturingComm
    rng = np.random.default_rng(1)
    result = {"benchmark": "live_graph", "series": len(SERIES), "rounds": rounds}
    rows = []
    for points in SIZES:
        times, values = fake_run(points, rng)
        graph, figure = make_live_graph(times, values), make_figure_widget(times, values)
        if points == SIZES[0]:
            result["open_bytes_live_graph"] = graph.comm.sizes[0][1]
            result["open_bytes_figure_widget"] = figure.comm.sizes[0][1]
        samples = {"live_graph": [], "figure_widget": []}
        t = times[-1]
        for _ in range(rounds):
            t += 1.0
            point = new_point(t, rng)
            samples["live_graph"].append(measure(graph, update_live_graph, t, point))
            samples["figure_widget"].append(measure(figure, update_figure_widget, t, point))
        ours = statistics.median(size for size, _ in samples["live_graph"])
        theirs = statistics.median(size for size, _ in samples["figure_widget"])
        ours_ms = statistics.median(seconds for _, seconds in samples["live_graph"]) * 1e3
        theirs_ms = statistics.median(seconds for _, seconds in samples["figure_widget"]) * 1e3
        rows.append((points, ours, theirs, ours_ms, theirs_ms))
        result[f"bytes_per_update_live_graph_{points}"] = ours
        result[f"bytes_per_update_figure_widget_{points}"] = theirs
        result[f"ms_per_update_live_graph_{points}"] = round(ours_ms, 3)
        result[f"ms_per_update_figure_widget_{points}"] = round(theirs_ms, 3)
        result[f"ratio_{points}"] = round(theirs / ours, 1)
        graph.close()
        figure.close()
    print(f"{'points':>8} {'LiveGraph B':>12} {'FigureWidget B':>15} {'ratio':>8} {'LG ms':>7} {'FW ms':>8}")
    for points, ours, theirs, ours_ms, theirs_ms in rows:
        print(f"{points:>8} {ours:>12,} {theirs:>15,} {theirs / ours:>8.1f} {ours_ms:>7.2f} {theirs_ms:>8.2f}")
    print(f"comm_open: LiveGraph {result['open_bytes_live_graph']:,} B, "
          f"FigureWidget {result['open_bytes_figure_widget']:,} B (its JavaScript is sent with every widget)")
    result["ratio"] = result[f"ratio_{SIZES[-1]}"]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
