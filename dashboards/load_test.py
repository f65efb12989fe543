"""The load-test dashboard: describe a DynamoDB workload, run it, watch it live, keep and compare the runs.

A composition of the load-test engine (``profiler.loadtest``) and the widgets (``widgets``); the notebook
``notebooks/load_test.ipynb`` only builds and shows it. The engine runs in its own thread and calls the
dashboard's subscriber once per interval (from its delivery thread); the subscriber sets widget traits and
appends to the LiveGraph, which reach the page over the kernel's websocket. Nothing polls.

Viewers of a shared dashboard must not spend the owner's AWS: with ``allow_runs=False``, or when the sharing
setup sets ``WORKBENCH_DASHBOARD_VIEWER=1`` for the server, Start is off (and refused even if a click message
arrives) and only recorded runs can be loaded and compared.

This module owns the run (starting, stopping, the live graph and the JSON view of its intervals) and the layout;
the form and its checks are :mod:`dashboards.load_test_form`, the past runs :mod:`dashboards.run_history`.
"""

from __future__ import annotations

import html
import math
import os
import threading
import time
from typing import Any, Mapping

import ipywidgets as w

from profiler import playground as playground_env
from profiler.loadtest import LoadTest, Run, SpecError, default_store
from profiler.loadtest.stats import DrawnIntervals, drawn_intervals
from profiler.playground import NoPlayground, Playground
from dashboards.common import VIEWER_ENV  # noqa: F401 - for callers
from dashboards.common import hold_action, is_viewer
from dashboards.load_test_form import WIDE, WorkloadForm  # noqa: F401 - WIDE for callers
from dashboards.run_history import SERIES, RunHistory, caption, comparison_points, comparison_series, ended_at, \
    graph_point, interval_of, label_of
from dashboards.run_history import comparison_rows, percentile_figure  # noqa: F401 - for callers
from dashboards.style import stylesheet
from widgets import JsonViewer, LiveGraph, Progress, RequestTiming, RunTimer, section_anchor
from widgets.message import plain_reason

READ_ONLY_NOTE = ("This is a shared view: starting a load test would spend the owner's AWS, so Start is off. "
                  "You can load, replay and compare the runs the owner recorded.")
EMPTY_GRAPH = "Start a load test: requests per second and latency percentiles appear here live."
GRAPH_TITLE = "Rates (left) · latency percentiles (right)"


