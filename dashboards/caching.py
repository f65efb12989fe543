"""The caching dashboard: pick a workload, loading, size, rounds, cache, what the cache keeps and how far the
database is; compare uncached, cold and warm runs; see what caching really saves (or costs), which cached
queries a write makes stale under each way of caching, and the data.

A composition of the cache engine (``profiler.cache``) and the widgets (``widgets``); the notebook
``notebooks/caching.ipynb`` only builds and shows it, so rendering it measures nothing. Runs happen in the
dashboard's background job and reach the page by setting widget traits (pushed over the kernel's websocket,
nothing polls).

Every cache the dashboard opens has a key prefix of its own: ``QueryCache.clear()`` (which a cold run calls)
deletes only ``prefix + namespace``, so a run never touches anyone else's entries in a shared Redis; the
dashboard empties its own space after each run and its entries expire soon anyway. Viewers of a shared
dashboard (``WORKBENCH_DASHBOARD_VIEWER=1``) may run comparisons on the sample data, capped to a cheap size.

The database distance is real: above 0 ms a run's engine connects through a latency proxy on 127.0.0.1
(``profiler.netdelay``), started for the run and stopped when it ends (or when the kernel dies). It needs a
database server: the in-process SQLite sample has no network to delay, so the form says so, and the distance
applies to the PostgreSQL bookstore (the engine given to the dashboard, or the built-in one the hub's
PostgreSQL holds, ``WORKBENCH_DATA_URL``).
"""

from __future__ import annotations

import html
import os
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Mapping
from urllib.parse import urlsplit

import ipywidgets as w

from dashboards.background import BackgroundJob
from dashboards.caching_results import (
    COLUMNS,
    INVALIDATION_COLUMNS,
    STRATEGY_COLUMNS,
    WRITE_COLUMNS,
    invalidation_html,
    invalidation_rows,
    rounds_figure,
    strategy_rows,
    summary_rows,
    verdict_html,
    write_rows,
)
from dashboards.common import INSPECT_TITLE, NOT_YET, RUN_IN_PROGRESS, FormError, hold_action, is_viewer
from dashboards.common import read_form
from dashboards.style import stylesheet
from profiler.cache import (
    CACHE_STRATEGIES,
    CACHE_STRATEGIES_EXPLAINED,
    MODES_EXPLAINED,
    ROUND_TRIPS_MS,
    WRITABLE_TABLES,
    CacheComparison,
    InvalidationDemo,
    QueryCache,
    cache_url_from_environment,
    checked_round_trip,
    compare_caching,
    database_at,
    demonstrate_invalidation,
)
from profiler.cache.backend import REDIS_SCHEMES, redact
from profiler.chart_theme import template_json
from profiler.inputs import InputError
from profiler.playground import BUILTIN_SCHEMA, CACHE_URL, DATA_URL
from profiler.queries import BUILTIN_WORKLOADS, STRATEGY_INFO, default_engine
from widgets import Figure, JsonViewer, LearnMore, Progress, RequestTiming, RunTimer, ScrollTo, section_anchor
from widgets.data_table import DataTable
from widgets.message import Message, plain_reason

STRATEGIES = ("selectin", "joined", "subquery", "lazy", "auto")
MAX_AUTHORS, MAX_ROUNDS = 1000, 20
VIEWER_MAX_AUTHORS, VIEWER_MAX_ROUNDS = 50, 3
VIEWER_NOTE = (f"This is a shared view: runs read the built-in sample data (the write demonstration is rolled "
               f"back, so nothing changes), are capped to {VIEWER_MAX_AUTHORS} authors and {VIEWER_MAX_ROUNDS} "
               "rounds so they stay cheap, and use a cache space of their own: nothing else in a shared Redis is "
               "touched.")
EXPIRATION_S = 600  # entries of a kernel that dies before emptying its space do not linger
ALL_STRATEGIES = "all"
CACHE_KEEPS = [*((info.title, key) for key, info in CACHE_STRATEGIES.items()),
               ("All three, side by side", ALL_STRATEGIES)]
