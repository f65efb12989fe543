"""Plotly comparison figures built from results (plain ``go.Figure``: light to send to a browser)."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from profiler.chart_theme import STATEMENTS, TEMPLATE, WALL, color_of, log_axis

_PARTS = (("db_ms", "database"), ("fetch_ms", "fetch"), ("python_ms", "Python / ORM"))


def comparison_figure(comparison) -> go.Figure:
    """Left: median wall time per strategy split into database / fetch / Python-ORM (spread as error bar).
    Right: statements per strategy. Strategies that failed or returned different data are marked."""
    rows = [result.summary() for result in comparison.results if result.ok and result.warm]
    labels = [_label(row) for row in rows]
    figure = make_subplots(rows=1, cols=2, subplot_titles=("time per run (median)", "statements per run"))
    for key, name in _PARTS:
        figure.add_trace(go.Bar(name=name, x=labels, y=[row[key] for row in rows], marker_color=color_of(name)),
                         row=1, col=1)
    figure.add_trace(
        go.Scatter(
            name="wall (spread)", x=labels, y=[row["wall_ms"] for row in rows], mode="markers",
            marker={"color": WALL, "symbol": "line-ew-open", "size": 18, "line": {"width": 2}},
            error_y={"type": "data", "array": [(row["wall_spread_ms"] or 0) / 2 for row in rows]},
        ),
        row=1, col=1,
    )
    statements = [row["statements"] for row in rows]
    figure.add_trace(
        go.Bar(name="statements", x=labels, y=statements, marker_color=STATEMENTS,
               text=statements, textposition="outside", showlegend=False),
        row=1, col=2,
    )
    failed = [f"{result.label}: {result.status}" for result in comparison.results if not result.ok]
    title = f"{comparison.workload} on {comparison.dialect}"
    if failed:
        title += " — not shown: " + ", ".join(failed)
    # the legend goes below the axis title "strategy", not over it
    figure.update_layout(template=TEMPLATE, barmode="stack", title=title, margin={"b": 110},
                         legend={"orientation": "h", "yanchor": "top", "y": -0.3})
    figure.update_xaxes(title_text="strategy")
    figure.update_yaxes(title_text="median time (ms)", row=1, col=1)
    # statement counts span decades (1 for joined, hundreds for lazy): a log axis keeps both readable
    figure.update_yaxes(title_text="statements (log scale)", **log_axis(statements), row=1, col=2)
    return figure


def _label(row: dict) -> str:
    return row["strategy"] + (" ⚠ different data" if row["data_matches"] is False else "")
