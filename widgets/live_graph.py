"""LiveGraph: a time-series chart that follows live data and sends only new points to the browser.

Points are batched in the kernel and travel as one custom comm message per batch whose buffers are the
float64 bytes of the new x values and of each series, so the bytes per update depend on the batch, never on
the length of the run. Kernel and browser each keep at most ``max_points`` rows: when a side goes over, its
oldest rows are folded into min/max buckets (peaks survive, detail fades with age).

The charting library (uPlot, vendored beside this file) is sent to the browser once per page: the first
view that needs it asks its kernel for it, every later view on the page reuses the loaded copy.

What the graph is showing is the caller's to say: ``live`` while data streams in (the view then reads
"● Live" and follows), else a ``caption`` naming what is on screen (a finished or recorded run); before the first
point the view shows ``empty_text`` instead of blank axes.
"""

from __future__ import annotations

import datetime as dt
import pathlib
import threading
import time
from typing import Iterable, Mapping, Sequence

import anywidget
import numpy as np
import traitlets

HERE = pathlib.Path(__file__).parent
UPLOT_JS = HERE / "live_graph_uplot.min.js"
UPLOT_CSS = HERE / "live_graph_uplot.min.css"

WINDOW_PRESETS = {"1 min": 60.0, "5 min": 300.0, "15 min": 900.0, "all": 0.0}
AXES = ("y", "y2")
X_AXES = ("clock", "elapsed")


def to_epoch_seconds(times) -> np.ndarray:
    """Seconds since the Unix epoch as float64 from numbers, aware datetimes or datetime64 (taken as UTC)."""
    array = np.asarray([times] if np.ndim(times) == 0 else times)
    if array.dtype == object:
        moments = list(array.ravel())
        if not all(isinstance(moment, dt.datetime) for moment in moments):
            raise TypeError("times must be epoch seconds or datetimes, got a mix of other objects")
        if any(moment.tzinfo is None for moment in moments):
            raise ValueError("give aware datetimes (with tzinfo) or epoch seconds, so the times are unambiguous")
        return np.array([moment.timestamp() for moment in moments], dtype=np.float64)
    if np.issubdtype(array.dtype, np.datetime64):
        return array.ravel().astype("datetime64[ns]").astype(np.int64) / 1e9
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise TypeError(f"times must be epoch seconds or datetimes, got values of type {array.dtype}")
    seconds = array.ravel().astype(np.float64)
    if not np.all(np.isfinite(seconds)):
        raise ValueError("times must be finite numbers")
    return seconds


