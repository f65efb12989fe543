"""The query-optimization dashboard: pick a workload and strategies, run them, compare, inspect the data.

A composition of the query engine (``profiler.queries``) and the widgets (``widgets``); the notebook
``notebooks/query_optimization.ipynb`` only builds and shows it. The run happens in the dashboard's background job
and every update reaches the page by setting widget traits (pushed over the kernel's websocket, nothing polls).
"""

from __future__ import annotations

import ast
import html
import threading
from typing import Any

import ipywidgets as w

from dashboards.background import BackgroundJob
from dashboards.common import INSPECT_TITLE, NOT_YET, RUN_IN_PROGRESS, FormError, hold_action, read_form
from dashboards.sql import sql_html
from dashboards.style import stylesheet
from profiler.queries import (
    BUILTIN_WORKLOADS,
    STRATEGY_INFO,
    Comparison,
    CustomStrategy,
    ProgressEvent,
    collapse_in_lists,
    default_engine,
    profile,
)
from profiler.chart_theme import template_json
from widgets import Figure, JsonViewer, LearnMore, Progress, RequestTiming, RunTimer, ScrollTo, section_anchor
from widgets.data_table import DataTable
from widgets.message import Message, plain_reason, syntax_reason

STANDARD = ("lazy", "joined", "selectin", "subquery", "auto")
CUSTOM_EXAMPLE = '{"books": "selectin", "books.publisher": "joined", "books.stores": "selectin"}'
RELATIONSHIP_KINDS = ("joined", "selectin", "subquery", "immediate", "raise", "lazy", "noload")


MAX_CUSTOM_TEXT = 2_000  # characters: a loader per relationship path of any real model fits many times over


def parse_custom_loaders(text: str) -> dict[str, str]:
    """``{"books": "selectin", ...}`` from the form's text, never executing it (viewers may type here); a
    :class:`FormError` when it is not a mapping of relationship paths to loader kinds."""
    if len(text) > MAX_CUSTOM_TEXT:
        raise FormError([f"Custom optimization is {len(text):,} characters long; at most {MAX_CUSTOM_TEXT:,} (a "
                         f"dictionary like {CUSTOM_EXAMPLE})"])
    try:
        value = ast.literal_eval(text.strip())
    except (MemoryError, RecursionError):
        # Python's parser runs out of stack or memory on a few hundred nested operators ("- - - 1")
        raise FormError([f"Custom optimization is nested too deeply to read: write a dictionary like "
                         f"{CUSTOM_EXAMPLE}"]) from None
    except SyntaxError as error:
        raise FormError([f"Custom optimization must be a dictionary like {CUSTOM_EXAMPLE}: "
                         f"{syntax_reason('the text', error).removeprefix('the text, ')}"]) from None
    except ValueError:  # a call, a name or an operator: only literals are read
        raise FormError([f"Custom optimization must be a dictionary like {CUSTOM_EXAMPLE}: it may hold only "
                         "quoted paths and loader kinds, not names or calls"]) from None
    if not isinstance(value, dict) or not value:
        raise FormError([f"Custom optimization must be a non-empty dictionary like {CUSTOM_EXAMPLE}"])
    for path, kind in value.items():
        if not isinstance(path, str) or not isinstance(kind, str):
            raise FormError([f"Custom optimization: {path!r}: {kind!r} — paths and loader kinds are both strings"])
        if kind not in RELATIONSHIP_KINDS:
            known = ", ".join(RELATIONSHIP_KINDS)
            raise FormError([f"Custom optimization: {path!r}: unknown loader kind {kind!r}; use one of {known}"])
    return value


