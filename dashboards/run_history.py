"""The load-test dashboard's past runs: a sortable table of the recorded runs (what ran, how hard, how it went),
whose selection loads one run into the graph or compares several, and the comparison itself (a table, a
percentile chart, and each run's rates and p99 on one time-since-start axis in the graph).

Kept apart from :mod:`dashboards.load_test`, which composes it with the form and the live run.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Iterable, Mapping

import ipywidgets as w

from profiler.chart_theme import COLORWAY, SERIES_COLORS, template_json, themed
from profiler.loadtest import Run, compare
from profiler.loadtest.stats import PERCENTILES, drawn_intervals
from widgets import Figure
from widgets.data_table import DataTable
from widgets.message import Message, plain_reason

SERIES = [
    {"name": "throughput", "label": "throughput", "unit": "req/s", "axis": "y", "color": SERIES_COLORS["throughput"]},
    {"name": "errors", "label": "errors", "unit": "/s", "axis": "y", "color": SERIES_COLORS["errors"]},
    {"name": "throttles", "label": "throttles", "unit": "/s", "axis": "y", "color": SERIES_COLORS["throttles"]},
    {"name": "p50", "label": "p50 latency", "unit": "ms", "axis": "y2", "color": SERIES_COLORS["p50"]},
    {"name": "p95", "label": "p95 latency", "unit": "ms", "axis": "y2", "color": SERIES_COLORS["p95"]},
    {"name": "p99", "label": "p99 latency", "unit": "ms", "axis": "y2", "color": SERIES_COLORS["p99"]},
]
COLUMNS = [
    {"key": "name", "label": "name"},
    {"key": "when", "label": "when", "kind": "datetime"},
    {"key": "status", "label": "status"},
    {"key": "mix", "label": "mix"},
    {"key": "load", "label": "concurrency / rate"},
    {"key": "duration", "label": "duration", "kind": "duration"},
    {"key": "requests", "label": "requests", "kind": "number", "digits": 0},
    {"key": "throughput", "label": "req/s", "kind": "number", "unit": "req/s", "digits": 1},
    {"key": "p50", "label": "p50", "kind": "number", "unit": "ms", "digits": 2},
    {"key": "p99", "label": "p99", "kind": "number", "unit": "ms", "digits": 2},
    {"key": "errors", "label": "errors", "kind": "number", "digits": 0},
]
NO_RUNS = "No recorded runs yet: every load test you start is kept here, to load again or compare."
COMPARED = [
    {"key": "name", "label": "run"}, {"key": "status", "label": "status"}, {"key": "model", "label": "model"},
    {"key": "requests", "label": "requests", "kind": "number", "digits": 0},
    {"key": "throughput", "label": "throughput", "kind": "number", "unit": "req/s", "digits": 1},
    {"key": "errors", "label": "errors", "kind": "number", "digits": 0},
    {"key": "throttles", "label": "throttles", "kind": "number", "digits": 0},
    *({"key": f"{n}_ms", "label": n, "kind": "number", "unit": "ms", "digits": 2} for n in PERCENTILES),
]


def run_label(run_id: str, name: str, started: str) -> str:
    """What people call a run: its name, else its start time (an id says nothing to a reader)."""
    if name:
        return name
    return f"run {started[11:19]} UTC" if len(started) >= 19 else run_id


def label_of(run: Run) -> str:
    return run_label(run.run_id, run.config.get("name", ""), run.config.get("started", ""))


def graph_point(record: Mapping[str, Any]) -> dict[str, float]:
    """One interval as graph values: rates per second, latency percentiles in ms (missing ones leave a gap)."""
    seconds = record.get("seconds") or 0
    latency = record.get("latency_us") or {}
    point = {
        "throughput": record.get("throughput", 0.0),
        "errors": sum((record.get("errors") or {}).values()) / seconds if seconds else float("nan"),
        "throttles": sum((record.get("throttles") or {}).values()) / seconds if seconds else float("nan"),
    }
    point.update({name: latency[name] / 1000 if name in latency else float("nan") for name in ("p50", "p95", "p99")})
    return point


def interval_of(run: Run) -> float:
    return float((run.config.get("spec") or {}).get("interval") or 1.0)


def ended_at(run: Run) -> float | None:
    """Epoch seconds of the run's end, or of its last recorded interval when it has no end record."""
    if run.end and run.end.get("ended"):
        try:
            return dt.datetime.fromisoformat(run.end["ended"]).timestamp()
        except ValueError:
            pass
    timed = [record for record in run.intervals if record.get("start") is not None]
    return timed[-1]["start"] + timed[-1].get("seconds", 0) if timed else None


