"""The journal of model changes in flight: a change that finishes, or fails where the user sees it, leaves nothing
to tell; one whose kernel died is told with what it was and when it started, until dismissed; one still running
(in another kernel) is not taken for interrupted. (A real kill -9: tests/reliability/test_interrupted_changes.py.)"""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime

import pytest
from sqlalchemy import insert, select

from profiler.catalog.journal import InterruptedChange
from profiler.catalog.spec import Model, ModelError


@pytest.fixture
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def entries(catalog) -> list:
    with catalog.engine.connect() as connection:
        return connection.execute(select(catalog.journal.table)).all()


def test_messages_say_what_was_cut_short_when_and_that_nothing_of_it_stays(utc):
    started = datetime(2026, 3, 9, 10, 42, 7)
    alter = InterruptedChange(1, "alter", "orders", "add column note to orders", started)
    assert alter.message(now=datetime.fromisoformat("2026-03-09T18:00:00+00:00")) == (
        "Your change 'add column note to orders', started 10:42 UTC, was interrupted (the kernel stopped) and "
        "rolled back: nothing of it was applied. You can run it again.")
    fill = InterruptedChange(2, "fill", "readings", "fill readings with 1,000,000 rows", started, rows=1_000_000)
    assert fill.message(now=datetime.fromisoformat("2026-03-10T08:00:00+00:00")) == (
        "Your fill of 'readings' with 1,000,000 rows, started 2026-03-09 10:42 UTC, was interrupted (the kernel "
        "stopped) and rolled back: none of its rows were kept (a fill is one transaction). You can run it again.")


def test_changes_that_finish_or_fail_leave_nothing_to_tell(catalog):
    catalog.create(Model("customers", {"id": "integer", "name": "text"}))
    catalog.fill("customers", 3)
    catalog.add_column("customers", "tier", "integer")
    catalog.drop_column("customers", "tier")
    with pytest.raises(ModelError, match="you have no model 'nowhere'"):
        catalog.fill("nowhere", 3)
    with pytest.raises(ModelError, match="you already have a model 'customers'"):
        catalog.create(Model("customers", {"id": "integer"}))
    with pytest.raises(ModelError, match="model 'customers' has no column 'nowhere'"):
        catalog.drop_column("customers", "nowhere")  # found out inside the change's transaction
    catalog.drop("customers")
    assert entries(catalog) == [] and catalog.interrupted() == []


def test_a_change_still_running_is_not_told_as_interrupted(catalog):
    catalog.create(Model("customers", {"id": "integer", "name": "text"}))
    inserting, finish = threading.Event(), threading.Event()

    def slow_progress(_done, _rows):
        inserting.set()
        finish.wait(30)

    filling = threading.Thread(target=catalog.fill, args=("customers", 2_500), kwargs={"progress": slow_progress})
    filling.start()
    try:
        assert inserting.wait(30)
        assert [entry.kind for entry in entries(catalog)] == ["fill"]  # committed before the change began
        assert catalog.interrupted() == []
    finally:
        finish.set()
        filling.join(30)
    assert entries(catalog) == [] and catalog.list(builtins=False)[0].rows == 2_500


def test_an_entry_whose_kernel_is_gone_is_told_until_dismissed(catalog):
    catalog.create(Model("customers", {"id": "integer", "name": "text"}))
    gone = "0@0" if catalog.space.dialect == "postgresql" else f"{os.uname().nodename}:{2**22 + 1}:"
    started = datetime(2026, 3, 9, 10, 42)
    with catalog.engine.begin() as connection:
        connection.execute(insert(catalog.journal.table).values(
            kind="alter", model="customers", description="add column note to customers", started_at=started,
            owner=gone))
    [change] = catalog.interrupted()
    assert (change.kind, change.model, change.started_at) == ("alter", "customers", started)
    assert "Your change 'add column note to customers', started" in change.message()
    assert catalog.interrupted() == [change]  # reading only reads
    catalog.dismiss_interrupted([change])
    assert catalog.interrupted() == [] and entries(catalog) == []
