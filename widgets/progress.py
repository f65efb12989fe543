"""Progress: an animated bar with a message line; indeterminate while the total is unknown."""

from __future__ import annotations

import math
import pathlib

import anywidget
import traitlets

_UNCHANGED = object()


class Progress(anywidget.AnyWidget):
    """``progress.update(3, total=10, message="3 of 10 tables")``, then ``succeed()`` or ``fail(reason)``."""

    _esm = pathlib.Path(__file__).with_suffix(".js")
    _css = pathlib.Path(__file__).with_suffix(".css")

    label = traitlets.Unicode("").tag(sync=True)
    value = traitlets.Float(0.0).tag(sync=True)
    total = traitlets.Float(None, allow_none=True, help="None while unknown: the bar is indeterminate").tag(sync=True)
    state = traitlets.Enum(("running", "success", "error"), "running").tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)

    @traitlets.validate("value")
    def _validate_value(self, proposal):
        value = proposal["value"]
        if not math.isfinite(value) or value < 0:
            raise traitlets.TraitError(f"progress value must be a finite number >= 0, got {value}")
        return value

    @traitlets.validate("total")
    def _validate_total(self, proposal):
        total = proposal["value"]
        if total is not None and (not math.isfinite(total) or total <= 0):
            raise traitlets.TraitError(f"total must be a finite number > 0, or None while unknown; got {total}")
        return total

    @property
    def fraction(self) -> float | None:
        """Done share in [0, 1] (a value past the total counts as 1), or None while the total is unknown."""
        if self.total is None:
            return None
        return min(1.0, self.value / self.total)

    def update(self, value: float | None = None, *, total=_UNCHANGED, message: str | None = None) -> None:
        """Move the bar (and optionally set the total or the message) in one update; back to running."""
        with self.hold_sync():
            if total is not _UNCHANGED:
                self.total = total
            if value is not None:
                self.value = value
            if message is not None:
                self.message = message
            self.state = "running"

    def succeed(self, message: str = "Done") -> None:
        with self.hold_sync():
            if self.total is not None:
                self.value = max(self.value, self.total)
            self.message = message
            self.state = "success"

    def fail(self, message: str) -> None:
        if not message:
            raise ValueError("say what went wrong: fail() needs a message")
        with self.hold_sync():
            self.message = message
            self.state = "error"
