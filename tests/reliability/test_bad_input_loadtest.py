"""Bad load-test specs and tables, through the engine and through the dashboard's form: one message naming the
field and its bounds before anything is sent or stored; another user's table (or one's own runs table) is never
loaded; a run that fails at once is shown as failed, never as a running bar."""

from __future__ import annotations

import dataclasses
import math
import time
from html import unescape

import pytest

from dashboards.load_test import LoadTestDashboard
from profiler.inputs import InputError
from profiler.loadtest import FileRunStore, LoadTest, LocustLoadTest, SpecError, WorkloadSpec
from profiler.loadtest.engine import LoadTest as EngineLoadTest
from testing.support import wait_for
from tests.loadtest.conftest import aws_credentials, create_table, moto_url, playground  # noqa: F401 - fixtures


@pytest.fixture
def mine(playground):  # noqa: F811 - the fixture imported above
    """A user's playground on a local AWS: its load-test and runs tables."""
    return playground


@pytest.fixture
def local_aws(moto_url):  # noqa: F811 - the fixture imported above
    return moto_url

SPECS = [
    ({"key_space": 10**12}, "key_space must be an integer >= 1 and at most 100,000,000, got 1000000000000"),
    ({"key_space": 0}, "key_space must be an integer >= 1 and at most 100,000,000, got 0"),
    ({"key_space": 2.5}, "key_space must be an integer >= 1 and at most 100,000,000, got 2.5"),
    ({"key_space": 10**6, "items_per_key": 1000}, "key_space x items_per_key must be at most 100,000,000 items"),
    ({"items_per_key": 0}, "items_per_key must be an integer from 1 to 10000, got 0"),
    ({"warmup": 60, "duration": 10}, "warmup (60 s) must not be longer than the measured duration (10 s)"),
    ({"warmup": -1}, "warmup must be a number of seconds >= 0 and at most 3600, got -1"),
    ({"warmup": math.nan}, "warmup must be a number of seconds >= 0 and at most 3600, got nan"),
    ({"warmup": 4000, "requests": 10}, "warmup must be a number of seconds >= 0 and at most 3600, got 4000"),
    ({"duration": 0}, "duration must be a number of seconds > 0 and at most 3600, got 0"),
    ({"duration": -5}, "duration must be a number of seconds > 0 and at most 3600, got -5"),
    ({"duration": 7200}, "duration must be a number of seconds > 0 and at most 3600, got 7200"),
    ({"duration": math.inf}, "duration must be a number of seconds > 0 and at most 3600, got inf"),
    ({"duration": "30"}, "duration must be a number of seconds > 0 and at most 3600, got '30'"),
    ({"requests": 0}, "requests must be an integer >= 1 and at most 100,000,000, got 0"),
    ({"requests": 10**9}, "requests must be an integer >= 1 and at most 100,000,000, got 1000000000"),
    ({"requests": 1.5}, "requests must be an integer >= 1 and at most 100,000,000, got 1.5"),
    ({"interval": 0.01}, "interval must be from 0.05 to 3600 seconds, got 0.01"),
    ({"interval": 0}, "interval must be from 0.05 to 3600 seconds, got 0"),
    ({"item_size": 10}, "item_size must be an integer number of bytes from 64 to 409600"),
    ({"item_size": "1k"}, "item_size must be an integer number of bytes from 64 to 409600"),
    ({"concurrency": 0}, "concurrency must be an integer from 1 to 10000, got 0"),
    ({"concurrency": 20_000}, "concurrency must be an integer from 1 to 10000, got 20000"),
    ({"concurrency": 2.5}, "concurrency must be an integer from 1 to 10000, got 2.5"),
    ({"target_rate": -1}, "target_rate must be a number of requests per second > 0, got -1"),
    ({"target_rate": math.nan}, "target_rate must be a number of requests per second > 0, got nan"),
    ({"target_rate": "50"}, "target_rate must be a number of requests per second > 0, got '50'"),
    ({"max_in_flight": 0}, "max_in_flight must be an integer >= 1, got 0"),
    ({"distribution": "normal"}, "distribution must be one of uniform, zipf, hot_key, got 'normal'"),
    ({"distribution": None}, "distribution must be one of uniform, zipf, hot_key, got None"),
    ({"zipf_exponent": 0}, "zipf_exponent must be a number > 0, got 0"),
    ({"hot_key_share": -0.1}, "hot_key_share must be a fraction from 0 to 1, got -0.1"),
    ({"operations": {"batch_write": 1}, "batch_size": 0}, "batch_size must be an integer >= 1, got 0"),
    ({"operations": "get"}, "operations must be a non-empty mapping of operation -> weight"),
    ({"operations": {"get": "1"}}, "weight of 'get' must be a number >= 0, got '1'"),
    ({"operations": {"get": math.nan}}, "weight of 'get' must be a number >= 0, got nan"),
    ({"operations": {"delete": 1}}, "unknown operation 'delete'; choose from get, put, update, query"),
    ({"table": "ab"}, "table must be a DynamoDB table name (3-255 letters, digits, '_', '-', '.')"),
    ({"table": "my table"}, "table must be a DynamoDB table name (3-255 letters, digits, '_', '-', '.')"),
    ({"table": "x" * 256}, "table must be a DynamoDB table name"),
    ({"table": 42}, "table must be a DynamoDB table name"),
    ({"seed": "1"}, "seed must be an integer or None, got '1'"),
    ({"name": 5}, "name must be a string of at most 200 characters, got 5"),
    ({"name": "n" * 201}, "name must be a string of at most 200 characters"),
    ({"consistent_read": "yes"}, "consistent_read must be True or False, got 'yes'"),
]


