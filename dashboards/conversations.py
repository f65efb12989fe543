"""The conversations dashboard: profile a workload over the chat-bot dataset, compare strategies, inspect the data.

A composition of the dataset engine (``profiler.datagen``), the query profiler (``profiler.queries``) and the
widgets (``widgets``); the notebook ``notebooks/conversations.ipynb`` only builds and shows it. Building it reads
one bookkeeping row (is the hub's built-in dataset there?) and nothing more: generating, counting and profiling
happen on a click, in the dashboard's background job, and every update reaches the page by setting widget traits.

The dataset is either the hub's built-in copy (read-only; see :func:`builtin_target`) or a sample generated
into a temporary SQLite file that lives as long as this kernel. Viewers of a shared dashboard
(``WORKBENCH_DASHBOARD_VIEWER=1``) profile the built-in dataset like the owner, but their samples are capped:
generating uses the owner's server.

This module owns the form (dataset, workload, strategies) and the run (generating, counting, profiling); what a
run shows, and the conversations it lists and opens, are :mod:`dashboards.conversation_results`.
"""

from __future__ import annotations

import html
import inspect
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import ipywidgets as w
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from dashboards.background import BackgroundJob
from dashboards.background import wait  # noqa: F401 - for cells: wait(dashboard.start())
from dashboards.common import INSPECT_TITLE, RUN_IN_PROGRESS, FormError, hold_action, is_viewer, read_form
from dashboards.conversation_results import ConversationResults, latest_conversations
from dashboards.conversation_results import COUNT_COLUMNS, COUNTED, LATEST, LATEST_COLUMNS  # noqa: F401 - for callers
from dashboards.conversation_results import PAGE, conversation_document, count_rows  # noqa: F401 - for callers
from dashboards.conversation_results import latest_rows  # noqa: F401 - for callers
from dashboards.query_optimization import STANDARD, show_outcome, strategy_help
from dashboards.style import stylesheet
from profiler.datagen import DatasetSpec, LoadProgress, dataset_counts, dataset_engine, load, loaded_dataset
from profiler.datagen.generator import MAX_SEED, MIN_MESSAGES
from profiler.datagen.workloads import WORKLOADS
from profiler.playground import BUILTIN_SCHEMA
from profiler.playground import BUILTIN_DATA_URL, DATA_URL
from profiler.queries import STRATEGY_INFO, Comparison, ProgressEvent, profile
from widgets import LearnMore, Progress, RequestTiming, RunTimer, section_anchor
from widgets.message import Message as Notice
from widgets.message import plain_reason

CHECKED = ("lazy", "joined", "selectin")  # the N+1 and its two usual fixes
SAMPLE_MESSAGES = 5_000
# Generating runs at ~65,000 messages/s here (200,000 in 3 s) into ~290 bytes of SQLite per message.
MAX_SAMPLE_MESSAGES = 1_000_000
VIEWER_MAX_SAMPLE_MESSAGES = 20_000

DATASET_HELP = """\
Bots with personas (an archivist, a skeptic, a poet…) hold conversations. Each conversation has a few
participants; its messages form reply threads (a reply answers an earlier message of the same conversation) and
the other participants react with emojis. The text comes from a Markov chain trained on a small public-domain
corpus, and the same size and seed give the same rows on every machine.

- **Built-in dataset**: the copy the hub installed for everyone (`WORKBENCH_BUILTIN_MESSAGES` messages). The
  database lets this server only read it, and every profiled run is a transaction that is rolled back anyway.
- **Generate a sample**: a dataset of the size and seed you choose, in a temporary SQLite file of this page's kernel.
"""
NPLUSONE_HELP = """\
### N+1 at scale
Left **lazy**, the ORM loads a relationship the first time the code touches it: one `SELECT` per message for its
reactions, one per author not yet in the session, and so on. The statement count grows with what the page shows,
not with the size of the tables, but each statement is a round trip: to a remote database with a million
messages, a millisecond or more each, on every page view. **Select-IN** and **joined** loading fetch the same data
in a handful of statements; the comparison checks that every strategy returned the same data.
"""


