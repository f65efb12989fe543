"""RunTimer: the elapsed time of a run, computed in the browser from the run's start timestamp.

The browser never counts ticks: every repaint shows (now - started_at), so the figure is right again the
moment a throttled or frozen background tab wakes up. Once ``ended_at`` is set the figure is the final
duration and stops moving. Kernel and browser clocks may differ (a remote hub), so each view asks the
kernel for its time once and corrects by the difference.
"""

from __future__ import annotations

import datetime as dt
import pathlib
import time

import anywidget
import traitlets


def _epoch_seconds(at: float | dt.datetime | None) -> float:
    if at is None:
        return time.time()
    if isinstance(at, dt.datetime):
        if at.tzinfo is None:
            raise ValueError("give an aware datetime (with tzinfo) or epoch seconds, so the time is unambiguous")
        return at.timestamp()
    if isinstance(at, (int, float)) and not isinstance(at, bool):
        return float(at)
    raise TypeError(f"a time must be epoch seconds or an aware datetime, got {type(at).__name__}")


class RunTimer(anywidget.AnyWidget):
    """``timer.start()`` when the run starts, ``timer.stop()`` when it ends; the page shows the elapsed time."""

    _esm = pathlib.Path(__file__).with_suffix(".js")

    label = traitlets.Unicode("Elapsed").tag(sync=True)
    started_at = traitlets.Float(None, allow_none=True, help="epoch seconds").tag(sync=True)
    ended_at = traitlets.Float(None, allow_none=True, help="epoch seconds").tag(sync=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.on_msg(self._handle_view_message)

    @traitlets.validate("ended_at")
    def _validate_end(self, proposal):
        end = proposal["value"]
        if end is not None:
            if self.started_at is None:
                raise traitlets.TraitError("a run that never started cannot end: call start() first")
            if end < self.started_at:
                raise traitlets.TraitError(f"the end ({end}) is before the start ({self.started_at})")
        return end

    def start(self, at: float | dt.datetime | None = None) -> None:
        """Start (or restart) the run at ``at`` (default: now)."""
        with self.hold_sync():
            self.ended_at = None
            self.started_at = _epoch_seconds(at)

    def stop(self, at: float | dt.datetime | None = None) -> None:
        """End the run at ``at`` (default: now); the display then shows the final duration."""
        self.ended_at = _epoch_seconds(at)

    def reset(self) -> None:
        with self.hold_sync():
            self.ended_at = None
            self.started_at = None

    @property
    def elapsed(self) -> float | None:
        """Seconds since the start, or the final duration once stopped; None before the start."""
        if self.started_at is None:
            return None
        return (self.ended_at if self.ended_at is not None else time.time()) - self.started_at

    def _handle_view_message(self, _widget, content, _buffers) -> None:
        if isinstance(content, dict) and content.get("type") == "clock?":
            self.send({"type": "clock", "request": content.get("request"), "now": time.time()})
