"""RunTimer on the kernel side: start/stop timestamps, validation, the clock the views calibrate against."""

from __future__ import annotations

import datetime as dt
import time

import comm
import pytest
import traitlets

from widgets.run_timer import RunTimer


class RecordingComm(comm.DummyComm):
    kernel = "recording"

    def __init__(self, *args, **kwargs):
        self.sent = []
        super().__init__(*args, **kwargs)

    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
        self.sent.append(data)


def test_start_and_stop_record_timestamps_and_the_final_duration():
    timer = RunTimer()
    assert timer.elapsed is None
    timer.start(at=1_000.0)
    assert timer.started_at == 1_000.0 and timer.ended_at is None
    assert timer.elapsed == pytest.approx(time.time() - 1_000.0, abs=1)
    timer.stop(at=1_042.5)
    assert timer.elapsed == 42.5
    timer.start()  # a restart forgets the old end
    assert timer.ended_at is None and timer.elapsed == pytest.approx(0, abs=1)
    timer.reset()
    assert timer.started_at is None and timer.elapsed is None


def test_aware_datetimes_are_accepted_and_ambiguous_or_impossible_times_are_refused():
    timer = RunTimer()
    start = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.timezone.utc)
    timer.start(at=start)
    timer.stop(at=start + dt.timedelta(minutes=3))
    assert timer.elapsed == 180
    with pytest.raises(ValueError, match="aware datetime"):
        timer.start(at=dt.datetime(2026, 5, 1, 12, 0))
    with pytest.raises(TypeError, match="epoch seconds or an aware datetime, got str"):
        timer.stop(at="noon")
    with pytest.raises(traitlets.TraitError, match="before the start"):
        timer.stop(at=start.timestamp() - 1)
    with pytest.raises(traitlets.TraitError, match="never started"):
        RunTimer().stop()


def test_views_get_the_kernel_clock_on_request(monkeypatch):
    monkeypatch.setattr(comm, "create_comm", RecordingComm)
    timer = RunTimer()
    before = time.time()
    timer._handle_msg({"content": {"data": {"method": "custom", "content": {"type": "clock?", "request": "v1"}}},
                       "buffers": []})
    reply = timer.comm.sent[-1]["content"]
    assert reply["type"] == "clock" and reply["request"] == "v1"
    assert before <= reply["now"] <= time.time()
