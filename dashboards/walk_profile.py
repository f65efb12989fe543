"""The "profile a relationship walk" part of the data-models dashboard: choose a model (yours or a built-in),
a relationship path to walk from it and the loading strategies; see the comparison, its plot and the N+1
findings with their fixes. Profiling only reads: every run is a rolled-back transaction and a workload that
writes is refused by the profiler, so viewers of a shared dashboard may use it too.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

import ipywidgets as w

from dashboards.common import FormError, read_form
from dashboards.query_optimization import STANDARD, comparison_table, findings_html, show_outcome, strategy_help
from dashboards.query_optimization import summary_rows
from profiler.queries.walks import builtin_classes, path_label, relationship_paths, walk_workload
from profiler.queries import STRATEGY_INFO, Comparison, ProgressEvent, Workload, profile
from profiler.chart_theme import template_json
from widgets import Figure, LearnMore, Progress, RunTimer, section_anchor
from widgets.message import Message

NOT_YET = "<p class='workbench-muted'>Profile a model to see this.</p>"
WIDE = {"description_width": "initial"}


class WalkProfile:
    """``start_job(target, *args, on_error=...)`` runs ``target`` in the dashboard's
    :class:`~dashboards.background.BackgroundJob`; ``on_result(root, comparison)`` is called there after a run, to
    show the data."""

    def __init__(self, start_job: Callable[..., threading.Thread],
                 on_result: Callable[[str, Comparison], None]):
        self._start_job, self._on_result = start_job, on_result
        self._own_classes: dict[str, type] = {}
        self.comparison: Comparison | None = None
        self.root_choice = w.Dropdown(description="Model", style=WIDE, layout=w.Layout(width="28em"))
        self.root_choice.observe(lambda _change: self._root_changed(), "value")
        self.path_choice = w.Dropdown(description="Walk", style=WIDE, layout=w.Layout(width="36em"))
        self.walk_rows = w.BoundedIntText(value=50, min=1, max=10_000, description="Rows to walk", style=WIDE,
                                          layout=w.Layout(width="14em"))
        self.strategy_boxes = {key: w.Checkbox(value=True, description=STRATEGY_INFO[key].title, indent=False)
                               for key in STANDARD}
        self.learn_more = {key: LearnMore(strategy_help(key), title=STRATEGY_INFO[key].title) for key in STANDARD}
        self.button = w.Button(description="Profile", button_style="primary", icon="play")
        self.timer = RunTimer(label="Run time")
        self.progress = Progress(label="Profile", layout=w.Layout(display="none"))  # shown once a run starts
        self.message = Message()
        self.table = comparison_table()
        self.table.empty_text = "Profile a model to see this."
        self.figure = Figure(height=380, dark_template=template_json(dark=True))
        self.findings = w.HTML(NOT_YET)

    def widget(self) -> w.Widget:
        strategies = [w.HBox([self.strategy_boxes[key], self.learn_more[key]]) for key in STANDARD]
        return w.VBox([
            w.HBox([self.root_choice, self.walk_rows]), self.path_choice,
            w.HTML("<b>Strategies</b>"), *strategies,
            w.HBox([self.button, self.timer]), self.progress, self.message,
            section_anchor("Comparison"), self.table, self.figure,
            section_anchor("N+1 findings", level=3), self.findings,
        ])

    # --- choices -----------------------------------------------------------------------------------------------
    def set_models(self, own_classes: dict[str, type], builtins: list[str], select: str | None = None) -> None:
        """Your models' mapped classes (fresh from the database) and the built-in models there are."""
        self._own_classes = own_classes
        classes = builtin_classes()
        roots = [(f"{name} (yours)", ("own", name)) for name in sorted(own_classes) if name not in builtins] + [
            (f"{name} (built-in)", ("builtin", name)) for name in builtins if name in classes]
        set_options(self.root_choice, roots, ("own", select) if select else None)
        self._root_changed()

    def _root_class(self, choice: tuple[str, str]) -> type | None:
        kind, name = choice
        return self._own_classes.get(name) if kind == "own" else builtin_classes().get(name)

    def _root_changed(self) -> None:
        choice = self.root_choice.value
        cls = self._root_class(choice) if choice is not None else None
        paths = relationship_paths(cls) if cls is not None else []
        set_options(self.path_choice, [(path_label(choice[1], path), path) for path in paths], None)

    def strategies(self) -> list[str]:
        chosen = [key for key, box in self.strategy_boxes.items() if box.value]
        if not chosen:
            raise FormError(["Choose at least one strategy."])
        return chosen

    def workload(self) -> Workload:
        choice, path = self.root_choice.value, self.path_choice.value
        if choice is None:
            raise FormError(["Choose a model to profile."])
        if not path:
            raise FormError([(f"{choice[1]} has no relationship to walk: give it one (or give another model a "
                              "relationship to it), or profile a built-in model.")])
        try:
            return walk_workload(choice[1], self._root_class(choice), path, self.walk_rows.value)
        except ValueError as error:  # the engine's own words: the rows to walk, or a path that is not there
            raise FormError([str(error)]) from None

    # --- running -----------------------------------------------------------------------------------------------
    def start(self, engine, refusal: str | None) -> threading.Thread | None:
        """Profile the chosen walk on ``engine`` in the background job; None (and why) if it cannot start."""
        def chosen() -> tuple[Workload, list[str]]:
            if refusal:
                raise FormError([refusal])
            return self.workload(), self.strategies()

        run = read_form(self.message, chosen)
        if run is None:
            self.clear_results()
            return None
        return self._start_job(self._run, engine, self.root_choice.value[1], *run, on_error=self._failed)

    def _on_progress(self, event: ProgressEvent) -> None:
        self.progress.update(event.index - 1 + (1 if event.phase == "done" else 0.5), total=event.total,
                             message=f"{event.strategy}: {event.phase} — {event.statements:,} statements so far")

    def _failed(self, reason: str) -> None:
        self.timer.stop()
        self.message.error(reason, title="The profile run failed:")
        self.clear_results()

    def clear_results(self) -> None:
        """Results of an earlier run must not stand under the failure of this one, as if they were its."""
        self.comparison = None
        self.progress.layout.display = "none"
        self.table.rows = []
        self.figure.show({"data": [], "layout": {}})
        self.findings.value = NOT_YET

    def _run(self, engine, root: str, workload: Workload, strategies: list[str]) -> None:
        self.message.clear()
        self.progress.layout.display = None
        self.timer.start()
        self.progress.update(0, total=None, message=f"Profiling {workload.name}…")
        comparison = profile(workload, strategies, engine, explain_plans=False, progress=self._on_progress)
        self.timer.stop()
        self.comparison = comparison
        self.table.rows = summary_rows(comparison)
        self.figure.show(comparison.figure())
        self.findings.value = findings_html(comparison)
        self.progress.succeed(f"Compared {len(comparison.results)} strategies in {self.timer.elapsed:.1f} s")
        show_outcome(self.message, comparison)
        if comparison.errors:  # the failures are said in the message; a green bar would say all went well
            self.progress.layout.display = "none"
        self._on_result(root, comparison)


def set_options(dropdown: w.Dropdown, options: list, select: Any) -> None:
    """New options, keeping the current choice (or taking ``select``) when it is still there."""
    values = [option[1] if isinstance(option, tuple) else option for option in options]
    keep = select if select in values else dropdown.value if dropdown.value in values else None
    with dropdown.hold_sync():
        dropdown.options = options
        dropdown.value = keep if keep is not None else (values[0] if values else None)