@pytest.mark.parametrize("fields, message", SPECS, ids=[repr(f)[:50] for f, _ in SPECS])
def test_a_bad_spec_is_refused_with_its_field_and_bounds(fields, message):
    started = time.perf_counter()
    with pytest.raises(SpecError) as refused:
        WorkloadSpec(**fields)
    assert message in str(refused.value) and isinstance(refused.value, InputError)
    assert time.perf_counter() - started < 0.5  # checked, not attempted: no bitmap of a trillion keys


def test_an_unknown_field_in_a_stored_spec_is_named():
    with pytest.raises(SpecError, match=r"unknown field\(s\) keyspace; known: "):
        WorkloadSpec.from_dict({"keyspace": 10})


RUNNERS = [
    (lambda: LoadTest({"operations": {"get": 1}}), "spec must be a WorkloadSpec(...) (or WorkloadSpec.from_dict"),
    (lambda: LoadTest(WorkloadSpec(), max_attempts=0), "max_attempts must be an integer from 1 to 10, got 0"),
    (lambda: LoadTest(WorkloadSpec(), max_attempts=100), "max_attempts must be an integer from 1 to 10, got 100"),
    (lambda: LoadTest(WorkloadSpec(), on_interval="print"), "on_interval must be a function on_interval(record)"),
    (lambda: LocustLoadTest(WorkloadSpec(), workers=0), "workers must be an integer >= 1 and at most 64, got 0"),
    (lambda: LocustLoadTest(WorkloadSpec(), workers=10_000), "workers must be an integer >= 1 and at most 64"),
    (lambda: LocustLoadTest(WorkloadSpec(), workers=2, local_workers=5),
     "local_workers must be an integer from 0 to workers (2) or None, got 5"),
    (lambda: LocustLoadTest(WorkloadSpec(), workers=2, start_timeout=-1),
     "start_timeout must be a number of seconds above 0 and at most 600, got -1"),
    (lambda: LocustLoadTest("spec"), "spec must be a WorkloadSpec(...)"),
]


@pytest.mark.parametrize("make, message", RUNNERS, ids=[message[:40] for _, message in RUNNERS])
def test_a_run_with_bad_settings_is_refused_before_it_reaches_aws(make, message):
    with pytest.raises(SpecError) as refused:
        make()
    assert message in str(refused.value)


def _items(client, table: str) -> int:
    return client.scan(TableName=table, Select="COUNT")["Count"]


@pytest.mark.parametrize("whose", ["another user's load-test table", "my own runs table"])
def test_a_playground_loads_only_its_own_load_test_table(mine, tmp_path, whose):
    client = mine.client("dynamodb")
    other = f"{mine.stack_name}-someone-else-loadtest"
    if whose.startswith("another"):
        create_table(client, other)
    table = other if whose.startswith("another") else mine.runs_table
    try:
        test = LoadTest(WorkloadSpec(operations={"put": 1}, requests=20, table=table), playground=mine,
                        store=FileRunStore(tmp_path))
        with pytest.raises(SpecError, match=f"table must be your playground's load-test table "
                                            f"'{mine.loadtest_table}', got '{table}'"):
            test.start()
        assert _items(client, table) == 0 and FileRunStore(tmp_path).list_runs() == []
    finally:
        if whose.startswith("another"):
            client.delete_table(TableName=other)


