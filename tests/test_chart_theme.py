"""Every chart the workbench draws uses the one template, one colour per phase, and titled, readable axes."""

from __future__ import annotations

from types import SimpleNamespace

import plotly.graph_objects as go
import plotly.io as pio
import pytest

from dashboards.caching import rounds_figure
from dashboards.run_history import SERIES, comparison_series, percentile_figure
from profiler import chart_theme
from profiler.cache import MODES
from profiler.cache.compare import CacheComparison, RunStats
from profiler.queries.figures import comparison_figure


def _strategy(label: str, statements: int, ok: bool = True) -> SimpleNamespace:
    row = {"strategy": label, "statements": statements, "wall_ms": 12.0, "wall_spread_ms": 2.0, "db_ms": 5.0,
           "fetch_ms": 3.0, "python_ms": 4.0, "data_matches": True}
    return SimpleNamespace(ok=ok, warm=[object()], label=label, status="ok" if ok else "failed",
                           summary=lambda: row)


def query_comparison() -> go.Figure:
    results = [_strategy("lazy", 401), _strategy("joined", 1), _strategy("selectin", 2)]
    return comparison_figure(SimpleNamespace(results=results, workload="authors_books", dialect="sqlite"))


def cache_comparison() -> CacheComparison:
    runs = [RunStats(mode=mode, round=r, wall_ms=10.0 + r, statements=3, database_ms=4.0, hits=1, misses=1,
                     cache_read_ms=1.0, merge_ms=2.0, store_ms=0.5)
            for r in (1, 2) for mode in MODES]
    return CacheComparison(workload="authors_books", strategy="selectin", backend="in-process memory",
                           dialect="sqlite", runs=runs)


def run_rows() -> list[dict]:
    return [{"label": label, "status": "finished", "p50_us": 1200, "p90_us": 3000, "p95_us": 4000, "p99_us": 9000,
             "p99.9_us": 20000} for label in ("a", "b")]


FIGURES = {
    "query comparison": query_comparison,
    "cache breakdown": lambda: cache_comparison().figure(),
    "cache rounds": lambda: rounds_figure(cache_comparison()),
    "load-test percentiles": lambda: percentile_figure(run_rows()),
}


@pytest.mark.parametrize("name", FIGURES)
def test_every_figure_uses_the_workbench_template(name):
    figure = go.Figure(FIGURES[name]())
    assert figure.layout.template == pio.templates[chart_theme.TEMPLATE]


@pytest.mark.parametrize("name", FIGURES)
def test_a_trace_named_after_a_phase_or_mode_has_its_colour(name):
    figure = go.Figure(FIGURES[name]())
    named = [trace for trace in figure.data if chart_theme.color_of(trace.name)]
    assert named or name == "load-test percentiles"
    for trace in named:
        assert trace.marker.color == chart_theme.color_of(trace.name), trace.name


@pytest.mark.parametrize("name", FIGURES)
def test_every_axis_has_a_title(name):
    layout = go.Figure(FIGURES[name]()).layout
    axes = [key for key in layout.to_plotly_json() if key.startswith(("xaxis", "yaxis"))]
    assert {"xaxis", "yaxis"} <= set(axes)
    for key in axes:
        assert layout[key].title.text, key
    # the time axes say their unit
    assert any("ms" in layout[key].title.text for key in axes if key.startswith("yaxis"))


def test_the_same_phase_has_the_same_colour_on_the_query_and_caching_pages():
    query = {trace.name: trace.marker.color for trace in query_comparison().data}
    cache = {trace.name: trace.marker.color for trace in cache_comparison().figure().data}
    assert query["database"] == cache["database (execute + fetch)"] == chart_theme.DATABASE
    assert query["Python / ORM"] == cache["Python / ORM (the rest)"] == chart_theme.PYTHON
    assert query["fetch"] == chart_theme.FETCH
    phases = [chart_theme.DATABASE, chart_theme.FETCH, chart_theme.PYTHON, chart_theme.OVERHEAD,
              chart_theme.CACHE_READ, chart_theme.MERGE, chart_theme.STORE]
    assert len(set(phases)) == len(phases)


def test_the_statements_log_axis_has_labelled_ticks_at_one_two_five():
    axis = query_comparison().layout.yaxis2
    assert axis.type == "log" and axis.title.text == "statements (log scale)"
    assert list(axis.tickvals) == [1, 2, 5, 10, 20, 50, 100, 200, 500]
    assert list(axis.ticktext) == ["1", "2", "5", "10", "20", "50", "100", "200", "500"]
    assert chart_theme.log_axis([3, 1500])["ticktext"][-2:] == ["1,000", "2,000"]


def test_log_axis_labels_times_with_their_unit():
    axis = chart_theme.log_axis([0.5, 12.0, 2500.0, None, 0], "ms")
    labels = dict(zip(axis["tickvals"], axis["ticktext"], strict=True))
    assert labels[0.5] == "500 µs" and labels[10] == "10 ms" and labels[100] == "100 ms" and labels[1000] == "1 s"
    assert min(axis["tickvals"]) == 0.5 and max(axis["tickvals"]) == 5000
    assert chart_theme.log_axis([10], "ms")["tickvals"] == [10]
    assert chart_theme.log_axis([], "ms")["ticktext"] == ["1 ms", "2 ms", "5 ms", "10 ms"]


def test_load_test_series_have_fixed_colours_and_a_run_keeps_its_colour():
    assert {spec["name"]: spec["color"] for spec in SERIES} == chart_theme.SERIES_COLORS
    series = comparison_series(["a", "b"])
    assert series[0]["color"] == series[1]["color"] != series[2]["color"] == series[3]["color"]
    bars = percentile_figure(run_rows())["data"]
    assert [bar["marker"]["color"] for bar in bars] == [series[0]["color"], series[2]["color"]]


def test_the_dark_template_differs_only_in_its_colours():
    light, dark = (pio.templates[name].layout for name in (chart_theme.TEMPLATE, chart_theme.DARK_TEMPLATE))
    assert light.font.color != dark.font.color and light.xaxis.gridcolor != dark.xaxis.gridcolor
    assert list(light.colorway) == list(dark.colorway) and light.paper_bgcolor == dark.paper_bgcolor
