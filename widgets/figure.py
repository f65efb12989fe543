"""Figure: shows a plotly figure (a ``go.Figure`` or its dict) and replaces it when Python sets a new one.

Unlike plotly's FigureWidget, whose 5 MB ES module travels with every widget, plotly.js is loaded once per page
and shared by all Figures, and only once a figure has data to draw: the dashboards open with empty charts that
fill when a run ends, and running plotly.js took most of the main thread while such a page opened (1.5–3 s of
script on a busy 2-core machine, measured with Chromium's Performance metrics; the page's button appeared but
did not answer until it was done). Bar, pie and scatter figures use plotly's basic bundle, which the user's
server serves as a static file (:data:`BASIC_LIBRARY`, cached by the browser); any other trace type, or a
server without that file, gets the whole library from the kernel over the widget's comm.
A new figure replaces the old one whole (``Plotly.react``), which is what a results view needs.

The figure follows the page's theme: while JupyterLab or Voila mark the page dark, ``dark_template`` (given by
whoever builds the figure, as this package knows no chart theme) replaces the figure's template, and the chart is
redrawn when the theme changes. Its backgrounds are transparent unless the figure sets them, so no light slab
sits on a dark page.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import anywidget
import traitlets

HERE = Path(__file__).parent
# found without importing plotly, which a page of empty charts never needs in its kernel
PLOTLY_JS = Path(importlib.util.find_spec("plotly").origin).parent / "package_data" / "plotly.min.js"
# Below the server's base URL: the Voila template's static folder of users' servers, where `make install` copies
# the npm package plotly.js-basic-dist-min (the same plotly.js version as the plotly package's own bundle).
BASIC_LIBRARY = "voila/templates/workbench/static/plotly/plotly-basic.min.js"


class Figure(anywidget.AnyWidget):
    _esm = HERE / "figure.js"

    spec = traitlets.Dict(help="The figure as plotly JSON: {'data': [...], 'layout': {...}}.").tag(sync=True)
    height = traitlets.Int(380, help="Height in pixels.").tag(sync=True)
    basic_library = traitlets.Unicode(
        BASIC_LIBRARY,
        help="Where the page fetches plotly's basic bundle, relative to the server's base URL; when it cannot, "
             "the kernel sends the whole library.").tag(sync=True)
    dark_template = traitlets.Dict(
        help="A plotly template (JSON) drawn instead of the figure's own while the page is in a dark theme; "
             "empty keeps the figure's template in both.").tag(sync=True)

    def __init__(self, figure: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.on_msg(self._handle_view_message)
        if figure is not None:
            self.show(figure)

    def show(self, figure: Any) -> None:
        """Show ``figure``: a plotly ``go.Figure`` or a dict with ``data`` and ``layout``."""
        if hasattr(figure, "to_plotly_json"):
            import plotly.io

            # plotly's own encoder turns numpy arrays, dates and the like into JSON
            self.spec = json.loads(plotly.io.to_json(figure, validate=False))
        elif isinstance(figure, dict) and "data" in figure:
            self.spec = {"data": list(figure["data"]), "layout": dict(figure.get("layout", {}))}
        else:
            raise TypeError(f"a Figure shows a plotly figure or a dict with 'data', not {type(figure).__name__}")

    def _handle_view_message(self, _widget, content, _buffers) -> None:
        if isinstance(content, dict) and content.get("type") == "library?":
            self.send({"type": "library", "request": content.get("request")}, [PLOTLY_JS.read_bytes()])