FORM = [
    ({"table": "someone-else-loadtest"}, "Table must be your playground's load-test table"),
    ({"key_space": 10**12}, "key_space must be an integer >= 1 and at most 100,000,000"),
    ({"warmup": 60.0, "duration": 10.0}, "warmup (60 s) must not be longer than the measured duration (10 s)"),
    ({"duration": -1.0}, "duration must be a number of seconds > 0 and at most 3600"),
    ({"duration": 86_400.0}, "duration must be a number of seconds > 0 and at most 3600"),
    ({"concurrency": 0}, "concurrency must be an integer from 1 to 10000, got 0"),
    ({"length": "requests", "requests": 0}, "requests must be an integer >= 1 and at most 100,000,000, got 0"),
    ({"interval": 0.0}, "interval must be from 0.05 to 3600 seconds"),
    ({"item_size": 10}, "item_size must be an integer number of bytes from 64 to 409600"),
    ({"model": "open", "target_rate": 0.0}, "target_rate must be a number of requests per second > 0"),
    ({"weights": {"get": 0.0, "put": 0.0}}, "at least one operation needs a weight > 0"),
    ({"weights": {"get": -1.0}}, "weight of 'get' must be a number >= 0, got -1.0"),
    ({"name": "n" * 201}, "name must be a string of at most 200 characters"),
]


@pytest.mark.parametrize("form, message", FORM, ids=[repr(f)[:50] for f, _ in FORM])
def test_the_form_names_the_field_and_start_does_nothing(mine, tmp_path, form, message):
    dashboard = LoadTestDashboard(playground=mine, store=FileRunStore(tmp_path))
    for name, value in form.items():
        if name == "weights":
            for operation, weight in value.items():
                dashboard.weights[operation].value = weight
        else:
            getattr(dashboard, name).value = value
    assert dashboard.validate() is None
    assert message in unescape(dashboard.form_message.value)
    assert dashboard.start() is None and dashboard.test is None
    assert FileRunStore(tmp_path).list_runs() == [] and _items(mine.client("dynamodb"),
                                                               mine.loadtest_table) == 0


def test_a_run_that_fails_at_once_shows_a_failure_not_a_running_bar(mine, tmp_path, monkeypatch):
    async def fails(self, started):
        raise ConnectionError("the endpoint went away")

    monkeypatch.setattr(EngineLoadTest, "_main", fails)
    dashboard = LoadTestDashboard(playground=mine, store=FileRunStore(tmp_path))
    dashboard.length.value, dashboard.requests.value = "requests", 10
    test = dashboard.start()
    assert test is not None
    wait_for(lambda: dashboard.form_message.kind == "error", 20, "the failure next to the form")
    time.sleep(0.5)  # whatever start() did after the end arrived has happened by now
    message = dashboard.form_message
    assert message.kind == "error" and message.title == "The load test failed:"
    assert "the endpoint went away" in message.items[0] and message.items[1].startswith("Measured: ")
    assert dashboard.progress.layout.display == "none" and not dashboard.graph.live
    assert not dashboard.running and not dashboard.start_button.disabled


def test_without_a_playground_any_named_table_is_the_users_own_business(local_aws, tmp_path):
    """No stack: the server's own AWS access decides (the table check is for playgrounds)."""
    import boto3

    client = boto3.client("dynamodb", endpoint_url=local_aws, region_name="us-east-1")
    create_table(client, "standalone-table")
    try:
        dashboard = LoadTestDashboard(environ={"AWS_ENDPOINT_URL": local_aws}, store=FileRunStore(tmp_path))
        dashboard.table.value = "standalone-table"
        assert dashboard.validate() is not None and dashboard.form_message.value == ""
    finally:
        client.delete_table(TableName="standalone-table")


def test_the_dashboard_engine_refuses_a_table_even_when_its_form_check_is_bypassed(mine, tmp_path, monkeypatch):
    dashboard = LoadTestDashboard(playground=mine, store=FileRunStore(tmp_path))
    dashboard.table.value = mine.runs_table
    assert "Table must be your playground's load-test table" in unescape(dashboard.form_message.value)
    bypassed = dataclasses.replace(WorkloadSpec(operations={"put": 1}, requests=5), table=mine.runs_table)
    monkeypatch.setattr(LoadTestDashboard, "validate", lambda self: bypassed)
    assert dashboard.start() is None
    assert "only that table is yours to load" in unescape(dashboard.form_message.value)
    assert FileRunStore(tmp_path).list_runs() == []
