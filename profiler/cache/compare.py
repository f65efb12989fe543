"""Uncached vs cold vs warm: what caching a workload's queries really saves, merge cost included.

Each round runs the workload three times, alternating: **uncached** (the cache is not consulted), **cold**
(the cache emptied first: every query misses, runs and is stored) and **warm** (right after: every query
hits and is merged into the session). Every run is a rolled-back transaction in a fresh session, captured
like the query profiler's runs; the medians over the rounds are compared, and the data each run returned
must have the same fingerprint as the uncached run's. Several cache strategies (what an entry keeps, see
``strategies``) can be compared in one run: each round has one uncached run, then a cold and a warm run of each.

Before the rounds, the median time of ``SELECT 1`` on the engine says how far the database is: a hit saves
statements, and each is worth at least that much.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from time import perf_counter
from typing import Callable, Sequence

from sqlalchemy import Engine, event, text

from profiler.queries.analysis import relationship_tree
from profiler.queries.execution import StrategyContext, execute_workload
from profiler.queries.guard import WorkloadTimeout
from profiler.inputs import InputError, refuse
from profiler.queries.arguments import (
    MAX_CACHE_REPEATS, check_run_arguments, checked_callback, checked_engine, checked_strategy, checked_workload,
)
from profiler.queries.strategies import Strategy
from profiler.queries.workloads import Workload

from .orm import QueryCache
from .strategies import CACHE_STRATEGIES, checked_cache_strategies

MODES = ("uncached", "cold", "warm")

# The one wording of what the modes and the merge cost mean (the caching dashboard's "learn more" shows it).
MODES_EXPLAINED = """\
**Uncached**: the cache is not consulted; every query goes to the database, as if there were no cache.

**Cold**: the cache was just emptied, so every query misses: it runs on the database and its result is pickled
and stored. This is what the first request after an expiry, a write or a deploy pays.

**Warm**: right after the cold run, every query is a hit: its stored result is read, unpickled and **merged
into the session** (`merge_frozen_result`), which rebuilds every object, and every related object loaded with
it, in the session.

**The merge cost.** A hit saves the statements, not the ORM's work. With many objects, merging them can cost
more than the few statements it saves (a joined eager load even merges each parent once per child row), and
the verdict says so when it happens.

