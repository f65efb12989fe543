"""The load-test dashboard: describe a DynamoDB workload, run it, watch it live, keep and compare the runs.

A composition of the load-test engine (``profiler.loadtest``) and the widgets (``widgets``); the notebook
``notebooks/load_test.ipynb`` only builds and shows it. The engine runs in its own thread and calls the
dashboard's subscriber once per interval (from its delivery thread); the subscriber sets widget traits and
appends to the LiveGraph, which reach the page over the kernel's websocket. Nothing polls.

Viewers of a shared dashboard must not spend the owner's AWS: with ``allow_runs=False``, or when the sharing
setup sets ``WORKBENCH_DASHBOARD_VIEWER=1`` for the server, Start is off (and refused even if a click message
arrives) and only recorded runs can be loaded and compared.
"""

from __future__ import annotations

import html
import math
import os
import threading
from typing import Any, Mapping

import ipywidgets as w
import pandas as pd

from profiler import playground as playground_env
from profiler.loadtest import OPERATIONS, LoadTest, Run, SpecError, WorkloadSpec, compare, default_store
from profiler.loadtest.spec import DEFAULT_CONCURRENCY, DISTRIBUTIONS
from profiler.loadtest.stats import PERCENTILES
from profiler.playground import NoPlayground, Playground
from dashboards.common import VIEWER_ENV  # noqa: F401 - for callers
from dashboards.common import FormError, is_viewer, problems_html, read_form, table_html
from dashboards.style import stylesheet
from widgets import Figure, JsonViewer, LiveGraph, Progress, RequestTiming, RunTimer, section_anchor

READ_ONLY_NOTE = ("This is a shared view: starting a load test would spend the owner's AWS, so Start is off. "
                  "You can load, replay and compare the runs the owner recorded.")
SERIES = [
    {"name": "throughput", "label": "throughput", "unit": "req/s", "axis": "y"},
    {"name": "errors", "label": "errors", "unit": "/s", "axis": "y"},
    {"name": "throttles", "label": "throttles", "unit": "/s", "axis": "y"},
    {"name": "p50", "label": "p50 latency", "unit": "ms", "axis": "y2"},
    {"name": "p95", "label": "p95 latency", "unit": "ms", "axis": "y2"},
    {"name": "p99", "label": "p99 latency", "unit": "ms", "axis": "y2"},
]
WIDE = {"description_width": "10em"}


def graph_point(record: Mapping[str, Any]) -> dict[str, float]:
    """One interval as graph values: rates per second, latency percentiles in ms (missing ones leave a gap)."""
    seconds = record.get("seconds") or 0
    latency = record.get("latency_us") or {}
    point = {
        "throughput": record.get("throughput", 0.0),
        "errors": sum((record.get("errors") or {}).values()) / seconds if seconds else math.nan,
        "throttles": sum((record.get("throttles") or {}).values()) / seconds if seconds else math.nan,
    }
    point.update({name: latency[name] / 1000 if name in latency else math.nan for name in ("p50", "p95", "p99")})
    return point


