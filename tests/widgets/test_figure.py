"""The Figure widget's kernel side: what it sends to the page for either theme."""

from __future__ import annotations

import plotly.graph_objects as go
from profiler import chart_theme
from widgets import Figure


def test_a_figure_carries_its_dark_template_to_the_page():
    dark = chart_theme.template_json(dark=True)
    figure = Figure(go.Figure(go.Bar(x=["a"], y=[1]), layout={"template": chart_theme.TEMPLATE}), dark_template=dark)
    state = figure.get_state()
    assert state["dark_template"] == dark
    # the figure keeps its own (light) template: the page swaps in the dark one only while it is dark
    assert state["spec"]["layout"]["template"] == chart_theme.template_json()


def test_without_a_dark_template_the_figure_keeps_its_own_in_both_themes():
    assert Figure().dark_template == {}


def test_the_templates_leave_the_background_to_the_page():
    for dark in (False, True):
        layout = chart_theme.template_json(dark=dark)["layout"]
        assert layout["paper_bgcolor"] == layout["plot_bgcolor"] == "rgba(0,0,0,0)"

