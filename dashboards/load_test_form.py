"""The load-test dashboard's form: the workload (operation mix, item size, keys and their distribution, the table)
and the load (closed or open model, concurrency or target rate, duration or request count, warm-up, interval),
checked as it is typed into a :class:`~profiler.loadtest.WorkloadSpec`, with every problem said next to it.

:class:`WorkloadForm` builds these fields and reads them; it is mixed into
:class:`~dashboards.load_test.LoadTestDashboard`, which runs the spec the form gives (and turns Start on and off
through its ``_set_buttons``, from the problem the form leaves in ``_form_problem``).
"""

from __future__ import annotations

import ipywidgets as w

from dashboards.common import FormError, read_form
from profiler.loadtest import OPERATIONS, SpecError, WorkloadSpec
from profiler.loadtest.spec import DEFAULT_CONCURRENCY, DISTRIBUTIONS
from profiler.playground import Playground
from widgets.message import Message

WIDE = {"description_width": "10em"}


class WorkloadForm:
    """The fields of the form, :meth:`spec` (what they describe) and :meth:`validate` (what is wrong with it)."""

    def _build_form(self, playground: Playground | None) -> None:
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
        self.form_message = Message()
        for control in self._form_controls():
            control.observe(lambda _change: self.validate(), "value")

    def _form_controls(self) -> list[w.Widget]:
        return [*self.weights.values(), self.item_size, self.key_space, self.distribution, self.model,
                self.concurrency, self.target_rate, self.length, self.duration, self.requests, self.warmup,
                self.interval, self.table, self.name]

    def _form_widget(self) -> w.Widget:
        workload = w.VBox([
            w.HTML("<b>Operation mix</b> (relative weights)"),
            w.HBox(list(self.weights.values())[:3]), w.HBox(list(self.weights.values())[3:]),
            self.item_size, self.key_space, self.distribution, self.table, self.name,
        ])
        load = w.VBox([self.model, self.concurrency, self.target_rate, self.length, self.duration, self.requests,
                       self.warmup, self.interval])
        return w.HBox([workload, load], layout=w.Layout(flex_flow="row wrap", grid_gap="0 2em"))

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
        self._form_problem = None if spec is not None else f"Correct the form first: {self.form_message.value}"
        self._set_buttons()
        return spec
