"""The requests the engine builds: key distributions as specified, items of the size asked for, valid batches."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from profiler.loadtest import WorkloadSpec
from profiler.loadtest.workload import KeyChooser, RequestFactory, Target

TARGET = Target(table="t", hash_key="pk", hash_type="S", range_key="sk", range_type="S")


def draws(spec: WorkloadSpec, count: int = 40_000) -> Counter:
    chooser = KeyChooser(spec, np.random.default_rng(1))
    return Counter(chooser.next() for _ in range(count))


def test_hot_key_gets_its_share_and_the_rest_is_spread():
    counts = draws(WorkloadSpec(key_space=1000, distribution="hot_key", hot_key_share=0.5))
    assert counts[0] / 40_000 == pytest.approx(0.5 + 0.5 / 1000, abs=0.01)
    assert len(counts) > 950


def test_zipf_follows_its_law():
    spec = WorkloadSpec(key_space=1000, distribution="zipf", zipf_exponent=1.1)
    counts = draws(spec)
    assert counts[0] / counts[1] == pytest.approx(2 ** 1.1, rel=0.15)
    assert counts[0] / 40_000 == pytest.approx(KeyChooser(spec, np.random.default_rng(0)).hottest_share(), abs=0.01)


def test_uniform_keys_are_uniform():
    counts = draws(WorkloadSpec(key_space=20))
    assert max(counts.values()) / min(counts.values()) < 1.25


def dynamodb_item_size(item: dict) -> int:
    """DynamoDB's size of an item of string attributes: UTF-8 bytes of every name and value."""
    return sum(len(name.encode()) + len(value["S"].encode()) for name, value in item.items())


@pytest.mark.parametrize("size", [100, 1024, 4000])
def test_items_have_the_size_asked_for(size):
    factory = RequestFactory(WorkloadSpec(operations={"put": 1}, item_size=size, key_space=5000, items_per_key=7),
                             TARGET, seed=2)
    api, params, written = factory.build("put")
    assert api == "PutItem" and dynamodb_item_size(params["Item"]) == size
    assert written == [factory.item_index(int(params["Item"]["pk"]["S"][1:]), int(params["Item"]["sk"]["S"][1:]))]


def test_batches_name_distinct_keys_even_on_a_hot_key():
    spec = WorkloadSpec(operations={"batch_write": 1}, batch_size=25, key_space=100, distribution="hot_key",
                        hot_key_share=0.95)
    factory = RequestFactory(spec, TARGET, seed=3)
    for _ in range(20):
        _, params, written = factory.build("batch_write")
        items = [r["PutRequest"]["Item"] for r in params["RequestItems"]["t"]]
        keys = [(item["pk"]["S"], item["sk"]["S"]) for item in items]
        assert len(set(keys)) == len(keys) == 25 == len(set(written))


def test_operation_mix_follows_the_weights():
    factory = RequestFactory(WorkloadSpec(operations={"get": 3, "put": 1}), TARGET, seed=4)
    counts = Counter(factory.next_operation() for _ in range(20_000))
    assert counts["get"] / counts["put"] == pytest.approx(3, rel=0.08)