def strategy_help(key: str, sql: list[str] | None = None) -> str:
    """The "learn more" text of a strategy (from the engine's one registry), with the SQL it emitted."""
    info = STRATEGY_INFO[key]
    text = f"{info.description}\n\n**Django equivalent:** {info.django}\n\n[SQLAlchemy documentation]({info.docs_url})"
    if sql:
        shown = "\n\n".join(sql_html(statement) for statement in sql[:3])
        more = f"\n\n…and {len(sql) - 3} more statements." if len(sql) > 3 else ""
        text += f"\n\n### The SQL it emitted for this workload\n\n{shown}{more}"
    else:
        text += "\n\n*Run the comparison to see the SQL this strategy emits for the chosen workload.*"
    return text


# The columns people compare; everything else is in "Inspect the data".
COLUMNS = [
    {"key": "strategy", "label": "Strategy"},
    {"key": "status", "label": "Status"},
    {"key": "statements", "label": "Statements", "kind": "number", "digits": 0},
    {"key": "rows_fetched", "label": "Rows", "kind": "number", "digits": 0},
    {"key": "wall_ms", "label": "Wall", "kind": "number", "unit": "ms", "digits": 2},
    {"key": "db_ms", "label": "Database", "kind": "number", "unit": "ms", "digits": 2},
    {"key": "fetch_ms", "label": "Fetch", "kind": "number", "unit": "ms", "digits": 2},
    {"key": "python_ms", "label": "Python/ORM", "kind": "number", "unit": "ms", "digits": 2},
    {"key": "cold_wall_ms", "label": "Cold run", "kind": "number", "unit": "ms", "digits": 2},
    {"key": "nplusone", "label": "N+1", "kind": "number", "digits": 0},
    {"key": "data_matches", "label": "Same data", "kind": "bool"},
    {"key": "overhead_us_per_statement", "label": "Profiler cost per statement", "kind": "number", "unit": "µs",
     "digits": 1},
]
BELOW_NOISE = "below noise"


def summary_rows(comparison: Comparison) -> list[dict[str, Any]]:
    """One row per strategy; a profiler cost hidden by the runs' noise says so instead of showing a number."""
    rows = []
    for result in comparison.results:
        row = result.summary()
        if row["overhead_below_noise"]:
            row["overhead_us_per_statement"] = BELOW_NOISE
        rows.append({column["key"]: row[column["key"]] for column in COLUMNS})
    return rows


def comparison_table() -> DataTable:
    return DataTable(columns=COLUMNS, row_key="strategy", selectable="none", label="Comparison of strategies",
                     empty_text="Run the comparison to see this.")


def show_outcome(message: Message, comparison: Comparison) -> None:
    """Failed strategies, or strategies that returned other data, in the one message under the form."""
    if comparison.errors:
        message.error([f"{name}: {plain_reason(reason)}" for name, reason in comparison.errors.items()],
                      title="Some strategies failed:")
    elif comparison.mismatches:
        message.warning(f"{', '.join(comparison.mismatches)} returned other data than the reference; their numbers "
                        "are not comparable.", title="Different data:")
    else:
        message.clear()


def findings_html(comparison: Comparison) -> str:
    items = []
    for result in comparison.results:
        for finding in result.nplusone:
            example = (f"<details><summary>an example statement</summary>{sql_html(finding.example_sql)}</details>"
                       if finding.example_sql else "")
            items.append(f"<li><b>{html.escape(result.label)}</b>: {html.escape(finding.message)}{example}</li>")
    if not items:
        return "<p>No N+1 pattern in any strategy.</p>"
    return "<ul class='workbench-findings'>" + "".join(items) + "</ul>"


def _plan_text(plan) -> str:
    lines = []
    for node in plan.nodes:
        timing = f"  {node.time_share:.0%} of time" if node.time_share is not None else ""
        measured = node.actual_rows is not None and node.estimated_rows is not None
        rows = f"  rows {node.actual_rows:g} (est. {node.estimated_rows:g})" if measured else ""
        flags = f"  ⚑ {', '.join(node.flags)}" if node.flags else ""
        relation = f" on {node.relation}" if node.relation and node.relation not in node.node else ""
        lines.append("  " * node.depth + node.node + relation + timing + rows + flags)
    if plan.total_ms is not None:
        lines.append(f"execution {plan.total_ms:.2f} ms, planning {plan.planning_ms or 0:.2f} ms")
    return "\n".join(lines) if lines else (plan.error or "(no plan)")


