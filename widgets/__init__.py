"""UI components: one anywidget per file, with its ES module (and stylesheet) beside it.

May import anywidget, ipywidgets and traitlets; never the engines (``profiler``), which dashboards compose with
these widgets, nor the hub side.
"""

from widgets.live_graph import LiveGraph
from widgets.progress import Progress
from widgets.run_timer import RunTimer
from widgets.json_viewer import JsonViewer
from widgets.learn_more import LearnMore
from widgets.scroll_to import ScrollTo, section_anchor
from widgets.figure import Figure
from widgets.request_timing import RequestTiming

__all__ = [
    "Figure", "JsonViewer", "LearnMore", "LiveGraph", "Progress", "RequestTiming", "RunTimer", "ScrollTo",
    "section_anchor",
]