def workload_help(name: str) -> str:
    """The "learn more" text of a workload: the dataset, what the workload walks (its own docstring), N+1."""
    walks = inspect.getdoc(WORKLOADS[name]) or name
    return f"### The dataset\n{DATASET_HELP}\n### What this workload walks\n{walks}\n\n{NPLUSONE_HELP}"


@dataclass(frozen=True)
class DatasetTarget:
    """Where a conversations dataset is: a database URL and, on PostgreSQL, its schema."""

    url: str
    schema: str | None = None

    def engine(self):
        return dataset_engine(self.url, self.schema)


def read_only_sqlite(url: str) -> str:
    """The URL of the same SQLite file opened read-only by SQLite itself (mode=ro), whoever runs the kernel."""
    path = Path(make_url(url).database or "").resolve()
    return f"sqlite:///file:{path}?mode=ro&uri=true"


def builtin_target(environ: Mapping[str, str]) -> DatasetTarget | None:
    """How this server reaches the hub's built-in dataset, or None outside the hub.

    The hub hands it over in the server's environment (``profiler/playground.py``): in local mode
    ``WORKBENCH_BUILTIN_DATA_URL`` names the read-only built-in SQLite file; with PostgreSQL the server's own role
    (``WORKBENCH_DATA_URL``) may read the ``builtin`` schema, where the dataset's tables are.
    """
    builtin_url, data_url = environ.get(BUILTIN_DATA_URL) or "", environ.get(DATA_URL) or ""
    if builtin_url and make_url(builtin_url).get_backend_name() == "sqlite":
        return DatasetTarget(read_only_sqlite(builtin_url))
    if data_url and make_url(data_url).get_backend_name() == "postgresql":
        return DatasetTarget(data_url, BUILTIN_SCHEMA)
    return None


def sample_spec(messages: int, seed: int, limit: int, *, viewer: bool = False) -> DatasetSpec:
    """The sample the form asks for; :class:`FormError` saying what is wrong with it otherwise."""
    problems = []
    if messages < MIN_MESSAGES:
        problems.append(f"Messages: a sample holds at least {MIN_MESSAGES} message, not {messages:,}.")
    elif messages > limit:
        why = ("this is a shared view, and samples are generated on the owner's server" if viewer else
               "larger ones take minutes and hundreds of MB of temporary disk; profiler.datagen.load makes up to "
               "10 million from Python")
        problems.append(f"Messages: a sample holds at most {limit:,} messages here, not {messages:,} ({why}).")
    if not 0 <= seed <= MAX_SEED:
        problems.append(f"Seed: a whole number from 0 to {MAX_SEED:,}, not {seed:,}.")
    if problems:
        raise FormError(problems)
    return DatasetSpec(messages, seed)