def explain_html(comparison: Comparison) -> str:
    """One collapsed block per strategy, one nested block per statement group's plan."""
    parts = []
    for result in comparison.results:
        if not result.explains:
            continue
        flagged = sum(1 for plan in result.explains if plan.flags)
        plans = "".join(
            f"<details><summary>{'⚑ ' if plan.flags else ''}<code>{html.escape(plan.sql[:160])}</code></summary>"
            f"{sql_html(plan.sql)}<pre>{html.escape(_plan_text(plan))}</pre></details>"
            for plan in result.explains
        )
        parts.append(
            f"<details class='workbench-explain'><summary><b>{html.escape(result.label)}</b>: "
            f"{len(result.explains)} plan(s), {flagged} flagged</summary>{plans}</details>"
        )
    return "".join(parts) or "<p>No plans (EXPLAIN was off or every strategy failed).</p>"


class QueryOptimizationDashboard:
    """Builds the widgets; :meth:`start` is what the Run button calls (usable from a cell too)."""

    def __init__(self, engine=None, *, allow_custom: bool = True):
        self._engine = engine
        self.workload = w.Dropdown(
            options=list(BUILTIN_WORKLOADS), description="Workload", style={"description_width": "initial"},
            layout=w.Layout(width="28em"),
        )
        self.scale = w.IntSlider(value=50, min=10, max=500, step=10, description="Authors", continuous_update=False)
        self.strategy_boxes = {key: w.Checkbox(value=True, description=STRATEGY_INFO[key].title, indent=False)
                               for key in STANDARD}
        self.learn_more = {key: LearnMore(strategy_help(key), title=STRATEGY_INFO[key].title)
                           for key in (*STANDARD, "custom")}
        self.custom_enabled = w.Checkbox(value=allow_custom, description="Custom optimization", indent=False,
                                         disabled=not allow_custom)
        self.custom_text = w.Textarea(value=CUSTOM_EXAMPLE, layout=w.Layout(width="100%", height="4em"),
                                      disabled=not allow_custom, continuous_update=False)
        self.run_button = w.Button(description="Run comparison", button_style="primary", icon="play")
        self.run_button.on_click(lambda _button: self.start())
        self.message = Message()
        self.progress = Progress(label="Comparison", layout=w.Layout(display="none"))  # shown while a run runs
        self.timer = RunTimer(label="Run time")
        self.table = comparison_table()
        self.figure = Figure(height=400, dark_template=template_json(dark=True))
        self.findings = w.HTML(NOT_YET)
        self.explains = w.HTML(NOT_YET)
        self.viewer = JsonViewer({"note": "Run the comparison to inspect its data here."}, root_name="comparison",
                                 height=480)
        self.scroller = ScrollTo()
        self.request_timing = RequestTiming(label="Server time for this dashboard")
        self.comparison: Comparison | None = None
        self.job = BackgroundJob("query-comparison", on_busy=self._set_busy, on_error=self._failed,
                                 describe=plain_reason)
        self._form_problem: str | None = None
        for control in (*self.strategy_boxes.values(), self.custom_enabled, self.custom_text):
            control.observe(lambda _change: self.validate(), "value")

    # --- layout ---------------------------------------------------------------------------------------------
    def widget(self) -> w.Widget:
        strategies = [w.HBox([self.strategy_boxes[key], self.learn_more[key]]) for key in STANDARD]
        strategies.append(w.HBox([self.custom_enabled, self.learn_more["custom"]]))
        form = w.VBox(
            [
                w.HBox([self.workload, self.scale]),
                w.HTML("<b>Strategies</b>"),
                *strategies,
                w.HTML("Custom optimization: relationship path → loader kind"),
                self.custom_text,
                w.HBox([self.run_button, self.timer]),
                self.progress,
                self.message,
            ]
        )
        return w.VBox(
            [
                form,
                section_anchor("Comparison"),
                self.table,
                self.figure,
                section_anchor("N+1 findings", level=3),
                self.findings,
                section_anchor("EXPLAIN plans", level=3),
                self.explains,
                section_anchor(INSPECT_TITLE),
                self.viewer,
                self.request_timing,
                self.scroller,
                stylesheet(),
            ]
        )

    # --- running --------------------------------------------------------------------------------------------
    def strategies(self) -> list:
        chosen: list[Any] = [key for key, box in self.strategy_boxes.items() if box.value]
        if self.custom_enabled.value:
            chosen.append(CustomStrategy("custom", loaders=parse_custom_loaders(self.custom_text.value)))
        if not chosen:
            raise FormError(["Choose at least one strategy."])
        return chosen

    def validate(self) -> list | None:
        """Check the form as it changes: its problems shown under it, Run off (saying why) until they are fixed."""
        strategies = read_form(self.message, self.strategies)
        self._form_problem = None if strategies is not None else f"Correct the form first: {self.message.value}"
        self._set_busy(self.job.busy)
        return strategies

    def engine(self):
        return self._engine or default_engine(self.scale.value)

    def start(self) -> threading.Thread | None:
        """Start a run in the background job (the kernel stays free); None when the form is not valid."""
        if self.job.busy:
            self.message.error(RUN_IN_PROGRESS)
            return None
        strategies = self.validate()
        if strategies is None:
            self.clear_results()
            return None
        return self.job.start(self.run, strategies)

    def _set_busy(self, busy: bool) -> None:
        hold_action(self.run_button, RUN_IN_PROGRESS if busy else self._form_problem,
                    "Run the strategies on the workload")

    def _failed(self, reason: str) -> None:
        self.timer.stop()
        self.progress.layout.display = "none"
        self.message.error(reason, title="The comparison failed:")
        self.clear_results()

    def clear_results(self) -> None:
        """Results of an earlier run must not stand under the failure of this one, as if they were its."""
        self.comparison = None
        self.progress.layout.display = "none"
        self.table.rows = []
        self.figure.show({"data": [], "layout": {}})
        self.findings.value = self.explains.value = NOT_YET
        self.viewer.data = {"note": "Run the comparison to inspect its data here."}

    def _on_progress(self, event: ProgressEvent) -> None:
        self.progress.update(
            event.index - 1 + (1 if event.phase == "done" else 0.5),
            total=event.total,
            message=f"{event.strategy}: {event.phase} — {event.statements:,} statements so far",
        )

    def run(self, strategies: list) -> Comparison:
        """The comparison (in the calling thread); started by :meth:`start`, a failure is said in the page."""
        self.message.clear()
        self.progress.layout.display = None
        self.timer.start()
        self.progress.state = "running"
        self.progress.update(0, total=None, message="Building the sample data…")
        comparison = profile(BUILTIN_WORKLOADS[self.workload.value], strategies, self.engine(),
                             progress=self._on_progress)
        self.timer.stop()
        self.show(comparison)
        self.progress.succeed(f"Compared {len(comparison.results)} strategies in {self.timer.elapsed:.1f} s")
        show_outcome(self.message, comparison)
        if comparison.errors:  # the failures are said in the message; a green bar would say all went well
            self.progress.layout.display = "none"
        return comparison

    def show(self, comparison: Comparison) -> None:
        self.comparison = comparison
        self.table.rows = summary_rows(comparison)
        self.figure.show(comparison.figure())
        self.findings.value = findings_html(comparison)
        self.explains.value = explain_html(comparison)
        for result in comparison.results:
            key = result.key if result.key in self.learn_more else None
            if key:
                self.learn_more[key].content = strategy_help(key, [collapse_in_lists(s.sql) for s in result.statements])
        self.viewer.data = comparison.to_dict(statements=True)
        self.scroller.scroll_to(INSPECT_TITLE)
