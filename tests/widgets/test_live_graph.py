"""LiveGraph on the kernel side: what goes over the comm, batching, bounded history, validation."""

from __future__ import annotations

import datetime as dt
import time

import comm
import numpy as np
import pytest
import traitlets
from hypothesis import given, settings
from hypothesis import strategies as st

from widgets.live_graph import BoundedHistory, LiveGraph, downsample_min_max, to_epoch_seconds


class RecordingComm(comm.DummyComm):
    """A comm that keeps every message the widget publishes, as the kernel would send them."""

    kernel = "recording"

    def __init__(self, *args, **kwargs):
        self.messages = []
        super().__init__(*args, **kwargs)

    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
        self.messages.append((msg_type, data, [bytes(buffer) for buffer in buffers or []]))

    def custom(self, kind=None):
        found = [(data["content"], buffers) for msg_type, data, buffers in self.messages
                 if msg_type == "comm_msg" and data.get("method") == "custom"]
        return [item for item in found if kind is None or item[0]["type"] == kind]


@pytest.fixture(autouse=True)
def recording_comms(monkeypatch):
    monkeypatch.setattr(comm, "create_comm", RecordingComm)


def from_view(widget, content):
    widget._handle_msg({"content": {"data": {"method": "custom", "content": content}}, "buffers": []})


def decode(content, buffers):
    x = np.frombuffer(buffers[0])
    return x, {name: np.frombuffer(buffer) for name, buffer in zip(content["series"], buffers[1:], strict=True)}


def test_series_accept_names_or_specs_and_reject_bad_ones():
    graph = LiveGraph(series=["rps", {"name": "p99", "axis": "y2", "unit": "ms"}])
    assert graph.series == [
        {"name": "rps", "axis": "y", "label": "rps"},
        {"name": "p99", "axis": "y2", "unit": "ms", "label": "p99"},
    ]
    with pytest.raises(traitlets.TraitError, match="axis must be one of"):
        LiveGraph(series=[{"name": "p50", "axis": "right"}])
    with pytest.raises(traitlets.TraitError, match="unique, repeated: \\['p50'\\]"):
        LiveGraph(series=["p50", "p50"])
    with pytest.raises(traitlets.TraitError, match="non-empty string 'name'"):
        LiveGraph(series=[{"label": "no name"}])
    with pytest.raises(traitlets.TraitError, match="unknown keys \\['colour'\\]"):
        LiveGraph(series=[{"name": "p50", "colour": "red"}])
    with pytest.raises(traitlets.TraitError, match="window must be >= 0"):
        LiveGraph(series=["p50"], window=-1)
    with pytest.raises(traitlets.TraitError, match="connect must be True or False"):
        LiveGraph(series=[{"name": "p50", "connect": "yes"}])
    assert LiveGraph(series=[{"name": "p50", "connect": True}]).series[0]["connect"] is True


def test_what_is_on_screen_is_the_callers_to_say():
    graph = LiveGraph(series=["p50"])
    assert (graph.live, graph.caption, graph.x_axis) == (True, "", "clock")  # a stream, read as clock time
    assert graph.empty_text  # never a blank box before the first point
    replay = LiveGraph(series=["p50"], live=False, caption="Run 'a' · finished {t:1765100533.2}", x_axis="elapsed",
                       empty_text="Start a run to see it here.")
    assert replay.get_state(["live", "caption", "x_axis", "empty_text"]) == {
        "live": False, "caption": "Run 'a' · finished {t:1765100533.2}", "x_axis": "elapsed",
        "empty_text": "Start a run to see it here."}
    with pytest.raises(traitlets.TraitError):
        LiveGraph(series=["p50"], x_axis="epoch")


def test_points_queue_until_flush_and_go_as_float64_buffers():
    graph = LiveGraph(series=["p50", "p95"], flush_interval=60)
    graph.append(100.0, {"p50": 1.5, "p95": 4.0})  # the first call finds no recent flush and goes at once
    graph.append(101.0, {"p50": 2.5})
    graph.extend([102.0, 103.0], {"p50": [3.5, 4.5], "p95": [5.0, 6.0]})
    sent = graph.comm.custom("points")
    assert len(sent) == 1
    graph.flush()
    sent = graph.comm.custom("points")
    assert [content["count"] for content, _ in sent] == [1, 3]
    x, values = decode(*sent[1])
    assert x.tolist() == [101.0, 102.0, 103.0]
    assert values["p50"].tolist() == [2.5, 3.5, 4.5]
    assert np.isnan(values["p95"][0])  # a series missing from a point is a gap, not a zero
    assert values["p95"][1:].tolist() == [5.0, 6.0]
    assert [content["seq"] for content, _ in sent] == [1, 2]


def test_last_points_are_sent_by_the_timer_without_another_call():
    graph = LiveGraph(series=["p50"], flush_interval=0.05)
    graph.append(1.0, {"p50": 1.0})
    graph.append(2.0, {"p50": 2.0})
    assert len(graph.comm.custom("points")) == 1
    deadline = time.monotonic() + 2
    while len(graph.comm.custom("points")) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    content, buffers = graph.comm.custom("points")[1]
    assert decode(content, buffers)[0].tolist() == [2.0]


