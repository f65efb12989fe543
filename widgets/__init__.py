"""UI components: one anywidget per file, with its ES module (and stylesheet) beside it.

May import anywidget, ipywidgets and traitlets; never the engines (``profiler``), which dashboards compose with
these widgets, nor the hub side.

``from widgets import LiveGraph`` imports only that component's module: a dashboard opens in a new kernel, so it
pays for what it shows and no more (the live graph's numpy alone cost the four dashboards without one about
0.1 CPU-s each, measured with cProfile over their import and build).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_MODULES = {
    "Figure": "widgets.figure",
    "JsonViewer": "widgets.json_viewer",
    "LearnMore": "widgets.learn_more",
    "LiveGraph": "widgets.live_graph",
    "Progress": "widgets.progress",
    "RequestTiming": "widgets.request_timing",
    "RunTimer": "widgets.run_timer",
    "ScrollTo": "widgets.scroll_to",
    "section_anchor": "widgets.scroll_to",
}
__all__ = [
    "Figure", "JsonViewer", "LearnMore", "LiveGraph", "Progress", "RequestTiming", "RunTimer", "ScrollTo",
    "section_anchor",
]

if TYPE_CHECKING:
    from widgets.figure import Figure
    from widgets.json_viewer import JsonViewer
    from widgets.learn_more import LearnMore
    from widgets.live_graph import LiveGraph
    from widgets.progress import Progress
    from widgets.request_timing import RequestTiming
    from widgets.run_timer import RunTimer
    from widgets.scroll_to import ScrollTo, section_anchor


def __getattr__(name: str):
    if name not in _MODULES:
        raise AttributeError(f"module 'widgets' has no attribute {name!r}")
    value = getattr(importlib.import_module(_MODULES[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_MODULES))