**How it is measured.** Each round runs the three modes in turn, every run a rolled-back transaction in a fresh
session; the medians over the rounds are compared, and every cached run must return the same data as the
uncached runs (checked by fingerprint).
"""


@dataclass
class RunStats:
    """One run of the workload. Times in milliseconds."""

    mode: str
    round: int
    wall_ms: float
    statements: int
    database_ms: float  # execute + fetch of the statements that ran
    hits: int = 0
    misses: int = 0
    stores: int = 0
    objects_merged: int = 0
    rows_merged: int = 0  # cached rows merged (a joined eager load repeats its parents once per child row)
    cache_read_ms: float = 0.0  # fetching and unpickling entries
    merge_ms: float = 0.0  # merge_frozen_result of hits
    store_ms: float = 0.0  # pickling and storing entries
    compiled_cache_hits: int = 0  # SQLAlchemy's compiled-statement cache ("[cached since ...]")
    compiled_cache_misses: int = 0  # ("[generated in ...]")
    fingerprint: str = ""
    cache_strategy: str = ""  # CACHE_STRATEGIES key of a cold or warm run ("" for uncached)


_NUMBERS = [f.name for f in fields(RunStats) if f.name not in ("mode", "round", "fingerprint", "cache_strategy")]
ROUND_TRIP_SAMPLES = 30


@dataclass
class CacheComparison:
    workload: str
    strategy: str
    backend: str  # "in-process memory", "Redis at redis://..."
    dialect: str
    runs: list[RunStats] = field(default_factory=list)
    cache_strategies: tuple[str, ...] = ("orm",)
    round_trip_ms: float | None = None  # SELECT 1 on the engine, median (measured before the rounds)

    def median(self, mode: str, cache_strategy: str | None = None) -> dict:
        """Medians of ``mode``'s runs; cold and warm runs of ``cache_strategy`` (default: the first compared)."""
        if cache_strategy is None and len(self.cache_strategies) > 1:
            cache_strategy = self.cache_strategies[0]
        chosen = [run for run in self.runs if run.mode == mode
                  and (mode == "uncached" or cache_strategy is None or run.cache_strategy == cache_strategy)]
        if not chosen:
            raise ValueError(f"no {mode} runs; modes are {MODES}")
        return {name: statistics.median(getattr(run, name) for run in chosen) for name in _NUMBERS}

    def only(self, cache_strategy: str) -> CacheComparison:
        """The comparison of one cache strategy: the uncached runs and its own cold and warm runs."""
        if cache_strategy not in self.cache_strategies:
            raise ValueError(f"{cache_strategy!r} was not compared; these were: {', '.join(self.cache_strategies)}")
        runs = [run for run in self.runs if run.mode == "uncached" or run.cache_strategy in (cache_strategy, "")]
        return CacheComparison(self.workload, self.strategy, self.backend, self.dialect, runs, (cache_strategy,),
                               self.round_trip_ms)

    def speedup(self, cache_strategy: str | None = None) -> float:
        """Median uncached wall time over median warm wall time (above 1: warm is faster)."""
        warm = self.median("warm", cache_strategy)["wall_ms"]
        return self.median("uncached")["wall_ms"] / warm if warm > 0 else float("inf")

    @property
    def best_cache_strategy(self) -> str:
        """The strategy whose warm runs were fastest, among those that returned the uncached data."""
        matching = [name for name in self.cache_strategies if self.only(name).data_matches]
        matching = matching or list(self.cache_strategies)
        return max(matching, key=self.speedup)

    def strategy_rows(self) -> list[dict]:
        """One row per cache strategy: its medians side by side, what a hit costs and what a write makes stale."""
        rows = []
        uncached = self.median("uncached")
        for name in self.cache_strategies:
            cold, warm = self.median("cold", name), self.median("warm", name)
            info = CACHE_STRATEGIES[name]
            rows.append({
                "cache_strategy": name, "title": info.title, "uncached_ms": uncached["wall_ms"],
                "cold_ms": cold["wall_ms"], "warm_ms": warm["wall_ms"], "speedup": self.speedup(name),
                "merge_ms": warm["merge_ms"], "cache_read_ms": warm["cache_read_ms"],
                "objects_merged": warm["objects_merged"], "statements": warm["statements"],
                "statements_saved": uncached["statements"] - warm["statements"],
                "same_data": self.only(name).data_matches, "stale_after": info.stale_after,
            })
        return rows

    @property
    def data_matches(self) -> bool:
        """Every cold and warm run returned the data the uncached runs returned."""
        reference = {run.fingerprint for run in self.runs if run.mode == "uncached"}
        return len(reference) == 1 and all(run.fingerprint in reference for run in self.runs)

    @property
    def saved_ms(self) -> float:
        """Median uncached wall time minus median warm wall time (negative: caching costs time)."""
        return self.median("uncached")["wall_ms"] - self.median("warm")["wall_ms"]

    @property
    def noise_ms(self) -> float:
        """Half the spread of the uncached runs: differences below it are not measurable here."""
        walls = [run.wall_ms for run in self.runs if run.mode == "uncached"]
        return (max(walls) - min(walls)) / 2 if len(walls) > 1 else 0.0

    @property
    def verdict(self) -> str:
        if len(self.cache_strategies) > 1:
            best = self.best_cache_strategy
            lead = (f"Fastest warm: {CACHE_STRATEGIES[best].title}, {self.speedup(best):.1f}× the speed of no cache. "
                    if self.speedup(best) > 1 else "")
            return lead + " ".join(f"{CACHE_STRATEGIES[name].title}: {self.only(name).verdict}"
                                   for name in self.cache_strategies)
        uncached, cold, warm = (self.median(mode) for mode in MODES)
        saved = self.saved_ms
        percent = 100 * saved / uncached["wall_ms"] if uncached["wall_ms"] else 0.0
        statements = int(round(uncached["statements"] - warm["statements"]))
        objects = int(round(warm["objects_merged"]))
        rows = int(round(warm["rows_merged"]))
        # a joined eager load caches one row per child, and every row merges its parent's whole graph again
        from_rows = f" from {rows:,} cached rows" if rows > objects else ""
        warm_part = (
            f"{statements} statement{'s' if statements != 1 else ''} fewer, {objects:,} objects merged{from_rows} "
            f"in {warm['merge_ms']:.1f} ms"
        )
        if self.cache_strategies == ("rows",):
            warm_part = (f"{statements} statement{'s' if statements != 1 else ''} fewer and no ORM object built: "
                         f"the workload's rows read from the cache in {warm['cache_read_ms']:.1f} ms")
        if warm["hits"] == 0 and warm["misses"] > 0:
            # the warm runs asked the cache and found nothing: entries expired (or were evicted) in between
            return ("no conclusion: the warm runs found nothing in the cache (0 hits, "
                    f"{int(round(warm['misses']))} misses), so they measured querying, not caching: the entries "
                    f"expired or were evicted before they were read on {self.backend}.")
        if not self.data_matches:
            lead = "WARNING: cached runs returned DIFFERENT DATA from uncached runs; the timings are not comparable. "
        else:
            lead = ""
        if abs(saved) <= self.noise_ms:
            sentence = (
                f"caching made no measurable difference ({saved:+.1f} ms, within the ±{self.noise_ms:.1f} ms "
                f"spread of uncached runs): {warm_part}"
            )
        elif saved > 0:
            sentence = f"caching saved {saved:.1f} ms ({percent:.0f}%) per run: {warm_part}"
        elif self.cache_strategies == ("rows",):
            sentence = (f"caching cost {-saved:.1f} ms more than querying: reading the cached rows "
                        f"({warm['cache_read_ms']:.1f} ms) is slower than the {statements} statement"
                        f"{'s' if statements != 1 else ''} it saves")
        else:
            sentence = (
                f"caching cost {-saved:.1f} ms more than querying: merging {objects:,} objects{from_rows} "
                f"({warm['merge_ms']:.1f} ms, plus {warm['cache_read_ms']:.1f} ms reading the cache) is slower "
                f"than the {statements} statement{'s' if statements != 1 else ''} it saves"
            )
        cold_extra = cold["wall_ms"] - uncached["wall_ms"]
        distance = (f" The database answered SELECT 1 in {self.round_trip_ms:.2f} ms (median)."
                    if self.round_trip_ms is not None else "")
        return (
            f"{lead}{sentence}. A cold run took {cold_extra:+.1f} ms compared with no cache "
            f"({cold['store_ms']:.1f} ms of it storing results) on {self.backend}.{distance}"
        )

    def summary_frame(self):
        """One row per mode: medians over the rounds."""
        import pandas as pd

        if len(self.cache_strategies) == 1:
            rows = [{"mode": mode, **self.median(mode)} for mode in MODES]
            frame = pd.DataFrame(rows).set_index("mode")
            frame["runs"] = [sum(run.mode == mode for run in self.runs) for mode in MODES]
            frame["same data"] = self.data_matches
            return frame
        labels, rows, counts, same = [], [], [], []
        for mode, name in self.mode_columns():
            labels.append(mode if name is None else f"{mode} · {name}")
            rows.append(self.median(mode, name))
            counts.append(sum(run.mode == mode and (name is None or run.cache_strategy == name) for run in self.runs))
            same.append(self.data_matches if name is None else self.only(name).data_matches)
        frame = pd.DataFrame(rows, index=pd.Index(labels, name="mode"))
        frame["runs"], frame["same data"] = counts, same
        return frame

    def mode_columns(self) -> list[tuple[str, str | None]]:
        """(mode, cache strategy) of each bar or row: uncached once, then cold and warm of each strategy."""
        if len(self.cache_strategies) == 1:
            return [(mode, None) for mode in MODES]
        return [("uncached", None), *((mode, name) for name in self.cache_strategies for mode in ("cold", "warm"))]

    def runs_frame(self):
        import pandas as pd

        return pd.DataFrame([asdict(run) for run in self.runs])

    def to_dict(self) -> dict:
        return {
            "workload": self.workload,
            "strategy": self.strategy,
            "backend": self.backend,
            "dialect": self.dialect,
            "medians": {mode: self.median(mode) for mode in MODES},
            "cache_strategies": list(self.cache_strategies),
            "round_trip_ms": self.round_trip_ms,
            "by_cache_strategy": {row["cache_strategy"]: row for row in self.strategy_rows()},
            "saved_ms": self.saved_ms,
            "noise_ms": self.noise_ms,
            "data_matches": self.data_matches,
            "verdict": self.verdict,
            "runs": [asdict(run) for run in self.runs],
        }

    def figure(self):
        """Median wall time per mode, split into database, cache read, merge, store and the rest (Python)."""
        import plotly.graph_objects as go

        from profiler.chart_theme import TEMPLATE, color_of

        columns = self.mode_columns()
        medians = [self.median(mode, name) for mode, name in columns]
        names = [mode if name is None else f"{mode} · {name}" for mode, name in columns]
        parts = {
            "database (execute + fetch)": [m["database_ms"] for m in medians],
            "cache read": [m["cache_read_ms"] for m in medians],
            "merge into session": [m["merge_ms"] for m in medians],
            "store": [m["store_ms"] for m in medians],
        }
        parts["Python / ORM (the rest)"] = [
            max(0.0, m["wall_ms"] - sum(values[i] for values in parts.values())) for i, m in enumerate(medians)
        ]
        figure = go.Figure([
            go.Bar(name=name, x=names, y=values, marker_color=color_of(name)) for name, values in parts.items()
        ])
        figure.update_layout(
            template=TEMPLATE, barmode="stack", title=f"{self.workload} · {self.strategy} · {self.backend}",
            xaxis_title="mode", yaxis_title="median time (ms)",
            height=360, margin=dict(t=50, b=40, l=60, r=20), legend=dict(orientation="h", y=-0.2),
        )
        return figure


