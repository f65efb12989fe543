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



def test_the_served_basic_bundle_is_the_plotly_js_of_the_plotly_package():
    """The page draws bar, pie and scatter figures with the basic bundle the user's server serves, and every
    other figure with the plotly package's own bundle: the same plotly.js version, so a figure looks the same
    whichever bundle draws it (package.json pins the one to match the other)."""
    import re

    from testing.support import REPO_ROOT
    from widgets.figure import BASIC_LIBRARY, PLOTLY_JS

    served = REPO_ROOT / "user_server" / "jupyter_data" / BASIC_LIBRARY  # the URL path mirrors the folder
    version = re.compile(rb"plotly\.js(?: \(basic - minified\))? v(\d+\.\d+\.\d+)")
    assert version.search(served.read_bytes()[:300])[1] == version.search(PLOTLY_JS.read_bytes()[:300])[1]