class ConversationsDashboard(ConversationResults):
    """Builds the widgets; :meth:`start` is what the Run button calls, :meth:`inspect` what picking a
    conversation calls (both usable from a cell too)."""

    def __init__(self, *, builtin: DatasetTarget | None = None, sample: DatasetTarget | None = None,
                 environ: Mapping[str, str] | None = None, repeats: int = 3):
        environ = os.environ if environ is None else environ
        self.viewer_mode = is_viewer(environ)
        self.sample_limit = VIEWER_MAX_SAMPLE_MESSAGES if self.viewer_mode else MAX_SAMPLE_MESSAGES
        self.repeats = repeats
        self._sample_target = sample  # None: a temporary SQLite file, made on the first run that needs it
        self._sample_folder: tempfile.TemporaryDirectory | None = None
        self.builtin = builtin if builtin is not None else builtin_target(environ)
        self.builtin_spec, builtin_note = self._look_for_builtin()

        sources = [("Generate a sample", "sample")]
        if self.builtin_spec is not None:
            sources.insert(0, (f"Built-in dataset ({self.builtin_spec.messages:,} messages, read-only)", "builtin"))
        self.source = w.RadioButtons(options=sources, description="Dataset", layout=w.Layout(width="max-content"))
        self.messages = w.IntText(value=min(SAMPLE_MESSAGES, self.sample_limit), description="Messages")
        self.seed = w.IntText(value=0, description="Seed")
        self.sample_box = w.HBox([self.messages, self.seed])
        self.workload = w.Dropdown(options=list(WORKLOADS), description="Workload",
                                   style={"description_width": "initial"}, layout=w.Layout(width="36em"))
        self.workload_help = LearnMore(workload_help(self.workload.value), title="The dataset and this workload")
        self.workload.observe(lambda change: setattr(self.workload_help, "content", workload_help(change["new"])),
                              "value")
        self.strategy_boxes = {key: w.Checkbox(value=key in CHECKED, description=STRATEGY_INFO[key].title,
                                               indent=False) for key in STANDARD}
        self.learn_more = {key: LearnMore(strategy_help(key), title=STRATEGY_INFO[key].title) for key in STANDARD}
        self.notice = w.HTML(self._notice_html(builtin_note))
        self.form_message = Notice()
        self.run_button = w.Button(description="Run comparison", button_style="primary", icon="play")
        self.run_button.on_click(lambda _button: self.start())
        self.timer = RunTimer(label="Run time")
        self.progress = Progress(label="Run", layout=w.Layout(display="none"))  # shown once a run starts
        for control in (self.source, self.messages, self.seed):
            control.observe(lambda _change: self.validate(), "value")

        self._build_results()
        self._engine = None  # the dataset of the last run, which the picker reads
        self.job = BackgroundJob("conversations-run", on_busy=self._set_busy, on_error=self._failed,
                                 describe=plain_reason)
        self.validate()

    # --- layout ---------------------------------------------------------------------------------------------
    def widget(self) -> w.Widget:
        strategies = [w.HBox([self.strategy_boxes[key], self.learn_more[key]]) for key in STANDARD]
        form = w.VBox([self.notice, self.source, self.sample_box,
                       w.HBox([self.workload, self.workload_help]), w.HTML("<b>Strategies to compare</b>"),
                       *strategies, self.form_message, w.HBox([self.run_button, self.timer]), self.progress])
        return w.VBox([
            form,
            section_anchor("Comparison"), self.source_note, self.counts, self.table, self.figure,
            section_anchor("N+1 findings", level=3), self.findings,
            section_anchor(INSPECT_TITLE), self.latest, self.browse_message, self.viewer,
            section_anchor("The comparison as data", level=3), self.comparison_viewer,
            RequestTiming(label="Server time for this dashboard"), self.scroller,
            stylesheet(),
        ])

    def _look_for_builtin(self) -> tuple[DatasetSpec | None, str]:
        """The built-in dataset's size and seed from its bookkeeping row (one small read; no counting)."""
        if self.builtin is None:
            return None, "This server was not started by the workbench hub, so there is no built-in dataset."
        try:
            spec = loaded_dataset(self.builtin.url, self.builtin.schema)
        except Exception as error:  # noqa: BLE001 - a sample still works; say why the built-in is not offered
            return None, f"The built-in dataset cannot be read: {type(error).__name__}: {str(error).splitlines()[0]}"
        if spec is None:
            return None, "The hub installed no conversations dataset (or is still installing it)."
        return spec, ""

    def _notice_html(self, builtin_note: str) -> str:
        parts = []
        if builtin_note:
            parts.append(f"<p role='status'>{html.escape(builtin_note)} You can generate a sample.</p>")
        if self.viewer_mode:
            parts.append(f"<p role='status'><b>Shared view.</b> You can profile the built-in dataset (read-only) "
                         f"and generate samples of up to {self.sample_limit:,} messages: they are made on the "
                         "owner's server, in a temporary file deleted when this page's kernel ends.</p>")
        return "".join(parts)

    # --- the form -------------------------------------------------------------------------------------------
    def strategies(self) -> list[str]:
        chosen = [key for key, box in self.strategy_boxes.items() if box.value]
        if not chosen:
            raise FormError(["Choose at least one strategy to compare."])
        return chosen

    def validate(self) -> DatasetSpec | None:
        """Check the dataset part of the form as it is typed; the sample's spec when one is asked for and valid."""
        sampling = self.source.value == "sample"
        self.sample_box.layout.display = None if sampling else "none"
        self._form_problem = None
        if not sampling:
            self.form_message.clear()
            spec = None
        else:
            spec = read_form(self.form_message, self._sample_spec)
            if spec is None:
                self._form_problem = f"Correct the form first: {self.form_message.value}"
        self._set_busy(self.job.busy)
        return spec

    def _sample_spec(self) -> DatasetSpec:
        return sample_spec(self.messages.value, self.seed.value, self.sample_limit, viewer=self.viewer_mode)

    def _set_busy(self, busy: bool) -> None:
        for control in (self.source, self.messages, self.seed, self.workload, *self.strategy_boxes.values()):
            control.disabled = busy
        reason = RUN_IN_PROGRESS if busy else self._form_problem
        hold_action(self.run_button, reason, "Run the comparison the form describes")

    def start(self) -> threading.Thread | None:
        """Start a run in the background job (the kernel stays free); None when the form is not valid."""
        if self.job.busy:
            self.form_message.error(RUN_IN_PROGRESS)
            return None
        run = read_form(self.form_message, self._run_arguments)
        if run is None:
            self.clear_results()
            return None
        return self.job.start(self.run, *run)

    def _run_arguments(self) -> tuple[DatasetTarget, DatasetSpec | None, Any, list[str]]:
        """What :meth:`run` is given for the form as it is: the dataset, the sample to make (None: the built-in
        one), the workload and the strategies."""
        strategies = self.strategies()
        if self.source.value == "builtin":
            if self.builtin_spec is None:  # a forged choice: the option is not offered
                raise FormError(["There is no built-in dataset here: generate a sample."])
            return self.builtin, None, WORKLOADS[self.workload.value], strategies
        spec = self._sample_spec()
        return self._sample(), spec, WORKLOADS[self.workload.value], strategies

    def _sample(self) -> DatasetTarget:
        if self._sample_target is None:
            self._sample_folder = tempfile.TemporaryDirectory(prefix="conversations-")
            self._sample_target = DatasetTarget(f"sqlite:///{Path(self._sample_folder.name) / 'sample.sqlite'}")
        return self._sample_target

    # --- running --------------------------------------------------------------------------------------------
    def _on_load(self, event: LoadProgress) -> None:
        self.progress.update(event.messages_done, total=event.messages_total,
                             message=f"Generating the sample: {event.messages_done:,} of {event.messages_total:,} "
                                     f"messages, {event.rows_written:,} rows written")

    def _on_profile(self, event: ProgressEvent) -> None:
        self.progress.update(event.index - 1 + (1 if event.phase == "done" else 0.5), total=event.total,
                             message=f"Profiling {event.strategy} ({event.index} of {event.total}): {event.phase} "
                                     f"— {event.statements:,} statements so far")

    def _failed(self, reason: str) -> None:
        self.timer.stop()
        self.form_message.error(reason, title="The run failed:")
        self.clear_results()

    def run(self, target: DatasetTarget, spec: DatasetSpec | None, workload, strategies: list[str]) -> Comparison:
        """Generate the sample if asked, count, profile, list the latest conversations; show it all (in the calling
        thread; started by :meth:`start`, a failure is said in the page)."""
        self.timer.start()
        self.form_message.clear()
        self.progress.layout.display = None
        self.progress.update(0, total=None, message="Opening the dataset…")
        if self._engine is not None:
            self._engine.dispose()  # the sample may be replaced: let go of the old file's connections
            self._engine = None
        if spec is not None:
            load(target.url, spec.messages, spec.seed, schema=target.schema, progress=self._on_load,
                 replace=True, workers=0, batches_per_commit=1)  # worker processes cost more than they save here
        self._engine = engine = target.engine()
        self.progress.update(0, total=None, message="Counting the dataset's rows…")
        counts = dataset_counts(engine)
        comparison = profile(workload, strategies, engine, repeats=self.repeats, progress=self._on_profile)
        self.progress.update(message="Reading the latest conversations…")
        with Session(engine) as session:
            latest = latest_conversations(session)
        self.timer.stop()
        where = (f"Built-in dataset ({self.builtin_spec.messages:,} messages, seed {self.builtin_spec.seed})"
                 if spec is None else f"Generated sample ({spec.messages:,} messages, seed {spec.seed})")
        self.show(comparison, counts, latest, where)
        self.progress.succeed(f"Compared {len(comparison.results)} strategies on {counts['messages']:,} "
                              f"messages in {self.timer.elapsed:.1f} s")
        show_outcome(self.form_message, comparison)
        if comparison.errors:  # the failures are said in the message; a green bar would say all went well
            self.progress.layout.display = "none"
        return comparison
