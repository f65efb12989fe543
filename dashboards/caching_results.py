"""The caching dashboard's results as its tables and chart show them: the columns of each table, the rows made
from the cache engine's comparison and invalidation demonstration, the verdict and the chart of every round.

Pure functions of what :mod:`profiler.cache` returns, so they are tested without widgets; used by
:mod:`dashboards.caching`. May import the cache engine, the chart theme and :mod:`dashboards.common`.
"""

from __future__ import annotations

import html

from dashboards.common import frame_rows
from profiler.cache import CacheComparison, InvalidationDemo
from profiler.cache.invalidation import RUNS
from profiler.chart_theme import themed


def _ms(key: str, label: str) -> dict:
    return {"key": key, "label": label, "kind": "number", "unit": "ms", "digits": 2}


def _count(key: str, label: str) -> dict:
    return {"key": key, "label": label, "kind": "number", "digits": 0}


COLUMNS = [
    {"key": "mode", "label": "Mode"}, _ms("wall_ms", "Wall"), _ms("database_ms", "Database"),
    _ms("cache_read_ms", "Cache read"), _ms("merge_ms", "Merge"), _ms("store_ms", "Store"),
    _count("statements", "Statements"), _count("hits", "Hits"), _count("misses", "Misses"),
    _count("objects_merged", "Objects merged"), _count("runs", "Runs"),
    {"key": "same data", "label": "Same data", "kind": "bool"},
]
INVALIDATION_COLUMNS = [{"key": "query", "label": "Cached query"},
                        *({"key": run, "label": run.capitalize()} for run in RUNS)]
STRATEGY_COLUMNS = [
    {"key": "title", "label": "Cache keeps"}, _ms("uncached_ms", "Uncached"), _ms("cold_ms", "Cold"),
    _ms("warm_ms", "Warm"), {"key": "speedup", "label": "Warm speed-up", "kind": "number", "unit": "×", "digits": 2},
    _ms("merge_ms", "Merge"), _count("objects_merged", "Objects merged"),
    _count("statements_saved", "Statements saved"), {"key": "same_data", "label": "Same data", "kind": "bool"},
    {"key": "stale_after", "label": "A write makes stale"},
]
WRITE_COLUMNS = [{"key": "title", "label": "Cache keeps"}, {"key": "stale", "label": "Stale queries"},
                 {"key": "walk", "label": "The cached bookstore walk after the write"}]


def strategy_rows(comparison: CacheComparison) -> list[dict]:
    return [{column["key"]: row.get(column["key"]) for column in STRATEGY_COLUMNS}
            for row in comparison.strategy_rows()]


def summary_rows(comparison: CacheComparison) -> list[dict]:
    rows = frame_rows(comparison.summary_frame(), "mode")
    return [{column["key"]: row.get(column["key"]) for column in COLUMNS} for row in rows]


def verdict_html(comparison: CacheComparison) -> str:
    """The engine's verdict, headed by what it means; a slower warm run is said as plainly as a faster one."""
    verdict = html.escape(comparison.verdict)
    if not comparison.data_matches:
        return f"<p class='workbench-error' role='alert'><b>Different data.</b> {verdict}</p>"
    judged = comparison.only(comparison.best_cache_strategy) if len(comparison.cache_strategies) > 1 else comparison
    if abs(judged.saved_ms) <= judged.noise_ms:
        head, classes = "No measurable difference.", "workbench-verdict"
    elif judged.saved_ms > 0:
        head, classes = "Caching saved time.", "workbench-verdict workbench-verdict-saved"
    else:
        head = "Caching made this workload slower: merging costs more than the query."
        classes = "workbench-verdict workbench-verdict-slower"
    return f"<p class='{classes}' role='status'><b>{html.escape(head)}</b> {verdict}</p>"


def rounds_figure(comparison: CacheComparison) -> dict:
    """Grouped bars: every round's wall time in each mode (the medians hide nothing this way)."""
    data = []
    for mode, kept in comparison.mode_columns():
        runs = [run for run in comparison.runs if run.mode == mode and (kept is None or run.cache_strategy == kept)]
        data.append({
            "type": "bar", "name": mode if kept is None else f"{mode} · {kept}",
            "x": [f"round {run.round}" for run in runs],
            "y": [run.wall_ms for run in runs],
            "customdata": [[run.statements, run.hits, run.misses, run.merge_ms] for run in runs],
            "hovertemplate": "%{y:.1f} ms · %{customdata[0]} statements · %{customdata[1]} hits, "
                             "%{customdata[2]} misses · merge %{customdata[3]:.1f} ms",
        })
    layout = {"barmode": "group", "title": {"text": "Wall time of every run"},
              "xaxis": {"title": {"text": "round"}}, "yaxis": {"title": {"text": "wall time (ms)"}},
              "margin": {"t": 48, "r": 16}, "legend": {"orientation": "h"}}
    return themed({"data": data, "layout": layout})


def invalidation_html(demo: InvalidationDemo) -> str:
    stale = ", ".join(map(html.escape, demo.stale)) or "none"
    kept = ", ".join(map(html.escape, demo.kept_hitting)) or "none"
    return (f"<p role='status'>After a write to <b>{html.escape(demo.table)}</b> (rolled back: the data did not "
            f"change), <b>stale</b>: {stale}; <b>kept hitting</b>: {kept}.</p>")


def invalidation_rows(demo: InvalidationDemo) -> list[dict]:
    return frame_rows(demo.frame(), "query")


def write_rows(demo: InvalidationDemo) -> list[dict]:
    return [{column["key"]: row[column["key"]] for column in WRITE_COLUMNS} for row in demo.strategy_rows()]