def caption(name: str, status: str, at: float | None) -> str:
    """The graph's caption for one run; ``{t:...}`` is shown in the viewer's clock, as the time axis is (a run
    without a name is not called by its UTC start time there, which would read as a second, different clock)."""
    when = f" {{t:{at:.3f}}}" if at is not None else ""
    named = f"Run '{name}'" if name else "Unnamed run"
    return f"{named} · {status}{when}"


def mix_text(operations: Mapping[str, float]) -> str:
    weights = {name: weight for name, weight in (operations or {}).items() if weight}
    total = sum(weights.values())
    if not total:
        return ""
    ordered = sorted(weights.items(), key=lambda item: -item[1])
    return " · ".join(f"{name} {100 * weight / total:.0f}%" for name, weight in ordered)


def load_text(spec: Mapping[str, Any]) -> str:
    if spec.get("target_rate"):
        return f"open {spec['target_rate']:g}/s"
    return f"closed ×{spec.get('concurrency')}" if spec.get("concurrency") else ""


def history_row(run: Run) -> dict[str, Any]:
    """One row of the past-runs table: what ran, how hard, and how it went (the measured phase)."""
    # An ended run's end record holds its cumulative figures; recomputing them merges every interval's histogram.
    summary = (run.end or {}).get("cumulative") or run.summary()
    spec = run.config.get("spec") or {}
    latency = summary.get("latency_us") or {}
    return {
        "run_id": run.run_id, "name": label_of(run), "when": run.config.get("started", ""), "status": run.status,
        "mix": mix_text(spec.get("operations") or {}), "load": load_text(spec), "duration": summary.get("seconds"),
        "requests": summary.get("requests"), "throughput": summary.get("throughput"),
        **{name: latency[name] / 1000 if name in latency else None for name in ("p50", "p99")},
        "errors": sum((summary.get("errors") or {}).values()),
    }