def without_histograms(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record for people to read: the encoded histogram is kilobytes of base64 nobody can read."""
    return {key: value for key, value in record.items() if key != "histogram"}


def stored_view(run: Run) -> dict[str, Any]:
    """A stored run as the JSON view shows it: its config, the measured summary, every interval and the end."""
    return {"run_id": run.run_id, "status": run.status, "config": run.config, "summary": run.summary(),
            "intervals": [without_histograms(record) for record in run.intervals], "end": run.end}


def percentile_figure(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Grouped bars: each run's latency percentiles in ms (the plotly JSON the Figure widget shows)."""
    names = list(PERCENTILES)
    data = [{"type": "bar", "name": f"{row['name'] or row['run_id']} ({row['status']})", "x": names,
             "y": [None if row.get(f"{name}_us") is None else row[f"{name}_us"] / 1000 for name in names]}
            for row in rows]
    layout = {"barmode": "group", "title": {"text": "Latency percentiles of the measured phase"},
              "yaxis": {"title": {"text": "ms"}}, "margin": {"t": 48, "r": 16}, "legend": {"orientation": "h"}}
    return {"data": data, "layout": layout}


COMPARED = {"name": "run", "status": "status", "model": "model", "requests": "requests", "throughput": "req/s",
            "errors": "errors", "throttles": "throttles", **{f"{n}_ms": f"{n} ms" for n in PERCENTILES}}


def comparison_table(rows: list[dict[str, Any]]) -> str:
    frame = pd.DataFrame(rows)
    frame["name"] = frame["name"].where(frame["name"] != "", frame["run_id"])
    for name in PERCENTILES:
        frame[f"{name}_ms"] = frame[f"{name}_us"].astype(float) / 1000
    return table_html(frame, COMPARED, index=False)


class LoadTestDashboard:
    """Builds the widgets; :meth:`start`, :meth:`stop`, :meth:`load_run` and :meth:`compare_runs` are what the
    buttons call (usable from a cell too)."""

    def __init__(self, *, playground: Playground | None = None, store=None, allow_runs: bool | None = None,
                 environ: Mapping[str, str] | None = None):
        self._environ = os.environ if environ is None else environ
        self.no_playground: str | None = None
        if playground is None:
            try:
                playground = playground_env.current(self._environ)
            except NoPlayground as missing:
                self.no_playground = str(missing)
        self.playground = playground
        self.allow_runs = not is_viewer(self._environ) if allow_runs is None else allow_runs
        self.store = store if store is not None else default_store(playground)
        self.test: LoadTest | None = None
        self._ending = threading.Lock()  # start() and the end of a run both set the progress bar
        self._ended: LoadTest | None = None
        self.run: Run | None = None  # the stored run last loaded into the graph and JSON view

        # --- the spec form -------------------------------------------------------------------------------
        defaults = WorkloadSpec()
        self.weights = {name: w.FloatText(value=defaults.operations.get(name, 0.0), description=name,
                                          layout=w.Layout(width="11em")) for name in OPERATIONS}
        self.item_size = w.IntText(value=defaults.item_size, description="Item size (bytes)", style=WIDE)
        self.key_space = w.IntText(value=defaults.key_space, description="Partition keys", style=WIDE)
        self.distribution = w.Dropdown(options=DISTRIBUTIONS, value=defaults.distribution,
                                       description="Key distribution", style=WIDE)
        self.model = w.ToggleButtons(options=[("Closed: N in flight", "closed"), ("Open: target rate", "open")],
                                     value="closed", description="Load model", style=WIDE)
        self.concurrency = w.IntText(value=DEFAULT_CONCURRENCY, description="Concurrency", style=WIDE)
        self.target_rate = w.FloatText(value=50.0, description="Target rate (req/s)", style=WIDE)
        self.length = w.ToggleButtons(options=[("Duration", "duration"), ("Request count", "requests")],
                                      value="duration", description="Length", style=WIDE)
        self.duration = w.FloatText(value=30.0, description="Duration (s)", style=WIDE)
        self.requests = w.IntText(value=1000, description="Requests", style=WIDE)
        self.warmup = w.FloatText(value=defaults.warmup, description="Warm-up (s)", style=WIDE)
        self.interval = w.FloatText(value=defaults.interval, description="Interval (s)", style=WIDE)
        self.table = w.Text(value=playground.loadtest_table if playground else "", description="Table",
                            placeholder="the DynamoDB table to load", style=WIDE, layout=w.Layout(width="32em"))
        self.name = w.Text(description="Run name", placeholder="optional", style=WIDE)
        self.form_message = w.HTML()
        for control in self._form_controls():
            control.observe(lambda _change: self.validate(), "value")

        # --- running ---------------------------------------------------------------------------------------
        self.start_button = w.Button(description="Start", button_style="primary", icon="play")
        self.stop_button = w.Button(description="Stop", button_style="warning", icon="stop", disabled=True)
        self.start_button.on_click(lambda _button: self.start())
        self.stop_button.on_click(lambda _button: self.stop())
        self.timer = RunTimer(label="Run time")
        self.progress = Progress(label="Load test", layout=w.Layout(display="none"))  # shown once a run starts
        self.notice = w.HTML(self._notice_html())
        self.graph = LiveGraph(SERIES, title="Rates (left) · latency percentiles (right)", y_label="per second",
                               y2_label="latency (ms)", window=0.0)  # 0: the whole run, which lasts minutes at most
        # Each update redraws the tree collapsed, so whoever explores it can hold it still while the run goes on.
        self.viewer_follows = w.Checkbox(value=True, indent=False,
                                         description="Update with every interval (untick to explore)")
        self.viewer_follows.observe(lambda change: self._show_live() if change["new"] else None, "value")
        self.viewer = JsonViewer({"note": "Start a run or load a past one to inspect its statistics here."},
                                 root_name="loadtest", height=420)

        # --- past runs ---------------------------------------------------------------------------------------
        self.runs = w.SelectMultiple(options=[], rows=6, description="Past runs", style=WIDE,
                                     layout=w.Layout(width="46em"))
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.load_button = w.Button(description="Load into graph", icon="line-chart")
        self.compare_button = w.Button(description="Compare selected", icon="columns")
        self.refresh_button.on_click(lambda _button: self.refresh_runs())
        self.load_button.on_click(lambda _button: self.load_run(self.runs.value[0] if self.runs.value else None))
        self.compare_button.on_click(lambda _button: self.compare_runs(list(self.runs.value)))
        self.runs_message = w.HTML()
        self.comparison = w.HTML()
        self.figure = Figure(height=360, layout=w.Layout(display="none"))
        self.validate()
        self.refresh_runs()

    # --- layout --------------------------------------------------------------------------------------------
    def _form_controls(self) -> list[w.Widget]:
        return [*self.weights.values(), self.item_size, self.key_space, self.distribution, self.model,
                self.concurrency, self.target_rate, self.length, self.duration, self.requests, self.warmup,
                self.interval, self.table, self.name]

    def widget(self) -> w.Widget:
        workload = w.VBox([
            w.HTML("<b>Operation mix</b> (relative weights)"),
            w.HBox(list(self.weights.values())[:3]), w.HBox(list(self.weights.values())[3:]),
            self.item_size, self.key_space, self.distribution, self.table, self.name,
        ])
        load = w.VBox([self.model, self.concurrency, self.target_rate, self.length, self.duration, self.requests,
                       self.warmup, self.interval])
        return w.VBox([
            self.notice,
            w.HBox([workload, load], layout=w.Layout(flex_flow="row wrap", grid_gap="0 2em")),
            self.form_message,
            w.HBox([self.start_button, self.stop_button, self.timer]),
            self.progress,
            section_anchor("Live statistics"),
            self.graph,
            section_anchor("Past runs"),
            w.HBox([self.runs, w.VBox([self.refresh_button, self.load_button, self.compare_button])]),
            self.runs_message,
            self.comparison,
            self.figure,
            section_anchor("Inspect the statistics"),
            self.viewer_follows,
            self.viewer,
            RequestTiming(label="Server time for this dashboard"),
            stylesheet(),
        ])

    def _notice_html(self) -> str:
        parts = []
        if self.no_playground:
            parts.append(
                f"<p role='status'><b>No playground.</b> {html.escape(self.no_playground)} You can still run against "
                "a DynamoDB table you name in the form if AWS is reachable from this server (credentials, and "
                "AWS_ENDPOINT_URL for a local endpoint, in its environment); runs are then kept in files on this "
                "server.</p>")
        if not self.allow_runs:
            parts.append(f"<p role='status'><b>Read-only.</b> {html.escape(READ_ONLY_NOTE)}</p>")
        return "".join(parts)

    # --- the form --------------------------------------------------------------------------------------------
    def spec(self) -> WorkloadSpec:
        """The workload the form describes; :class:`FormError` listing every problem otherwise (the spec's own
        words for the fields it checks)."""
        table = self.table.value.strip() or None
        problems = []
        if table is None and self.playground is None:
            problems.append("name the table to load: this server has no playground with a load-test table")
        if table is not None and self.playground is not None and table != self.playground.loadtest_table:
            problems.append(f"Table must be your playground's load-test table {self.playground.loadtest_table!r}: "
                            "only that table is yours to load")
        try:
            spec = WorkloadSpec(
                operations={name: box.value for name, box in self.weights.items()},
                item_size=self.item_size.value, key_space=self.key_space.value,
                distribution=self.distribution.value,
                concurrency=self.concurrency.value if self.model.value == "closed" else None,
                target_rate=self.target_rate.value if self.model.value == "open" else None,
                duration=self.duration.value if self.length.value == "duration" else None,
                requests=self.requests.value if self.length.value == "requests" else None,
                warmup=self.warmup.value, interval=self.interval.value, table=table, name=self.name.value.strip())
        except SpecError as error:
            problems += error.problems
        if problems:
            raise FormError(problems)
        return spec

    def validate(self) -> WorkloadSpec | None:
        """Check the form and show what is wrong next to it; the spec when it can run."""
        closed, by_duration = self.model.value == "closed", self.length.value == "duration"
        self.concurrency.layout.display = None if closed else "none"
        self.target_rate.layout.display = "none" if closed else None
        self.duration.layout.display = None if by_duration else "none"
        self.requests.layout.display = "none" if by_duration else None
        spec = read_form(self.form_message, self.spec)
        self._set_buttons()
        return spec

    @property
    def running(self) -> bool:
        # ``result`` is set before the end record reaches subscribers, ``done`` only after they had it
        return self.test is not None and self.test.result is None

    def _set_buttons(self) -> None:
        self.start_button.disabled = not self.allow_runs or self.running
        self.start_button.tooltip = READ_ONLY_NOTE if not self.allow_runs else "Start the load test the form describes"
        self.stop_button.disabled = not self.running
        for control in self._form_controls():
            control.disabled = self.running

    # --- running ---------------------------------------------------------------------------------------------
    def _target(self) -> Playground:
        if self.playground is not None:
            return self.playground
        # Without the hub: the table from the form, reached with whatever AWS access this server has.
        return Playground(stack_name="", loadtest_table=self.table.value.strip(), runs_table="",
                          region=self._environ.get(playground_env.AWS_REGION) or "us-east-1",
                          endpoint_url=self._environ.get(playground_env.AWS_ENDPOINT_URL) or None)

    def start(self) -> LoadTest | None:
        """Start the run the form describes (the engine works in its own thread); None if it cannot start."""
        if not self.allow_runs:  # also guards a click message sent to the disabled button
            self.form_message.value = problems_html([READ_ONLY_NOTE])
            return None
        if self.running:
            self.form_message.value = problems_html(["A load test is already running: stop it first."])
            return None
        spec = self.validate()
        if spec is None:
            return None
        self._live: list[dict[str, Any]] = []
        self._last_x = -math.inf
        try:
            test = LoadTest(spec, playground=self._target(), store=self.store, on_interval=self._on_record)
            self.test = test  # before start(): its first record may arrive before start() returns
            self.graph.clear()
            self.timer.start()  # before too: a run that fails at once stops it from the engine's thread
            test.start()
        except Exception as error:  # noqa: BLE001 - no table, no AWS, no credentials...: said next to the form
            self.timer.reset()
            self.test = None
            problems = error.problems if isinstance(error, SpecError) else [
                f"Could not start: {type(error).__name__}: {error}"]
            self.form_message.value = problems_html(problems)
            self._set_buttons()
            return None
        with self._ending:  # a run that failed at once may have ended (and said so) before start() returned
            if self._ended is not test:
                self.run = None
                self.progress.layout.display = None
                total = (spec.warmup + spec.duration) if spec.duration is not None else spec.requests
                self.progress.update(0, total=total, message=f"Run {test.run_id} started on table {test.table}")
        if test.warnings:
            self.form_message.value = problems_html(test.warnings, warning=True)
        self._set_buttons()
        self._show_live()
        return test

    def stop(self) -> None:
        """Send no more requests; the run ends (and is stored) once the requests in flight complete."""
        if self.running:
            self.test.stop()
            self.stop_button.disabled = True
            self.progress.update(message="Stopping: the requests in flight finish…")

    def wait(self, timeout: float = 120) -> dict[str, Any] | None:
        """Block until the current run has ended and the dashboard shows it (for cells and tests)."""
        if self.test is None:
            return None
        end = self.test.wait(timeout)
        if end is None:
            raise TimeoutError(f"the load test did not end within {timeout} s")
        return end

    def _show_live(self) -> None:
        if not self.running:
            return
        test = self.test
        latest = self._live[-1] if self._live else {}
        self.viewer.data = {"run_id": test.run_id, "status": test.status, "table": test.table,
                            "spec": test.spec.to_dict(), "cumulative": latest.get("cumulative"),
                            "intervals": list(self._live)}

    def _on_record(self, record: dict[str, Any]) -> None:
        """The engine's subscriber (its delivery thread): push the record to the widgets."""
        if record["kind"] == "end":
            self._on_end(record)
            return
        self._live.append(without_histograms(record))
        if record["seconds"] > 0:
            x = max(record["start"] + record["seconds"], self._last_x)
            self._last_x = x
            self.graph.append(x, graph_point(record))
        spec, cumulative = self.test.spec, record["cumulative"]
        p99 = (record["latency_us"].get("p99") or 0) / 1000
        what = "warming up" if record["phase"] == "warmup" else f"{cumulative['requests']:,} requests measured"
        message = f"{record['elapsed']:.1f} s · {what} · {record['throughput']:,.1f} req/s · p99 {p99:,.2f} ms"
        done = record["elapsed"] if spec.duration is not None else cumulative["requests"]
        self.progress.update(min(done, self.progress.total or done), message=message)
        if self.viewer_follows.value:
            self._show_live()

    def _on_end(self, end: dict[str, Any]) -> None:
        with self._ending:
            self._ended = self.test
            self.progress.layout.display = None
            self._show_end(end)

    def _show_end(self, end: dict[str, Any]) -> None:
        self.timer.stop()
        summary = end["cumulative"]
        p99 = (summary["latency_us"].get("p99") or 0) / 1000
        figures = (f"{summary['requests']:,} requests, {summary['throughput']:,.1f} req/s, p99 {p99:,.2f} ms, "
                   f"{end['intervals']} intervals kept")
        if end["status"] == "failed":
            self.progress.fail(f"Failed: {end.get('error', 'unknown error')} ({figures})")
        elif end.get("store_failures"):
            self.progress.fail(f"Ran, but storing failed: {'; '.join(end['store_failures'])} ({figures})")
        elif end["status"] == "finished":
            self.progress.succeed(f"Finished: {figures}")
        else:  # stopped: the bar stays where the run was stopped
            with self.progress.hold_sync():
                self.progress.message = f"{end['status'].capitalize()}: {figures}"
                self.progress.state = "success"
        self._set_buttons()
        self.refresh_runs()
        try:
            self.run = self.store.load(end["run_id"])
            self.viewer.data = stored_view(self.run)
        except Exception as error:  # noqa: BLE001 - the live view stays; say why the stored one is missing
            self.runs_message.value = problems_html([f"Could not load the stored run: {error}"])

    # --- past runs -----------------------------------------------------------------------------------------------
    def refresh_runs(self) -> None:
        try:
            infos = self.store.list_runs()
        except Exception as error:  # noqa: BLE001 - e.g. the runs table is unreachable
            self.runs_message.value = problems_html([f"Could not list past runs: {type(error).__name__}: {error}"])
            return
        self.runs.options = [(f"{info.started[:19].replace('T', ' ')}  {info.name or info.run_id}  ({info.status})",
                              info.run_id) for info in sorted(infos, key=lambda info: info.run_id, reverse=True)]
        self.runs_message.value = "" if infos else "<p class='workbench-muted'>No recorded runs yet.</p>"

    def load_run(self, run_id: str | None) -> Run | None:
        """Show a stored run in the graph and the JSON view (a replay: no request is sent)."""
        if run_id is None:
            self.runs_message.value = problems_html(["Select a run to load."])
            return None
        if self.running:
            self.runs_message.value = problems_html(["A run is live in the graph: stop it before loading another."])
            return None
        try:
            run = self.store.load(run_id)
        except Exception as error:  # noqa: BLE001 - unknown or unreadable run
            self.runs_message.value = problems_html([f"Could not load {run_id}: {error}"])
            return None
        self.graph.clear()
        recorded = [record for record in run.intervals if record.get("seconds", 0) > 0]
        if recorded:
            points = [graph_point(record) for record in recorded]
            self.graph.extend([record["start"] + record["seconds"] for record in recorded],
                              {series["name"]: [point[series["name"]] for point in points] for series in SERIES})
            self.graph.flush()  # the whole run in one message, now
        self.run = run
        self.viewer.data = stored_view(run)
        summary = run.summary()
        self.runs_message.value = (f"<p>Loaded {html.escape(run_id)} ({html.escape(run.status)}): "
                                   f"{summary['requests']:,} requests in {len(run.intervals)} intervals.</p>")
        return run

    def compare_runs(self, run_ids: list[str]) -> list[dict[str, Any]] | None:
        """A table and a chart of the chosen runs' measured figures and latency percentiles."""
        if len(run_ids) < 2:
            self.runs_message.value = problems_html(["Select two or more runs to compare (Ctrl/⌘-click)."])
            return None
        try:
            rows = compare(self.store.load(run_id) for run_id in run_ids)
        except Exception as error:  # noqa: BLE001 - an unreadable run; said beside the list
            self.runs_message.value = problems_html([f"Could not compare: {error}"])
            return None
        self.runs_message.value = ""
        self.comparison.value = comparison_table(rows)
        self.figure.show(percentile_figure(rows))
        self.figure.layout.display = None
        return rows