def without_histograms(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record for people to read: the encoded histogram is kilobytes of base64 nobody can read."""
    return {key: value for key, value in record.items() if key != "histogram"}


def stored_view(run: Run) -> dict[str, Any]:
    """A stored run as the JSON view shows it: its config, the measured summary, every interval and the end."""
    return {"run_id": run.run_id, "status": run.status, "config": run.config, "summary": run.summary(),
            "intervals": [without_histograms(record) for record in run.intervals], "end": run.end}


class LoadTestDashboard(WorkloadForm):
    """Builds the widgets; :meth:`start` and :meth:`stop` are what the buttons call, :meth:`load_run` and
    :meth:`compare_runs` what ticking one or several past runs calls (all usable from a cell too)."""

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
        self._build_form(playground)

        # --- running ---------------------------------------------------------------------------------------
        self.start_button = w.Button(description="Start", button_style="primary", icon="play")
        self.stop_button = w.Button(description="Stop", button_style="warning", icon="stop", disabled=True)
        self.start_button.on_click(lambda _button: self.start())
        self.stop_button.on_click(lambda _button: self.stop())
        self.timer = RunTimer(label="Run time")
        self.progress = Progress(label="Load test", layout=w.Layout(display="none"))  # shown once a run starts
        self.notice = w.HTML(self._notice_html())
        self.graph = LiveGraph(SERIES, title=GRAPH_TITLE, y_label="per second", y2_label="latency (ms)",
                               window=0.0,  # 0: the whole run, which lasts minutes at most
                               live=False, empty_text=EMPTY_GRAPH)
        # Each update redraws the tree collapsed, so whoever explores it can hold it still while the run goes on.
        self.viewer_follows = w.Checkbox(value=True, indent=False, layout=w.Layout(width="auto"),  # its label whole
                                         description="Update with every interval (untick to explore)")
        self.viewer_follows.observe(lambda change: self._show_live() if change["new"] else None, "value")
        self.viewer = JsonViewer({"note": "Start a run or load a past one to inspect its statistics here."},
                                 root_name="loadtest", height=420)

        # --- past runs -----------------------------------------------------------------------------------------
        self.history = RunHistory(self.store, self._on_selection)
        self.runs = self.history.table  # rows: one per recorded run; ``selection``: the run ids ticked
        self.refresh_button = self.history.refresh_button
        self.runs_message = self.history.message
        self.comparison = self.history.comparison
        self.figure = self.history.figure
        self.validate()
        self.refresh_runs()

    # --- layout --------------------------------------------------------------------------------------------
    def widget(self) -> w.Widget:
        return w.VBox([
            self.notice,
            self._form_widget(),
            self.form_message,
            w.HBox([self.start_button, self.stop_button, self.timer]),
            self.progress,
            section_anchor("Live statistics"),
            self.graph,
            section_anchor("Past runs"),
            self.history.widget(),
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

    @property
    def running(self) -> bool:
        # ``result`` is set before the end record reaches subscribers, ``done`` only after they had it
        return self.test is not None and self.test.result is None

    def _set_buttons(self) -> None:
        reason = (READ_ONLY_NOTE if not self.allow_runs else "A load test is running: stop it first."
                  if self.running else self._form_problem)
        hold_action(self.start_button, reason, "Start the load test the form describes")
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
            self.form_message.error(READ_ONLY_NOTE)
            return None
        if self.running:
            self.form_message.error("A load test is already running: stop it first.")
            return None
        spec = self.validate()
        if spec is None:
            return None
        self._live: list[dict[str, Any]] = []
        self._last_x = -math.inf
        self._drawn = DrawnIntervals(spec.interval)
        try:
            test = LoadTest(spec, playground=self._target(), store=self.store, on_interval=self._on_record)
            self.test = test  # before start(): its first record may arrive before start() returns
            self._show_runs_graph()
            self.graph.clear()
            self.timer.start()  # before too: a run that fails at once stops it from the engine's thread
            test.start()
        except Exception as error:  # noqa: BLE001 - no table, no AWS, no credentials...: said next to the form
            self.timer.reset()
            self.test = None
            self.graph.live = False
            problems = error.problems if isinstance(error, SpecError) else [
                f"Could not start: {plain_reason(error)}"]
            self.form_message.error(problems)
            self._set_buttons()
            return None
        with self._ending:  # a run that failed at once may have ended (and said so) before start() returned
            if self._ended is not test:
                self.run = None
                self.progress.layout.display = None
                total = (spec.warmup + spec.duration) if spec.duration is not None else spec.requests
                self.progress.update(0, total=total, message=f"Run {test.run_id} started on table {test.table}")
                # The caption names the run only while it is still the one streaming.
                with self.graph.hold_sync():
                    self.graph.caption = caption(spec.name, "started", time.time())
                    self.graph.live = True
        if test.warnings:
            self.form_message.warning(test.warnings)
        self.runs.selection = []  # the ticked runs are what the graph shows, and now it shows this one
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
        drawn = self._drawn.add(record)
        if drawn is not None:
            x = max(drawn["start"] + drawn["seconds"], self._last_x)
            self._last_x = x
            self.graph.append(x, graph_point(drawn))
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
        self.graph.flush()  # the last interval before the graph stops saying Live
        with self.graph.hold_sync():
            self.graph.live = False
            self.graph.caption = caption(self.test.spec.name, end["status"], time.time())
        summary = end["cumulative"]
        p99 = (summary["latency_us"].get("p99") or 0) / 1000
        figures = (f"{summary['requests']:,} requests, {summary['throughput']:,.1f} req/s, p99 {p99:,.2f} ms, "
                   f"{end['intervals']} intervals kept")
        if end["status"] == "failed":
            self.progress.layout.display = "none"
            self.form_message.error([plain_reason(end.get("error") or "unknown error"), f"Measured: {figures}."],
                                    title="The load test failed:")
        elif end.get("store_failures"):
            self.progress.layout.display = "none"
            self.form_message.error([*map(plain_reason, end["store_failures"]), f"Measured: {figures}."],
                                    title="The load test ran, but storing it failed:")
        elif end["status"] == "finished":
            self.progress.succeed(f"Finished: {figures}")
        else:  # stopped: the bar stays where the run was stopped
            with self.progress.hold_sync():
                self.progress.message = f"{end['status'].capitalize()}: {figures}"
                self.progress.state = "success"
        self._set_buttons()
        self.refresh_runs()
        try:
            self.run = self.history.run(end["run_id"])
            self.viewer.data = stored_view(self.run)
        except Exception as error:  # noqa: BLE001 - the live view stays; say why the stored one is missing
            self.runs_message.error(plain_reason(error), title="The stored run cannot be loaded:")

    # --- past runs -----------------------------------------------------------------------------------------------
    def refresh_runs(self) -> None:
        self.history.refresh()

    def _on_selection(self, run_ids: list[str]) -> None:
        """Ticking runs in the table: one is loaded into the graph, two or more are compared."""
        if len(run_ids) == 1:
            self.history.clear_comparison()
            self.load_run(run_ids[0])
        elif len(run_ids) > 1:
            self.compare_runs(run_ids)
        else:
            self.history.clear_comparison()
            self.runs_message.clear()

    def _show_runs_graph(self, comparing: list[str] | None = None) -> None:
        """The graph's axes for one run (clock time, every series) or for a comparison (each run's throughput
        and p99 against the seconds since its start, so runs from different days line up)."""
        with self.graph.hold_sync():
            self.graph.x_axis = "elapsed" if comparing else "clock"
            series = comparison_series(comparing) if comparing else SERIES
            if self.graph.series != series:
                self.graph.series = series

    def load_run(self, run_id: str | None) -> Run | None:
        """Show a stored run in the graph and the JSON view (a replay: no request is sent)."""
        if run_id is None:
            self.runs_message.error("Select a run to load.")
            return None
        if self.running:
            self.runs_message.error("A run is live in the graph: stop it before loading another.")
            return None
        try:
            run = self.history.run(run_id)
        except Exception as error:  # noqa: BLE001 - unknown or unreadable run
            self.runs_message.error(plain_reason(error), title=f"Run {run_id} cannot be loaded:")
            return None
        self._show_runs_graph()
        self.graph.clear()
        recorded = drawn_intervals(run.intervals, interval_of(run))
        if recorded:
            points = [graph_point(record) for record in recorded]
            self.graph.extend([record["start"] + record["seconds"] for record in recorded],
                              {series["name"]: [point[series["name"]] for point in points] for series in SERIES})
            self.graph.flush()  # the whole run in one message, now
        with self.graph.hold_sync():
            self.graph.live = False
            self.graph.caption = caption(run.config.get("name", ""), run.status, ended_at(run))
        self.run = run
        self.viewer.data = stored_view(run)
        summary = run.summary()
        self.runs_message.info(f"Loaded {label_of(run)} ({run.status}): {summary['requests']:,} requests in "
                               f"{len(run.intervals)} intervals.")
        return run

    def compare_runs(self, run_ids: list[str]) -> list[dict[str, Any]] | None:
        """A table and a chart of the chosen runs' measured figures and latency percentiles, and (unless a run is
        live in it) their throughput and p99 over time in the graph, each named after its run."""
        if len(run_ids) < 2:
            self.runs_message.error("Select two or more runs to compare (tick them in the table).")
            return None
        try:
            runs, rows = self.history.compare(run_ids)
        except Exception as error:  # noqa: BLE001 - an unreadable run; said beside the list
            self.runs_message.error(plain_reason(error), title="The runs cannot be compared:")
            return None
        labels = [row["label"] for row in rows]
        if self.running:
            self.runs_message.info("The live run keeps the graph: the comparison is in the table and chart below.")
            return rows
        self.runs_message.clear()
        self._show_runs_graph(labels)
        self.graph.clear()
        times, columns = comparison_points(runs)
        if times:
            self.graph.extend(times, columns)
            self.graph.flush()
        with self.graph.hold_sync():
            self.graph.live = False
            self.graph.caption = f"Comparing: {', '.join(labels)} · time since each run's start"
        return rows