def downsample_min_max(x: np.ndarray, values: np.ndarray, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Fold ``len(x)`` rows into ``buckets`` pairs of rows that keep each series' minimum and maximum.

    Each bucket becomes two rows at its first and last x; per series the extreme that came first in time goes
    in the first row, so a spike still rises and falls in the right order. Rows that are all NaN stay NaN.
    """
    rows = len(x)
    if buckets <= 0:
        raise ValueError("buckets must be positive")
    if rows <= 2 * buckets:
        return x.copy(), values.copy()
    edges = np.linspace(0, rows, buckets + 1).astype(np.int64)
    starts, ends = edges[:-1], edges[1:]
    out_x = np.empty(2 * buckets)
    out_x[0::2] = x[starts]
    out_x[1::2] = x[ends - 1]
    out_values = np.empty((2 * buckets, values.shape[1]))
    # NaN gaps must not win min or max, and an all-NaN bucket must stay NaN
    low_filled = np.where(np.isnan(values), np.inf, values)
    high_filled = np.where(np.isnan(values), -np.inf, values)
    for bucket, (start, end) in enumerate(zip(starts, ends, strict=True)):
        index_low = start + np.argmin(low_filled[start:end], axis=0)
        index_high = start + np.argmax(high_filled[start:end], axis=0)
        columns = np.arange(values.shape[1])
        first = np.minimum(index_low, index_high)
        second = np.maximum(index_low, index_high)
        out_values[2 * bucket] = values[first, columns]
        out_values[2 * bucket + 1] = values[second, columns]
    return out_x, out_values


class BoundedHistory:
    """The rows a new view needs to draw the run so far: recent rows exact, older rows min/max-bucketed."""

    def __init__(self, columns: int, max_points: int):
        if max_points < 16:
            raise ValueError(f"max_points must be at least 16, got {max_points}")
        self.max_points = max_points
        self.x = np.empty(0)
        self.values = np.empty((0, columns))

    def __len__(self) -> int:
        return len(self.x)

    def add(self, x: np.ndarray, values: np.ndarray) -> None:
        self.x = np.concatenate([self.x, x])
        self.values = np.concatenate([self.values, values])
        if len(self.x) > self.max_points:
            self._compact()

    def _compact(self) -> None:
        # Keep the newest half exact and fold the rest into a quarter of the budget, so a compaction
        # happens only every max_points/4 new rows (amortised constant cost per row).
        keep_exact = self.max_points // 2
        old = len(self.x) - keep_exact
        old_x, old_values = downsample_min_max(self.x[:old], self.values[:old], max(1, self.max_points // 8))
        self.x = np.concatenate([old_x, self.x[old:]])
        self.values = np.concatenate([old_values, self.values[old:]])


def _normalise_series(entry, index: int) -> dict:
    spec = {"name": entry} if isinstance(entry, str) else dict(entry)
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise traitlets.TraitError(f"series #{index} needs a non-empty string 'name', got {entry!r}")
    axis = spec.setdefault("axis", "y")
    if axis not in AXES:
        raise traitlets.TraitError(f"series {name!r}: axis must be one of {AXES}, got {axis!r}")
    spec.setdefault("label", name)
    if not isinstance(spec.get("connect", False), bool):
        raise traitlets.TraitError(f"series {name!r}: connect must be True or False, got {spec['connect']!r}")
    unknown = set(spec) - {"name", "label", "axis", "color", "unit", "connect"}
    if unknown:
        raise traitlets.TraitError(f"series {name!r}: unknown keys {sorted(unknown)}")
    return spec


class LiveGraph(anywidget.AnyWidget):
    """Several named time series, optionally on two y-axes, following the newest data.

    ``graph.append(t, {"p50": 3.1, "p95": 7.9})`` and ``graph.extend(times, {"p50": [...]})`` queue points;
    queued points go out together at most every ``flush_interval`` seconds (a timer sends the last ones).
    """

    _esm = pathlib.Path(__file__).with_suffix(".js")
    _css = pathlib.Path(__file__).with_suffix(".css")

    # names, or dicts {'name', 'label', 'axis': 'y'|'y2', 'color', 'unit', 'connect'}; stored normalised to dicts.
    # connect=True draws a line across gaps: for series sampled at other times than their neighbours (several
    # runs on one elapsed-time axis), where a gap means "no sample here", not "no data".
    series = traitlets.List().tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    y_label = traitlets.Unicode("").tag(sync=True)
    y2_label = traitlets.Unicode("").tag(sync=True)
    window = traitlets.Float(300.0, help="seconds of data shown while following; 0 shows everything").tag(sync=True)
    height = traitlets.Int(320).tag(sync=True)
    max_points = traitlets.Int(20_000, help="rows kept per side; older rows are downsampled").tag(sync=True)
    flush_interval = traitlets.Float(0.25, help="seconds between batches; 0 sends every call at once")
    live = traitlets.Bool(True, help="data is streaming in: the view says Live and follows the newest").tag(sync=True)
    caption = traitlets.Unicode("", help="what is on screen, e.g. which run; '{t:<epoch seconds>}' in it is shown "
                                "as a clock time in the viewer's time zone, like the axis").tag(sync=True)
    empty_text = traitlets.Unicode("No data yet.", help="shown in place of the chart before the first point").tag(
        sync=True)
    x_axis = traitlets.Enum(X_AXES, "clock", help="x as epoch seconds shown as clock time, or seconds from a "
                            "start shown as m:ss").tag(sync=True)

    def __init__(self, series: Sequence[str | Mapping] = (), **kwargs):
        super().__init__(series=list(series), **kwargs)
        self._lock = threading.RLock()
        self._history = BoundedHistory(len(self.series), self.max_points)
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        self._sequence = 0
        self._last_flush = 0.0
        self._timer: threading.Timer | None = None
        self.on_msg(self._handle_view_message)

    @traitlets.validate("series")
    def _validate_series(self, proposal):
        specs = [_normalise_series(entry, index) for index, entry in enumerate(proposal["value"])]
        names = [spec["name"] for spec in specs]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise traitlets.TraitError(f"series names must be unique, repeated: {duplicates}")
        return specs

    @traitlets.validate("window")
    def _validate_window(self, proposal):
        if proposal["value"] < 0:
            raise traitlets.TraitError(f"window must be >= 0 seconds (0 = all), got {proposal['value']}")
        return proposal["value"]

    @traitlets.observe("series", "max_points")
    def _reset_on_shape_change(self, change):
        if hasattr(self, "_history"):
            self.clear()

    @property
    def names(self) -> list[str]:
        return [spec["name"] for spec in self.series]

    def append(self, t, values: Mapping[str, float]) -> None:
        """Queue one point in time; series missing from ``values`` get a gap there."""
        self.extend([t], {name: [value] for name, value in values.items()})

    def extend(self, times: Iterable, values: Mapping[str, Iterable[float]]) -> None:
        """Queue many points: ``times`` (epoch seconds or datetimes) and an equally long column per series."""
        x = to_epoch_seconds(times)
        if not len(x):
            return
        block = np.full((len(x), len(self.series)), np.nan)
        names = self.names
        for name, column in values.items():
            if name not in names:
                raise KeyError(f"unknown series {name!r}; this graph has {names}")
            column = np.asarray(column, dtype=np.float64)
            if column.shape != x.shape:
                raise ValueError(f"series {name!r} has {column.size} values for {x.size} times")
            block[:, names.index(name)] = column
        if len(x) > 1 and np.any(np.diff(x) < 0):
            order = np.argsort(x, kind="stable")
            x, block = x[order], block[order]
        with self._lock:
            if self._pending:
                newest = self._pending[-1][0][-1]
            else:
                newest = self._history.x[-1] if len(self._history) else None
            if newest is not None and len(x) and x[0] < newest:
                raise ValueError(f"times must not go back: {x[0]} comes after {newest}")
            self._pending.append((x, block))
            wait = self.flush_interval - (time.monotonic() - self._last_flush)
            if wait <= 0:
                self._flush_locked()
            elif self._timer is None:
                self._timer = threading.Timer(wait, self.flush)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        """Send the queued points now."""
        with self._lock:
            self._flush_locked()

    def clear(self) -> None:
        """Forget every point, here and in the browser."""
        with self._lock:
            self._cancel_timer()
            self._pending.clear()
            self._history = BoundedHistory(len(self.series), self.max_points)
            self._sequence += 1
            self.send({"type": "clear", "seq": self._sequence})

    def close(self) -> None:
        with self._lock:
            self._cancel_timer()
        super().close()

    def _flush_locked(self) -> None:
        self._cancel_timer()
        self._last_flush = time.monotonic()
        if not self._pending:
            return
        x = np.concatenate([batch[0] for batch in self._pending])
        values = np.concatenate([batch[1] for batch in self._pending])
        self._pending.clear()
        self._history.add(x, values)
        self._sequence += 1
        self._send_rows("points", x, values)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _send_rows(self, kind: str, x: np.ndarray, values: np.ndarray, **extra) -> None:
        buffers = [np.ascontiguousarray(x, dtype=np.float64).tobytes()]
        buffers += [np.ascontiguousarray(values[:, column]).tobytes() for column in range(values.shape[1])]
        self.send({"type": kind, "seq": self._sequence, "series": self.names, "count": len(x), **extra}, buffers)

    def _handle_view_message(self, _widget, content, _buffers) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "history?":
            with self._lock:
                self._send_rows("history", self._history.x, self._history.values, request=content.get("request"))
        elif kind == "library?":
            self.send(
                {"type": "library", "request": content.get("request")},
                [UPLOT_JS.read_bytes(), UPLOT_CSS.read_bytes()],
            )