class _CompiledCacheCounter:
    """Counts SQLAlchemy's compiled-cache outcome (``context.cache_hit``) of each statement of a run."""

    def __init__(self):
        self.outcomes: Counter = Counter()

    def attach(self, connection) -> None:
        event.listen(connection, "after_execute", self._after_execute)

    def _after_execute(self, connection, clause, multiparams, params, execution_options, result):
        outcome = getattr(getattr(result, "context", None), "cache_hit", None)
        if outcome is not None:
            self.outcomes[getattr(outcome, "name", str(outcome))] += 1


def compare_caching(
    workload: Workload | Callable,
    engine: Engine | None = None,
    *,
    cache: QueryCache | None = None,
    strategy: str | Strategy = "selectin",
    repeats: int = 5,
    relationship_loads: bool = False,
    timeout: float = 60.0,
    progress: Callable[[str, int, int], None] | None = None,
    cache_strategies: str | Sequence[str] = "orm",
) -> CacheComparison:
    """Run ``workload`` uncached, cold and warm, ``repeats`` rounds, under loading ``strategy``.

    ``cache_strategies`` (see ``CACHE_STRATEGIES``): what the cache keeps, one name or several compared side by
    side (each round: one uncached run, then a cold and a warm run of each). With ``orm`` and ``merge`` every
    top-level ORM SELECT of the workload is cached (lazy loads too with ``relationship_loads``); with ``rows``
    the workload's result is. ``cache`` defaults to a memory cache on ``engine``. ``progress(mode, round,
    rounds)`` is called before each run. Note that a cold run empties ``cache``'s whole namespace. ``repeats``
    is at most 50 and ``timeout`` (seconds per run) at most 600; a bad argument raises ``InputError`` naming it
    before anything runs.
    """
    check_run_arguments(repeats=repeats, max_repeats=MAX_CACHE_REPEATS, timeout=timeout,
                        relationship_loads=relationship_loads)
    checked_callback("progress", progress)
    kept = checked_cache_strategies(cache_strategies)
    workload = checked_workload(workload)
    chosen = checked_strategy(strategy)
    engine = checked_engine(engine)
    if cache is not None and not isinstance(cache, QueryCache):
        raise refuse("cache", "a QueryCache(engine, url) or None for a memory cache", cache)
    if cache is not None and cache.engine is not engine:
        raise InputError("cache: it watches another engine than the one the workload runs on; make it with "
                         "QueryCache(engine, ...) for this engine", "cache")
    own_cache = cache is None
    cache = cache if cache is not None else QueryCache(engine, "memory://")
    try:
        models: dict[str, type] = {}
        # the lazy discovery run tells strategies which relationships the workload walks (and warms up)
        discovery = execute_workload(engine, workload.run, timeout=timeout, models=models)
        context = StrategyContext(engine, workload.run, relationship_tree(discovery.capture.statements), models,
                                  timeout)
        preparation = chosen.prepare(context)
        function = preparation.function or workload.run
        comparison = CacheComparison(workload.name, chosen.label, cache.description, engine.dialect.name,
                                     cache_strategies=kept, round_trip_ms=measure_round_trip_ms(engine))
        # the result of a workload is the same under every loading strategy (checked by fingerprint), but a
        # strategy's own function may differ from the workload's: both name the entry
        result_key = f"{workload.name}\x00{getattr(function, '__module__', '')}.{getattr(function, '__qualname__', '')}"

        def whole_result(session):
            return cache.cached_result(session, function, result_key)

        def run(mode: str, round_: int, kind: str) -> RunStats:
            if progress is not None:
                progress(mode, round_, repeats)
            compiled = _CompiledCacheCounter()

            def setup(session):
                if mode != "uncached" and kind != "rows":
                    cache.attach(session, every_query=True, relationship_loads=relationship_loads,
                                 merge="objects" if kind == "merge" else "frozen")
                compiled.attach(session.bind)

            with cache.counting() as counters:
                outcome = execute_workload(
                    engine, whole_result if mode != "uncached" and kind == "rows" else function,
                    plan=preparation.plan, options=preparation.options, timeout=timeout, models=models,
                    session_setup=setup,
                )
            capture = outcome.capture
            return RunStats(
                mode=mode, round=round_, wall_ms=outcome.wall_s * 1e3, statements=len(capture.statements),
                database_ms=(capture.execute_s + capture.fetch_s) * 1e3, hits=counters.hits,
                misses=counters.misses, stores=counters.stores, objects_merged=counters.objects_merged,
                rows_merged=counters.rows_merged,
                cache_read_ms=counters.read_s * 1e3, merge_ms=counters.merge_s * 1e3,
                store_ms=counters.store_s * 1e3, compiled_cache_hits=compiled.outcomes["CACHE_HIT"],
                compiled_cache_misses=compiled.outcomes["CACHE_MISS"], fingerprint=outcome.fingerprint.unordered,
                cache_strategy="" if mode == "uncached" else kind,
            )

        for round_ in range(1, repeats + 1):
            comparison.runs.append(run("uncached", round_, ""))
            for kind in kept:
                cache.clear()
                comparison.runs.append(run("cold", round_, kind))
                comparison.runs.append(run("warm", round_, kind))
        return comparison
    except WorkloadTimeout:
        raise WorkloadTimeout(f"the workload did not finish within {timeout:g} s; it was cancelled and its "
                              "transaction rolled back") from None
    finally:
        if own_cache:
            cache.close()


def measure_round_trip_ms(engine: Engine, samples: int = ROUND_TRIP_SAMPLES) -> float:
    """How far the database is: the median wall time of ``SELECT 1`` on one connection, in milliseconds (a
    statement's fixed cost, what every statement a cache hit saves is worth at least)."""
    with engine.connect() as connection:
        statement = text("SELECT 1")
        connection.execute(statement).scalar()  # the connection is made and the statement compiled
        times = []
        for _ in range(samples):
            started = perf_counter()
            connection.execute(statement).scalar()
            times.append((perf_counter() - started) * 1e3)
        connection.rollback()
    return statistics.median(times)
