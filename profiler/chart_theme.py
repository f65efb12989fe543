"""The charts' one look: the ``workbench`` Plotly template (and its dark twin) and one colour per measured thing.

It lives in ``profiler`` because the engines' own figure builders (``profiler.queries.figures``,
``profiler.cache.compare``) use it, and they may not import ``dashboards`` (which compose the engines) nor
``widgets`` (UI components that pull in anywidget). The dashboards import it from here.

The templates are plain plotly JSON, so a dashboard opens without importing plotly (which, with the numpy and
narwhals its figure classes load, cost a new kernel about 0.1 CPU-s more, measured with `/usr/bin/time` on the
import). Asking for a template's *name* (``TEMPLATE``, ``DARK_TEMPLATE``), which only a ``go.Figure`` needs,
registers both with plotly first.

A figure names its template as ``template=TEMPLATE`` (a ``go.Figure``) or through :func:`themed` (the plotly JSON
dicts some dashboards build), so its colours follow a trace's *meaning*, never its position: the same phase has
the same colour on every page.
"""

from __future__ import annotations

import copy
import math
from typing import Any

_NAMES = {"TEMPLATE": "workbench", "DARK_TEMPLATE": "workbench_dark"}

# The phases of a measured run, shared by the query-strategy and caching pages.
DATABASE = "#4C78A8"
FETCH = "#F58518"
PYTHON = "#54A24B"
OVERHEAD = "#B279A2"
STATEMENTS = "#9D9D9D"
# a mid grey: the whole run's time reads on a light and a dark background alike
WALL = "#6B7280"
CACHE_READ = "#EECA3B"
MERGE = "#FF9DA6"
STORE = "#9D755D"
# cache hits and misses read as good and bad at a glance
CACHE_HIT = "#1B9E77"
CACHE_MISS = "#D95F02"

PHASE_COLORS = {
    "database": DATABASE,
    "database (execute + fetch)": DATABASE,
    "fetch": FETCH,
    "Python / ORM": PYTHON,
    "Python / ORM (the rest)": PYTHON,
    "profiler overhead": OVERHEAD,
    "statements": STATEMENTS,
    "wall (spread)": WALL,
    "cache read": CACHE_READ,
    "merge into session": MERGE,
    "store": STORE,
    "cache hit": CACHE_HIT,
    "cache miss": CACHE_MISS,
}

# Caching modes, from no cache to a warm one: a ramp from grey to the hit colour.
MODE_COLORS = {"uncached": "#8C8C8C", "cold": "#7FC9B4", "warm": CACHE_HIT}

# Load-test series: throughput and failures on the left axis, latency percentiles on the right, each a mid tone
# that reads on a light and a dark page alike (a p99 of #3F007D all but vanished on the dark one).
SERIES_COLORS = {
    "throughput": DATABASE,
    "errors": "#D62728",
    "throttles": FETCH,
    "p50": "#6BAED6",
    "p95": "#9E7BC4",
    "p99": "#E377C2",
}

# Runs compared side by side have no meaning of their own: a colourway none of whose first entries is a phase's
# exact colour, so a run is never mistaken for a phase.
COLORWAY = ["#3366CC", "#DC3912", "#109618", "#990099", "#0099C6", "#DD4477", "#66AA00", "#B82E2E", "#316395"]

_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"


def _template(text: str, grid: str, line: str, hover: str) -> dict[str, Any]:
    axis = {"gridcolor": grid, "linecolor": line, "zerolinecolor": line, "automargin": True,
            "title": {"standoff": 8}, "ticks": "outside", "tickcolor": line}
    return {"layout": {
        "colorway": COLORWAY,
        "font": {"family": _FONT, "size": 13, "color": text},
        "title": {"x": 0.02, "xanchor": "left", "font": {"size": 15}},
        # transparent, so a chart sits on the page's own background in either theme
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "xaxis": axis,
        "yaxis": axis,
        "legend": {"orientation": "h", "bgcolor": "rgba(0,0,0,0)"},
        "hoverlabel": {"bgcolor": hover, "font": {"family": _FONT}},
        "bargap": 0.25,
    }}


_TEMPLATES = {
    "workbench": _template(text="#1f2933", grid="#E5E7EB", line="#9CA3AF", hover="#FFFFFF"),
    "workbench_dark": _template(text="#E5E7EB", grid="#374151", line="#6B7280", hover="#1F2933"),
}


def template_json(dark: bool = False) -> dict[str, Any]:
    """The template as plotly JSON, for figures built as dicts (plotly.js knows no Python-registered names)."""
    return copy.deepcopy(_TEMPLATES[_NAMES["DARK_TEMPLATE" if dark else "TEMPLATE"]])


def __getattr__(name: str) -> str:
    if name not in _NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import plotly.graph_objects as go
    import plotly.io as pio

    for registered, template in _TEMPLATES.items():
        if registered not in pio.templates:
            pio.templates[registered] = go.layout.Template(template)
    return _NAMES[name]


def themed(figure: dict[str, Any]) -> dict[str, Any]:
    """``figure`` (plotly JSON) with the workbench template, and each trace named after a phase, mode or series
    in that one's colour (a trace that sets its own colour keeps it)."""
    for trace in figure.get("data", []):
        color = color_of(trace.get("name"))
        if color and "color" not in trace.get("marker", {}):
            trace.setdefault("marker", {})["color"] = color
    figure.setdefault("layout", {})["template"] = template_json()
    return figure


def color_of(name: str | None) -> str | None:
    """The colour of a phase, caching mode or load-test series, by its trace name; ``None`` for anything else."""
    if name is None:
        return None
    return PHASE_COLORS.get(name) or MODE_COLORS.get(name) or SERIES_COLORS.get(name)


def log_axis(values, unit: str = "") -> dict[str, Any]:
    """A log axis whose ticks sit at 1, 2 and 5 of each decade the values span, each labelled in full ("10 ms",
    "200 ms", "1 s"), instead of plotly's bare mantissas ("5 2 100 5 2")."""
    positive = [value for value in values if value is not None and value > 0] or [1, 10]
    low, high = min(positive), max(positive)
    ticks = [step * 10 ** decade for decade in range(math.floor(math.log10(low)), math.floor(math.log10(high)) + 1)
             for step in (1, 2, 5)]
    ticks.append(ticks[-3] * 10)  # the next decade, when the highest value lies above its 5
    # from the last tick at or below the lowest value to the first at or above the highest
    first = max(index for index, tick in enumerate(ticks) if tick <= low)
    last = min(index for index, tick in enumerate(ticks) if tick >= high)
    tickvals = ticks[first:last + 1]
    return {"type": "log", "tickmode": "array", "tickvals": tickvals,
            "ticktext": [_tick_label(value, unit) for value in tickvals]}


def _tick_label(value: float, unit: str) -> str:
    if unit == "ms" and value >= 1000:
        return f"{value / 1000:g} s"
    if unit == "ms" and value < 1:
        return f"{value * 1000:g} µs"
    text = f"{value:,.0f}" if value >= 1 else f"{value:g}"
    return f"{text} {unit}" if unit else text

