"""Bad workloads are refused up front, with every problem named and what would be accepted."""

from __future__ import annotations

import dataclasses

import pytest

from profiler.loadtest import LoadTest, SpecError, WorkloadSpec
from profiler.playground import NoPlayground


@pytest.mark.parametrize("fields, expected", [
    ({"operations": {"scan": 1}}, "unknown operation 'scan'; choose from get, put, update, query, batch_write"),
    ({"operations": {}}, "operations must be a non-empty mapping"),
    ({"operations": {"get": 0}}, "at least one operation needs a weight > 0"),
    ({"operations": {"get": -1}}, "weight of 'get' must be a number >= 0"),
    ({"concurrency": 4, "target_rate": 100}, "choose one load model"),
    ({"duration": 5, "requests": 100}, "not both"),
    ({"operations": {"batch_write": 1}, "batch_size": 30}, "batch_size 30 exceeds DynamoDB's limit of 25"),
    ({"operations": {"batch_get": 1}, "batch_size": 20, "key_space": 10}, "a batch needs distinct keys"),
    ({"item_size": 500_000}, "item_size must be an integer number of bytes from 64 to 409600"),
    ({"distribution": "pareto"}, "distribution must be one of uniform, zipf, hot_key, got 'pareto'"),
    ({"hot_key_share": 1.5}, "hot_key_share must be a fraction from 0 to 1"),
    ({"target_rate": 0}, "target_rate must be a number of requests per second > 0"),
    ({"concurrency": True}, "concurrency must be an integer"),
    ({"duration": float("nan")}, "duration must be a number of seconds > 0"),
    ({"warmup": -1}, "warmup must be a number of seconds >= 0"),
    ({"table": "x"}, "table must be a DynamoDB table name"),
])
def test_bad_spec_is_rejected_with_a_message_naming_the_problem(fields, expected):
    with pytest.raises(SpecError) as raised:
        WorkloadSpec(**fields)
    assert expected in str(raised.value)


def test_every_problem_is_reported_at_once():
    with pytest.raises(SpecError) as raised:
        WorkloadSpec(operations={"get": 1, "scan": 1}, item_size=1, concurrency=0)
    assert len(raised.value.problems) == 3
    assert str(raised.value).startswith("Invalid load-test workload: ")


def test_defaults_are_a_closed_model_for_ten_seconds():
    spec = WorkloadSpec()
    assert (spec.concurrency, spec.target_rate, spec.duration, spec.requests) == (8, None, 10.0, None)
    assert WorkloadSpec(target_rate=50).concurrency is None


def test_spec_round_trips_through_its_stored_form_and_rejects_unknown_fields():
    spec = WorkloadSpec(operations={"query": 2, "put": 1}, target_rate=25, requests=100, distribution="zipf")
    assert WorkloadSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(SpecError, match="unknown field.*rate"):
        WorkloadSpec.from_dict({"rate": 5})


def test_missing_table_is_a_clear_error_before_anything_runs(playground, tmp_path):
    from profiler.loadtest import FileRunStore

    missing = dataclasses.replace(playground, loadtest_table="no-such-table")
    test = LoadTest(WorkloadSpec(requests=5), playground=missing, store=FileRunStore(tmp_path))
    with pytest.raises(SpecError, match="table 'no-such-table' does not exist"):
        test.start()
    assert FileRunStore(tmp_path).list_runs() == []


def test_table_without_sort_key_refuses_several_items_per_key(playground, tmp_path):
    from profiler.loadtest import FileRunStore

    client = playground.client("dynamodb")
    client.create_table(TableName="hash-only-" + playground.stack_name, BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}])
    spec = WorkloadSpec(items_per_key=3, requests=5)
    hash_only = dataclasses.replace(playground, loadtest_table="hash-only-" + playground.stack_name)
    with pytest.raises(SpecError, match="has no sort key, so items_per_key must be 1"):
        LoadTest(spec, playground=hash_only, store=FileRunStore(tmp_path)).start()
    client.delete_table(TableName="hash-only-" + playground.stack_name)


def test_without_a_playground_the_user_is_told_why(monkeypatch):
    for name in ("PLAYGROUND_STACK_NAME", "PLAYGROUND_LOADTEST_TABLE", "PLAYGROUND_RUNS_TABLE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(NoPlayground, match="has no AWS playground"):
        LoadTest(WorkloadSpec())
