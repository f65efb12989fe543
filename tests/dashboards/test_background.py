"""The dashboards' background job: one job at a time, controls off while it runs, failures in words, cancel."""

from __future__ import annotations

import logging
import threading

import pytest

from dashboards.background import BackgroundJob, wait


def test_a_second_start_while_busy_is_refused_and_starts_nothing():
    gate, ran = threading.Event(), []
    job = BackgroundJob("test")
    first = job.start(lambda: (ran.append("first"), gate.wait(10)))
    try:
        assert first is not None and job.busy and job.thread is first
        assert job.start(ran.append, "second") is None
    finally:
        gate.set()
        job.wait(10)
    assert ran == ["first"] and not job.busy
    wait(job.start(ran.append, "third"), 10)  # once over, the next job starts
    assert ran == ["first", "third"]


def test_on_busy_is_told_before_the_job_runs_and_after_it_ends():
    seen: list = []
    job = BackgroundJob("test", on_busy=lambda busy: seen.append(("busy", busy, job.busy)))
    thread = job.start(lambda: seen.append("job"))
    # True reached the controls before start() returned, so a second click already finds them off
    assert seen[0] == ("busy", True, True)
    wait(thread, 10)
    assert seen == [("busy", True, True), "job", ("busy", False, False)]


def test_a_failing_job_is_said_in_words_and_the_traceback_goes_to_the_log(caplog):
    said, busy = [], []

    def broken() -> None:
        raise ValueError("the table 'nowhere' does not exist")

    job = BackgroundJob("test", on_busy=busy.append, on_error=said.append)
    with caplog.at_level(logging.ERROR, logger="dashboards.background"):
        wait(job.start(broken), 10)
    assert said == ["ValueError: the table 'nowhere' does not exist"]
    assert "Traceback" not in said[0]
    assert busy == [True, False] and not job.busy
    logged = [record for record in caplog.records if record.exc_info]
    assert logged and logged[0].exc_info[0] is ValueError


def test_a_failure_is_worded_by_describe_and_heard_by_the_start_that_asked():
    said_by_job, said_by_start = [], []
    job = BackgroundJob("test", on_error=said_by_job.append, describe=lambda error: f"Could not: {error}")

    def broken() -> None:
        raise RuntimeError("no space")

    wait(job.start(broken, on_error=said_by_start.append), 10)
    assert said_by_start == ["Could not: no space"] and said_by_job == []
    wait(job.start(broken), 10)
    assert said_by_job == ["Could not: no space"]


def test_cancel_sets_the_event_the_running_job_sees():
    started, outcome = threading.Event(), []

    def patient() -> None:
        started.set()
        outcome.append(job.cancelled.wait(10))

    job = BackgroundJob("test")
    assert not job.cancel()  # nothing runs: nothing to cancel
    thread = job.start(patient)
    assert started.wait(10)
    assert job.cancel()
    wait(thread, 10)
    assert outcome == [True] and not job.busy
    wait(job.start(lambda: outcome.append(job.cancelled.is_set())), 10)
    assert outcome == [True, False]  # the earlier cancel does not stop the next job


def test_wait_says_when_a_job_outlives_its_timeout():
    gate = threading.Event()
    job = BackgroundJob("slow")
    job.start(gate.wait, 10)
    try:
        with pytest.raises(TimeoutError, match="slow: wait did not finish within 0.05 s"):
            job.wait(0.05)
    finally:
        gate.set()
        job.wait(10)
    job.wait(0.05)  # over: returns at once
    wait(None)  # a start that was refused