def update_size(graph: LiveGraph, t: float) -> int:
    before = len(graph.comm.messages)
    graph.append(t, {"rps": 200.0, "p50": 3.0, "p95": 8.0, "p99": 12.0, "errors": 0.0})
    return sum(len(str(data)) + sum(map(len, buffers)) for _, data, buffers in graph.comm.messages[before:])


def test_bytes_per_update_do_not_grow_with_the_run():
    graph = LiveGraph(series=["rps", "p50", "p95", "p99", "errors"], flush_interval=0)
    short_run = update_size(graph, 0.0)
    times = np.arange(1.0, 50_001.0)
    graph.extend(times, {"p50": np.ones_like(times)})
    long_run = update_size(graph, 60_000.0)
    assert long_run == short_run
    assert long_run < 1000


def test_a_new_view_gets_a_bounded_history_with_old_peaks_kept():
    graph = LiveGraph(series=["p99"], max_points=200, flush_interval=0)
    times = np.arange(10_000.0)
    latency = np.full_like(times, 10.0)
    latency[1234] = 900.0  # a spike long before the recent, exact part
    graph.extend(times, {"p99": latency})
    from_view(graph, {"type": "history?", "request": "view-1"})
    (content, buffers), = graph.comm.custom("history")
    x, values = decode(content, buffers)
    assert content["request"] == "view-1" and content["seq"] == 1
    assert len(x) <= 200
    assert x[0] == 0.0 and x[-1] == 9_999.0
    assert np.all(np.diff(x) >= 0)
    assert values["p99"].max() == 900.0
    assert x[-100:].tolist() == times[-100:].tolist()  # the newest half is exact


def test_history_stays_bounded_while_points_keep_coming():
    history = BoundedHistory(columns=2, max_points=64)
    for start in range(0, 5_000, 7):
        x = np.arange(start, start + 7, dtype=float)
        history.add(x, np.column_stack([x, -x]))
        assert len(history) <= 64
    newest = x[-1]
    assert history.x[0] == 0 and history.x[-1] == newest
    assert history.values[:, 0].max() == newest and history.values[:, 1].min() == -newest
    with pytest.raises(ValueError, match="at least 16"):
        BoundedHistory(columns=1, max_points=4)


def test_downsample_keeps_extremes_in_time_order_and_gaps():
    x = np.arange(8.0)
    values = np.array([[1, np.nan], [9, np.nan], [0, np.nan], [5, np.nan], [3, 2], [4, 7], [2, 1], [8, 3]], dtype=float)
    out_x, out_values = downsample_min_max(x, values, buckets=2)
    assert out_x.tolist() == [0.0, 3.0, 4.0, 7.0]
    assert out_values[:, 0].tolist() == [9.0, 0.0, 2.0, 8.0]  # max came before min in the first bucket
    assert np.isnan(out_values[:2, 1]).all()  # an all-gap bucket stays a gap
    assert out_values[2:, 1].tolist() == [7.0, 1.0]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=3, max_size=300), st.integers(1, 20))
def test_downsample_never_loses_the_overall_extremes(samples, buckets):
    values = np.array(samples)[:, None]
    out_x, out_values = downsample_min_max(np.arange(len(samples), dtype=float), values, buckets)
    assert len(out_x) <= max(len(samples), 2 * buckets)
    assert out_values.max() == values.max() and out_values.min() == values.min()


def test_bad_points_get_clear_errors():
    graph = LiveGraph(series=["p50"], flush_interval=0)
    with pytest.raises(KeyError, match="unknown series 'p51'; this graph has \\['p50'\\]"):
        graph.append(1.0, {"p51": 2.0})
    with pytest.raises(ValueError, match="'p50' has 1 values for 2 times"):
        graph.extend([1.0, 2.0], {"p50": [1.0]})
    graph.append(10.0, {"p50": 1.0})
    with pytest.raises(ValueError, match="must not go back"):
        graph.append(9.0, {"p50": 1.0})
    with pytest.raises(TypeError, match="epoch seconds or datetimes"):
        graph.append("yesterday", {"p50": 1.0})


def test_times_may_be_datetimes_or_datetime64():
    moment = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    assert to_epoch_seconds([moment]).tolist() == [moment.timestamp()]
    assert to_epoch_seconds(np.array(["2026-01-02T03:04:05"], dtype="datetime64[s]")).tolist() == [moment.timestamp()]
    assert to_epoch_seconds(12.5).tolist() == [12.5]
    with pytest.raises(ValueError, match="aware datetimes"):
        to_epoch_seconds([dt.datetime(2026, 1, 2)])
    with pytest.raises(ValueError, match="finite"):
        to_epoch_seconds([1.0, float("nan")])


def test_clear_empties_both_sides_and_the_library_is_sent_on_request():
    graph = LiveGraph(series=["p50"], flush_interval=0)
    graph.append(1.0, {"p50": 1.0})
    graph.clear()
    assert graph.comm.custom("clear")[0][0]["seq"] == 2
    from_view(graph, {"type": "history?", "request": "r"})
    assert graph.comm.custom("history")[0][0]["count"] == 0
    from_view(graph, {"type": "library?", "request": "lib"})
    (content, (script, style)), = graph.comm.custom("library")
    assert content["request"] == "lib"
    assert b"var uPlot=" in script and b".uplot" in style