DISTANCES = {ms: f"{ms:g} ms" for ms in ROUND_TRIPS_MS}
DISTANCE_HELP = ("Round trip to the database: 0 ms, on this host; 0.5 ms, a managed database in the same "
                 "availability zone; 1–2 ms, in another zone. Real: a proxy on 127.0.0.1 holds every packet.")

WIDE = {"description_width": "8em"}


def redis_availability(url: str) -> str | None:
    """Why the Redis backend cannot be chosen, or None when a Redis URL is configured (reached at run time)."""
    if not url:
        return f"no Redis is configured for this server ({CACHE_URL} is empty)"
    if urlsplit(url).scheme not in REDIS_SCHEMES:
        return f"{CACHE_URL} ({redact(url)}) is not a Redis URL"
    return None


@dataclass(frozen=True)
class Settings:
    workload: str
    strategy: str
    authors: int
    rounds: int
    backend: str  # "memory" or "redis"
    lazy_loads: bool
    cache_strategy: str = "orm"  # a CACHE_STRATEGIES key, or ALL_STRATEGIES
    database: str = "sample"  # "sample" (in-process SQLite), "given" (the engine passed in), "builtin"
    round_trip_ms: float = 0.0

    @property
    def cache_strategies(self) -> tuple[str, ...]:
        return tuple(CACHE_STRATEGIES) if self.cache_strategy == ALL_STRATEGIES else (self.cache_strategy,)


def builtin_database(environ: Mapping[str, str]) -> str | None:
    """The hub's PostgreSQL as this server's role reaches it (its built-in bookstore is readable), or None."""
    url = environ.get(DATA_URL) or ""
    return url if url and urlsplit(url).scheme.split("+")[0] in ("postgresql", "postgres") else None


