"""RequestTiming: what the server spent on this page, read in the browser from the Performance API.

Every response of the user's server carries a ``Server-Timing`` header (``user_server/server_timing.py``). The
browser exposes it as ``PerformanceResourceTiming.serverTiming``; this widget shows the page's own request
(for a Voila dashboard: the render of the notebook) and the other requests that carried server timings, phase
by phase, and reports what it read back to Python in :attr:`measured`.
"""

from __future__ import annotations

from pathlib import Path

import anywidget
import traitlets

HERE = Path(__file__).parent


class RequestTiming(anywidget.AnyWidget):
    _esm = HERE / "request_timing.js"

    label = traitlets.Unicode("Server time for this page").tag(sync=True)
    measured = traitlets.List(
        help="Set by the browser: [{'name', 'duration_ms', 'server': {phase: ms}}], the page's request first."
    ).tag(sync=True)