def percentile_figure(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Grouped bars: each run's latency percentiles in ms (the plotly JSON the Figure widget shows)."""
    names = list(PERCENTILES)
    data = [{"type": "bar", "name": f"{row['label']} ({row['status']})", "x": names,
             "y": [None if row.get(f"{name}_us") is None else row[f"{name}_us"] / 1000 for name in names],
             "marker": {"color": run_color(index)}}
            for index, row in enumerate(rows)]
    layout = {"barmode": "group", "title": {"text": "Latency percentiles of the measured phase"},
              "xaxis": {"title": {"text": "percentile"}}, "yaxis": {"title": {"text": "latency (ms)"}},
              "margin": {"t": 48, "r": 16}, "legend": {"orientation": "h"}}
    return themed({"data": data, "layout": layout})


def run_color(index: int) -> str:
    return COLORWAY[index % len(COLORWAY)]


def comparison_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The compared runs as the comparison table's rows: latencies in ms, each run by its label (else its id)."""
    table = []
    for row in rows:
        shown = {**row, "name": row.get("label") or row.get("name") or row["run_id"]}
        for name in PERCENTILES:
            value = row.get(f"{name}_us")
            shown[f"{name}_ms"] = None if value is None else value / 1000
        table.append({"run_id": row["run_id"], **{column["key"]: shown.get(column["key"]) for column in COMPARED}})
    return table


def comparison_series(labels: list[str]) -> list[dict[str, Any]]:
    """Each run's throughput (left axis) and p99 (right axis), named after the run."""
    series = []
    for index, label in enumerate(labels):
        # a run keeps one colour on both axes and in the percentile chart, told apart by its label
        color = run_color(index)
        series.append({"name": f"run{index}-throughput", "label": f"{label} req/s", "unit": "req/s", "axis": "y",
                       "connect": True, "color": color})
        series.append({"name": f"run{index}-p99", "label": f"{label} p99", "unit": "ms", "axis": "y2",
                       "connect": True, "color": color})
    return series


def comparison_points(runs: list[Run]) -> tuple[list[float], dict[str, list[float]]]:
    """The runs' intervals on one axis of seconds since each run's start, merged in time order."""
    rows: list[tuple[float, str, float]] = []
    for index, run in enumerate(runs):
        first = next((record["start"] for record in run.intervals if record.get("start") is not None), None)
        for record in drawn_intervals(run.intervals, interval_of(run)):
            point = graph_point(record)
            x = record["start"] + record["seconds"] - first
            rows += [(x, f"run{index}-throughput", point["throughput"]), (x, f"run{index}-p99", point["p99"])]
    rows.sort(key=lambda row: row[0])
    names = [name for index in range(len(runs)) for name in (f"run{index}-throughput", f"run{index}-p99")]
    times = sorted({x for x, _, _ in rows})
    position = {x: i for i, x in enumerate(times)}
    columns = {name: [float("nan")] * len(times) for name in names}
    for x, name, value in rows:
        columns[name][position[x]] = value
    return times, columns


class RunHistory:
    """The table of recorded runs and the comparison below it; ``on_select(run_ids)`` is called with the
    selection (in the order picked) whenever it changes."""

    def __init__(self, store, on_select: Callable[[list[str]], None]):
        self.store = store
        self.table = DataTable(columns=COLUMNS, row_key="run_id", label="Past runs", sort_by="when",
                               descending=True, empty_text=NO_RUNS)
        self.refresh_button = w.Button(description="Refresh", icon="refresh",
                                       tooltip="List the runs recorded since this page opened")
        self.refresh_button.on_click(lambda _button: self.refresh())
        self.hint = w.HTML("<p class='workbench-muted'>Tick one run to load it into the graph, two or more to "
                           "compare them. Click a column's name to sort by it.</p>")
        self.message = Message()
        self.comparison = DataTable(columns=COMPARED, row_key="run_id", selectable="none", label="Compared runs",
                                    empty_text="", layout=w.Layout(display="none"))
        self.figure = Figure(height=360, dark_template=template_json(dark=True), layout=w.Layout(display="none"))
        self._loaded: dict[str, Run] = {}
        self.table.observe(lambda change: on_select(list(change["new"])), "selection")

    def widget(self) -> w.Widget:
        return w.VBox([self.hint, self.table, self.refresh_button, self.message, self.comparison, self.figure])

    def run(self, run_id: str) -> Run:
        """The stored run; a run that has ended never changes, so it is read from the store once."""
        run = self._loaded.get(run_id)
        if run is None or run.end is None:
            run = self.store.load(run_id)
            self._loaded[run_id] = run
        return run

    def refresh(self) -> None:
        try:
            infos = self.store.list_runs()
        except Exception as error:  # noqa: BLE001 - e.g. the runs table is unreachable
            self.message.error(plain_reason(error), title="The past runs cannot be listed:")
            return
        rows, unreadable = [], []
        for info in sorted(infos, key=lambda info: info.run_id, reverse=True):
            try:
                rows.append(history_row(self.run(info.run_id)))
            except Exception as error:  # noqa: BLE001 - one unreadable run must not hide the others
                unreadable.append(f"{run_label(info.run_id, info.name, info.started)}: {error}")
                rows.append({"run_id": info.run_id, "name": run_label(info.run_id, info.name, info.started),
                             "when": info.started, "status": info.status})
        self.table.rows = rows
        if unreadable:
            self.message.error([f"Could not read {text}" for text in unreadable])
        else:
            self.message.clear()

    def compare(self, run_ids: Iterable[str]) -> tuple[list[Run], list[dict[str, Any]]]:
        """Load the runs and show their table and percentile chart; the runs and the rows (labelled)."""
        runs = [self.run(run_id) for run_id in run_ids]
        rows = [{**row, "label": label_of(run)} for run, row in zip(runs, compare(runs), strict=True)]
        self.comparison.rows = comparison_rows(rows)
        self.comparison.layout.display = None
        self.figure.show(percentile_figure(rows))
        self.figure.layout.display = None
        return runs, rows

    def clear_comparison(self) -> None:
        self.comparison.rows = []
        self.comparison.layout.display = "none"
        self.figure.layout.display = "none"