class CachingDashboard:
    """Builds the widgets; :meth:`start` and :meth:`start_write` are what the buttons call (usable from a cell)."""

    def __init__(self, engine=None, *, environ: Mapping[str, str] | None = None):
        self._engine = engine
        environ = os.environ if environ is None else environ
        self.builtin_url = None if engine is not None else builtin_database(environ)
        self.viewer_mode = is_viewer(environ)
        self.redis_url = cache_url_from_environment(environ)
        self.redis_unavailable = redis_availability(self.redis_url)
        self.prefix = f"workbench:dashboard-caching:{uuid.uuid4().hex[:12]}:"
        self.max_authors = VIEWER_MAX_AUTHORS if self.viewer_mode else MAX_AUTHORS
        self.max_rounds = VIEWER_MAX_ROUNDS if self.viewer_mode else MAX_ROUNDS

        # --- the form ------------------------------------------------------------------------------------
        self.workload = w.Dropdown(options=list(BUILTIN_WORKLOADS), description="Workload", style=WIDE,
                                   layout=w.Layout(width="30em"))
        self.strategy = w.Dropdown(options=[(STRATEGY_INFO[key].title, key) for key in STRATEGIES],
                                   value="selectin", description="Loading", style=WIDE, layout=w.Layout(width="30em"))
        self.authors = w.IntText(value=min(100, self.max_authors), description="Authors", style=WIDE)
        self.rounds = w.IntText(value=3, description="Rounds", style=WIDE)
        backends = [("In-process memory", "memory")]
        if self.redis_unavailable is None:
            backends.append((f"Redis ({redact(self.redis_url)})", "redis"))
        self.backend = w.ToggleButtons(options=backends, value="memory")
        # ToggleButtons cannot disable one option: an unavailable Redis is a disabled button with its reason
        self.redis_off = w.ToggleButton(description="Redis", disabled=True, tooltip=self.redis_unavailable or "",
                                        layout=w.Layout(display="none" if self.redis_unavailable is None else None))
        self.redis_reason = w.HTML(
            f"<span class='workbench-muted'>Redis: {html.escape(self.redis_unavailable)}</span>"
            if self.redis_unavailable else "")
        self.lazy_loads = w.Checkbox(value=False, indent=False, description="Cache lazy loads too")
        self.cache_strategy = w.Dropdown(options=CACHE_KEEPS, value="orm", description="Cache keeps", style=WIDE,
                                         layout=w.Layout(width="30em"))
        # a label of its own: the page's other "Learn more" explains the modes, and a button is found by its name
        self.strategies_help = LearnMore(CACHE_STRATEGIES_EXPLAINED, title="What the cache keeps",
                                         label="What each keeps")
        if engine is not None:
            databases = [(f"{engine.dialect.name}: {engine.url.render_as_string(hide_password=True)}", "given")]
        else:
            databases = [("Sample in this process (SQLite)", "sample")]
            if self.builtin_url is not None:
                databases.append(("Built-in bookstore (PostgreSQL)", "builtin"))
        self.database = w.ToggleButtons(options=databases, value=databases[0][1],
                                        layout=w.Layout(display=None if len(databases) > 1 else "none"))
        self.distance = w.ToggleButtons(options=[(label, ms) for ms, label in DISTANCES.items()], value=0.0,
                                        tooltips=[DISTANCE_HELP] * len(DISTANCES))
        self.learn_more = LearnMore(MODES_EXPLAINED, title="Uncached, cold and warm")
        self.form_message = Message()
        for control in self._form_controls():
            control.observe(lambda _change: self.validate(), "value")

        # --- running and results ----------------------------------------------------------------------------
        self.notice = w.HTML(f"<p role='status'><b>Shared view.</b> {html.escape(VIEWER_NOTE)}</p>"
                             if self.viewer_mode else "")
        self.run_button = w.Button(description="Run comparison", button_style="primary", icon="play")
        self.run_button.on_click(lambda _button: self.start())
        self.timer = RunTimer(label="Run time")
        self.progress = Progress(label="Caching comparison", layout=w.Layout(display="none"))
        self.message = Message()
        self.verdict = w.HTML(NOT_YET)
        self.summary = w.HTML()
        self.table = DataTable(columns=COLUMNS, row_key="mode", selectable="none", label="Uncached, cold and warm runs",
                               empty_text="Run the comparison to see this.")
        self.figure = Figure(height=360, dark_template=template_json(dark=True))
        self.breakdown = Figure(height=360, dark_template=template_json(dark=True))
        self.strategies_table = DataTable(columns=STRATEGY_COLUMNS, row_key="title", selectable="none",
                                          label="What the cache keeps, side by side",
                                          empty_text="Run the comparison to see this.")
        self.write_table = w.Dropdown(options=WRITABLE_TABLES, value="authors", description="Write to", style=WIDE)
        self.write_button = w.Button(description="Write to authors", icon="pencil")
        self.write_table.observe(lambda change: setattr(self.write_button, "description", f"Write to {change['new']}"),
                                 "value")
        self.write_button.on_click(lambda _button: self.start_write())
        self.invalidation = w.HTML(
            "<p class='workbench-muted'>A cached query remembers the tables it read, eager loads included. "
            "Write to a table to see which cached queries go stale and which keep hitting; the write runs in a "
            "transaction that is rolled back, so the data never changes.</p>")
        self.invalidation_table = DataTable(columns=INVALIDATION_COLUMNS, row_key="query", selectable="none",
                                            label="Cached queries after a write", empty_text="")
        self.write_strategies = DataTable(columns=WRITE_COLUMNS, row_key="title", selectable="none",
                                          label="What the write made stale, by what the cache keeps", empty_text="")
        self.viewer = JsonViewer({"note": "Run the comparison to inspect its data here."}, root_name="comparison",
                                 height=420)
        self.scroller = ScrollTo()
        self.comparison: CacheComparison | None = None
        self.demo: InvalidationDemo | None = None
        self._step = 0  # the run of the round in progress (progress is told the mode and round only)
        self.job = BackgroundJob("caching", on_busy=self._set_busy, describe=plain_reason)
        self.validate()

    def _form_controls(self) -> list[w.Widget]:
        return [self.workload, self.strategy, self.authors, self.rounds, self.backend, self.lazy_loads,
                self.cache_strategy, self.database, self.distance]

    # --- layout ---------------------------------------------------------------------------------------------
    def widget(self) -> w.Widget:
        form = w.VBox([
            self.notice,
            self.workload, self.strategy,
            w.HBox([self.authors, self.rounds]),
            # a label of its own: ToggleButtons puts its description above the buttons
            w.HBox([w.HTML("<div class='workbench-label'>Cache</div>"),
                    self.backend, self.redis_off, self.redis_reason]),
            self.lazy_loads,
            w.HBox([self.cache_strategy, self.strategies_help]),
            w.HBox([w.HTML("<div class='workbench-label'>Database</div>"), self.database],
                   layout=w.Layout(display=self.database.layout.display)),
            w.HBox([w.HTML("<div class='workbench-label'>Distance</div>"), self.distance,
                    w.HTML(f"<span class='workbench-muted'>{html.escape(DISTANCE_HELP)}</span>")]),
            w.HBox([w.HTML("What do <b>uncached</b>, <b>cold</b> and <b>warm</b> mean?"), self.learn_more]),
            self.form_message,
            w.HBox([self.run_button, self.timer]),
            self.progress,
            self.message,
        ])
        return w.VBox([
            form,
            section_anchor("Comparison"),
            self.verdict, self.summary, self.table, self.strategies_table, self.figure, self.breakdown,
            section_anchor("When a write happens", level=3),
            w.HBox([self.write_table, self.write_button]),
            self.invalidation, self.invalidation_table, self.write_strategies,
            section_anchor(INSPECT_TITLE),
            self.viewer,
            RequestTiming(label="Server time for this dashboard"),
            self.scroller,
            stylesheet(),
        ])

    # --- the form ----------------------------------------------------------------------------------------------
    def settings(self) -> Settings:
        """What the form describes; :class:`FormError` listing every problem otherwise."""
        problems = []
        capped = " in a shared view" if self.viewer_mode else ""
        if not 1 <= self.authors.value <= self.max_authors:
            problems.append(f"Authors must be from 1 to {self.max_authors:,}{capped}, not {self.authors.value:,}.")
        if not 1 <= self.rounds.value <= self.max_rounds:
            problems.append(f"Rounds must be from 1 to {self.max_rounds}{capped}, not {self.rounds.value:,}.")
        if self.backend.value == "redis" and self.redis_unavailable:
            problems.append(f"Redis cannot be used: {self.redis_unavailable}.")
        if self.lazy_loads.value and self.strategy.value != "lazy":
            problems.append("Caching lazy loads only applies to lazy loading: choose it, or untick the box.")
        try:
            round_trip = checked_round_trip(self.distance.value, "Distance")
        except InputError as error:
            problems.extend(error.problems)
        else:
            if round_trip > 0 and self.database_dialect() != "postgresql":
                problems.append(f"Distance: the {self.database_dialect()} database lives in this process, so there "
                                "is no network to put a distance on; choose 0 ms"
                                + (", or the PostgreSQL bookstore." if len(self.database.options) > 1 else "."))
        if problems:
            raise FormError(problems)
        return Settings(self.workload.value, self.strategy.value, self.authors.value, self.rounds.value,
                        self.backend.value, self.lazy_loads.value, self.cache_strategy.value, self.database.value,
                        round_trip)

    def database_dialect(self) -> str:
        if self.database.value == "given":
            return self._engine.dialect.name
        return "postgresql" if self.database.value == "builtin" else "sqlite"

    def validate(self) -> Settings | None:
        settings = read_form(self.form_message, self.settings)
        self._form_problem = None if settings is not None else f"Correct the form first: {self.form_message.value}"
        self._set_busy(self.job.busy)
        return settings

    # --- running ---------------------------------------------------------------------------------------------
    def _set_busy(self, busy: bool) -> None:
        for control in (self.write_table, *self._form_controls()):
            control.disabled = busy
        reason = RUN_IN_PROGRESS if busy else self._form_problem
        hold_action(self.run_button, reason, "Run the comparison the form describes")
        hold_action(self.write_button, reason, "Write to the table in a rolled-back transaction")

    def _launch(self, what: str, target, *args) -> threading.Thread | None:
        if self.job.busy:
            self.message.error(RUN_IN_PROGRESS)
            return None
        self.message.clear()
        return self.job.start(target, *args, on_error=lambda reason: self._failed(what, reason))

    def start(self) -> threading.Thread | None:
        """Run the comparison the form describes in the background job; None when the form is not valid."""
        settings = self.validate()
        if settings is None:
            self.clear_results()
            return None
        return self._launch("The comparison", self.run, settings)

    def start_write(self) -> threading.Thread | None:
        """Run the invalidation demonstration (write to the chosen table) in the background job."""
        settings, table = self.validate(), self.write_table.value
        return None if settings is None else self._launch(f"The write to {table}", self.run_write, settings, table)

    def wait(self, timeout: float = 120) -> None:
        """Block until the run in progress is over (for cells run top to bottom, and tests)."""
        self.job.wait(timeout)

    def engine(self, authors: int):
        return self._engine or default_engine(authors)

    @contextmanager
    def database_engine(self, settings: Settings) -> Iterator:
        """The engine a run uses, at the distance the form asks for; a proxy it starts stops when the run ends."""
        if settings.database == "builtin":
            with database_at(self.builtin_url, settings.round_trip_ms, schema=BUILTIN_SCHEMA) as engine:
                yield engine
        elif settings.round_trip_ms > 0:
            # the given engine's own connections choose its schema (connect arguments the URL does not show)
            with self._engine.connect() as connection:
                schema = connection.exec_driver_sql("SELECT current_schema()").scalar()
            url = self._engine.url.render_as_string(hide_password=False)
            with database_at(url, settings.round_trip_ms, schema=schema) as engine:
                yield engine
        else:
            yield self.engine(settings.authors)

    def _open_cache(self, engine, backend: str) -> QueryCache:
        url = self.redis_url if backend == "redis" else "memory://"
        return QueryCache(engine, url, prefix=self.prefix, expiration_time=EXPIRATION_S)

    def _on_progress(self, settings: Settings, mode: str, round_: int, rounds: int) -> None:
        kept = settings.cache_strategies
        per_round = 1 + 2 * len(kept)
        if mode == "uncached":
            self._step = 0
        else:
            self._step += 1
        which = ("" if mode == "uncached" or len(kept) == 1
                 else f" ({CACHE_STRATEGIES[kept[(self._step - 1) // 2]].title})")
        self.progress.update((round_ - 1) * per_round + self._step, total=rounds * per_round,
                             message=f"Round {round_} of {rounds}: {mode} run{which}")

    def _failed(self, what: str, reason: str) -> None:
        self.timer.stop()
        self.message.error(reason, title=f"{what} failed:")
        if what == "The comparison":
            self.clear_results()
        else:
            self.demo = None
            self.invalidation_table.rows = []
            self.write_strategies.rows = []
        self.progress.layout.display = "none"

    def clear_results(self) -> None:
        """Results of an earlier run must not stand under the failure of this one, as if they were its."""
        self.comparison = None
        self.progress.layout.display = "none"
        self.verdict.value = NOT_YET
        self.summary.value = ""
        self.table.rows = []
        self.strategies_table.rows = []
        for figure in (self.figure, self.breakdown):
            figure.show({"data": [], "layout": {}})
        self.viewer.data = {"note": "Run the comparison to inspect its data here."}

    def _begin(self, message: str) -> None:
        self.progress.layout.display = None
        self.timer.start()
        self.progress.update(0, total=None, message=message)

    def run(self, settings: Settings) -> CacheComparison:
        """The comparison (in the calling thread); started by :meth:`start`, a failure (Redis unreachable, a
        timeout...) is said in the page."""
        what = (f"the bookstore ({settings.authors:,} authors)" if settings.database == "sample" else
                "the bookstore" + (f", {settings.round_trip_ms:g} ms away," if settings.round_trip_ms else ""))
        self._begin(f"Preparing {what} and {STRATEGY_INFO[settings.strategy].title.lower()}…")
        cache = None
        with self.database_engine(settings) as engine:
            try:
                cache = self._open_cache(engine, settings.backend)
                comparison = compare_caching(
                    BUILTIN_WORKLOADS[settings.workload], engine, cache=cache, strategy=settings.strategy,
                    repeats=settings.rounds, relationship_loads=settings.lazy_loads,
                    cache_strategies=settings.cache_strategies,
                    progress=lambda *args: self._on_progress(settings, *args))
            finally:
                self._close(cache)
        self.timer.stop()
        self.show(comparison, settings.round_trip_ms)
        self.progress.succeed(f"Compared {settings.rounds} round(s) of uncached, cold and warm runs on "
                              f"{comparison.backend} in {self.timer.elapsed:.1f} s")
        return comparison

    def run_write(self, settings: Settings, table: str) -> InvalidationDemo:
        """The invalidation demonstration (in the calling thread), shown under "When a write happens"; started by
        :meth:`start_write`, a failure (e.g. a read-only database refuses the write) is said in the page."""
        self._begin(f"Caching the queries, writing to {table}, querying again…")
        cache = None
        with self.database_engine(settings) as engine:
            try:
                cache = self._open_cache(engine, settings.backend)
                demo = demonstrate_invalidation(engine, cache, table, settings.cache_strategies)
            finally:
                self._close(cache)
        self.timer.stop()
        self.demo = demo
        self.invalidation.value = invalidation_html(demo)
        self.invalidation_table.rows = invalidation_rows(demo)
        self.write_strategies.rows = write_rows(demo)
        self.progress.succeed(f"Wrote to {table}: {len(demo.stale)} cached queries went stale, "
                              f"{len(demo.kept_hitting)} kept hitting")
        return demo

    @staticmethod
    def _close(cache: QueryCache | None) -> None:
        if cache is None:
            return
        try:
            cache.clear()  # this dashboard's own space only: nothing left behind in a shared Redis
        except Exception:  # noqa: BLE001 - the entries expire in EXPIRATION_S anyway
            pass
        cache.close()

    def show(self, comparison: CacheComparison, round_trip_ms: float = 0.0) -> None:
        self.comparison = comparison
        self.verdict.value = verdict_html(comparison)
        rounds = len({run.round for run in comparison.runs})
        distance = (f"{round_trip_ms:g} ms away" if round_trip_ms else "no distance added")
        measured = (f" (SELECT 1: {comparison.round_trip_ms:.2f} ms)" if comparison.round_trip_ms is not None else "")
        self.summary.value = (f"<p>Medians over {rounds} round(s): {html.escape(comparison.workload)} · "
                              f"{html.escape(comparison.strategy)} · {html.escape(comparison.backend)} · "
                              f"{html.escape(comparison.dialect)}, {distance}{measured}</p>")
        self.table.rows = summary_rows(comparison)
        self.strategies_table.rows = strategy_rows(comparison)
        self.figure.show(rounds_figure(comparison))
        self.breakdown.show(comparison.figure())
        self.viewer.data = comparison.to_dict()
        self.scroller.scroll_to(INSPECT_TITLE)
