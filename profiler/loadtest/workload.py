"""Turning a spec into DynamoDB requests (wire-format parameters) and their replies into counted outcomes.

Pure code without I/O except :func:`describe_target`, so the in-kernel engine and the Locust workers build
exactly the same requests and count exactly the same way.
"""

from __future__ import annotations

import base64
import random
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .spec import SpecError, WorkloadSpec

KEY_TYPES = ("S", "N", "B")
PAYLOAD_ATTRIBUTE = "payload"
THROTTLE_CODES = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
    "Throttling", "TooManyRequestsException",
})
READ_API = {"get": "GetItem", "query": "Query", "batch_get": "BatchGetItem"}
WRITE_API = {"put": "PutItem", "update": "UpdateItem", "batch_write": "BatchWriteItem"}
API = {**READ_API, **WRITE_API}


@dataclass(frozen=True)
class Target:
    """The table under load and its key schema, as ``describe_table`` reported it."""

    table: str
    hash_key: str
    hash_type: str
    range_key: str | None = None
    range_type: str | None = None
    billing_mode: str = "PAY_PER_REQUEST"
    read_capacity: int = 0
    write_capacity: int = 0
    warm_read_units: int = 0
    warm_write_units: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def describe_target(client, table: str) -> Target:
    """Read the table's key schema and capacity (never assumed: the playground template may change)."""
    try:
        description = client.describe_table(TableName=table)["Table"]
    except client.exceptions.ResourceNotFoundException:
        raise SpecError(
            [f"table {table!r} does not exist (is your playground up? create it, or pass table=...)"]
        ) from None
    types = {a["AttributeName"]: a["AttributeType"] for a in description["AttributeDefinitions"]}
    keys = {k["KeyType"]: k["AttributeName"] for k in description["KeySchema"]}
    throughput = description.get("ProvisionedThroughput") or {}
    warm = description.get("WarmThroughput") or {}
    billing = (description.get("BillingModeSummary") or {}).get("BillingMode")
    if billing is None:  # tables created before on-demand existed, and moto, leave the summary out when provisioned
        billing = "PROVISIONED" if throughput.get("ReadCapacityUnits") else "PAY_PER_REQUEST"
    return Target(
        table=table,
        hash_key=keys["HASH"],
        hash_type=types[keys["HASH"]],
        range_key=keys.get("RANGE"),
        range_type=types.get(keys["RANGE"]) if "RANGE" in keys else None,
        billing_mode=billing,
        read_capacity=int(throughput.get("ReadCapacityUnits") or 0),
        write_capacity=int(throughput.get("WriteCapacityUnits") or 0),
        warm_read_units=int(warm.get("ReadUnitsPerSecond") or 0),
        warm_write_units=int(warm.get("WriteUnitsPerSecond") or 0),
    )


def check_fits(spec: WorkloadSpec, target: Target) -> None:
    if target.range_key is None and spec.items_per_key != 1:
        raise SpecError([f"table {target.table!r} has no sort key, so items_per_key must be 1 "
                         f"(got {spec.items_per_key})"])


class KeyChooser:
    """Draws partition-key indexes by the spec's distribution, in numpy blocks (a Python draw per request costs
    more than the rest of the request building)."""

    BLOCK = 4096

    def __init__(self, spec: WorkloadSpec, rng: np.random.Generator):
        self._rng = rng
        self._spec = spec
        self._cdf = None
        if spec.distribution == "zipf":
            weights = 1.0 / np.arange(1, spec.key_space + 1, dtype=float) ** spec.zipf_exponent
            self._cdf = np.cumsum(weights / weights.sum())
        self._block: list[int] = []

    def hottest_share(self) -> float:
        """The share of requests that go to the most frequently chosen partition key."""
        spec = self._spec
        if spec.distribution == "zipf":
            return float(self._cdf[0])
        if spec.distribution == "hot_key":
            return spec.hot_key_share + (1 - spec.hot_key_share) / spec.key_space
        return 1 / spec.key_space

    def _refill(self) -> None:
        spec, rng = self._spec, self._rng
        if spec.distribution == "zipf":
            drawn = np.searchsorted(self._cdf, rng.random(self.BLOCK), side="right")
            drawn = np.minimum(drawn, spec.key_space - 1)
        elif spec.distribution == "hot_key":
            drawn = rng.integers(0, spec.key_space, self.BLOCK)
            drawn[rng.random(self.BLOCK) < spec.hot_key_share] = 0
        else:
            drawn = rng.integers(0, spec.key_space, self.BLOCK)
        self._block = drawn.tolist()

    def next(self) -> int:
        if not self._block:
            self._refill()
        return self._block.pop()


def _key_value(kind: str, index: int, prefix: str, width: int) -> dict[str, str]:
    if kind == "S":
        return {"S": f"{prefix}{index:0{width}d}"}
    if kind == "N":
        return {"N": str(index)}
    return {"B": base64.b64encode(f"{prefix}{index:0{width}d}".encode()).decode()}


class RequestFactory:
    """Builds wire-format DynamoDB parameters (what the JSON protocol sends, also what a low-level boto3
    client accepts) for each operation of the spec."""

    def __init__(self, spec: WorkloadSpec, target: Target, seed: int | None = None):
        check_fits(spec, target)
        self.spec = spec
        self.target = target
        self._rng = random.Random(seed)
        self.keys = KeyChooser(spec, np.random.default_rng(seed))
        names, weights = spec.weights()
        self._operations = names
        self._cumulative = np.cumsum(weights).tolist()
        self._op_block: list[str] = []
        self._key_width = len(str(max(spec.key_space - 1, 0)))
        self._sort_width = len(str(max(spec.items_per_key - 1, 0)))
        # Every item the same size: the payload pads the keys up to item_size (DynamoDB counts name + value).
        key_bytes = len(target.hash_key) + 1 + self._key_width
        if target.range_key:
            key_bytes += len(target.range_key) + 1 + self._sort_width
        padding = max(1, spec.item_size - key_bytes - len(PAYLOAD_ATTRIBUTE))
        self._payload = {"S": "".join(self._rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(padding))}

    def next_operation(self) -> str:
        if not self._op_block:
            draws = self._rng.choices(self._operations, cum_weights=self._cumulative, k=1024)
            self._op_block = draws
        return self._op_block.pop()

    def item_index(self, key_index: int, sort_index: int) -> int:
        return key_index * self.spec.items_per_key + sort_index

    def _key(self, key_index: int, sort_index: int) -> dict[str, dict[str, str]]:
        t = self.target
        key = {t.hash_key: _key_value(t.hash_type, key_index, "k", self._key_width)}
        if t.range_key:
            key[t.range_key] = _key_value(t.range_type, sort_index, "s", self._sort_width)
        return key

    def _draw(self) -> tuple[int, int]:
        sort_index = self._rng.randrange(self.spec.items_per_key) if self.spec.items_per_key > 1 else 0
        return self.keys.next(), sort_index

    def _distinct_draws(self, count: int) -> list[tuple[int, int]]:
        # DynamoDB rejects a batch that names the same key twice; skewed distributions repeat keys often.
        seen: dict[tuple[int, int], None] = {}
        attempts = 0
        while len(seen) < count:
            attempts += 1
            drawn = self._draw() if attempts < 20 * count else (
                self._rng.randrange(self.spec.key_space), self._rng.randrange(self.spec.items_per_key))
            seen.setdefault(drawn, None)
        return list(seen)

    def build(self, operation: str) -> tuple[str, dict[str, Any], list[int]]:
        """(API name, parameters, indexes of the items it writes)."""
        table = self.target.table
        if operation == "get":
            k, s = self._draw()
            params = {"TableName": table, "Key": self._key(k, s), "ReturnConsumedCapacity": "TOTAL"}
            if self.spec.consistent_read:
                params["ConsistentRead"] = True
            return "GetItem", params, []
        if operation == "put":
            k, s = self._draw()
            item = self._key(k, s)
            item[PAYLOAD_ATTRIBUTE] = self._payload
            return "PutItem", {"TableName": table, "Item": item, "ReturnConsumedCapacity": "TOTAL"}, \
                [self.item_index(k, s)]
        if operation == "update":
            k, s = self._draw()
            return "UpdateItem", {
                "TableName": table, "Key": self._key(k, s), "UpdateExpression": "SET #p = :p",
                "ExpressionAttributeNames": {"#p": PAYLOAD_ATTRIBUTE},
                "ExpressionAttributeValues": {":p": self._payload}, "ReturnConsumedCapacity": "TOTAL",
            }, [self.item_index(k, s)]
        if operation == "query":
            k, _ = self._draw()
            t = self.target
            params = {
                "TableName": table, "KeyConditionExpression": "#h = :h", "ExpressionAttributeNames": {"#h": t.hash_key},
                "ExpressionAttributeValues": {":h": _key_value(t.hash_type, k, "k", self._key_width)},
                "Limit": self.spec.items_per_key, "ReturnConsumedCapacity": "TOTAL",
            }
            if self.spec.consistent_read:
                params["ConsistentRead"] = True
            return "Query", params, []
        if operation == "batch_write":
            draws = self._distinct_draws(self.spec.batch_size)
            requests = []
            for k, s in draws:
                item = self._key(k, s)
                item[PAYLOAD_ATTRIBUTE] = self._payload
                requests.append({"PutRequest": {"Item": item}})
            return "BatchWriteItem", {"RequestItems": {table: requests}, "ReturnConsumedCapacity": "TOTAL"}, \
                [self.item_index(k, s) for k, s in draws]
        if operation == "batch_get":
            draws = self._distinct_draws(self.spec.batch_size)
            keys = {"Keys": [self._key(k, s) for k, s in draws]}
            if self.spec.consistent_read:
                keys["ConsistentRead"] = True
            return "BatchGetItem", {"RequestItems": {table: keys}, "ReturnConsumedCapacity": "TOTAL"}, []
        raise ValueError(f"unknown operation {operation!r}")

    def unprocessed_indexes(self, reply: dict[str, Any]) -> set[int]:
        """Indexes of the items a BatchWriteItem reply says it did not write."""
        left = (reply.get("UnprocessedItems") or {}).get(self.target.table) or []
        indexes = set()
        for request in left:
            item = request["PutRequest"]["Item"]
            indexes.add(self._index_of(item))
        return indexes

    def _index_of(self, item: dict[str, dict[str, str]]) -> int:
        t = self.target

        def number(kind, value):
            text = value[kind]
            if kind == "B":
                text = base64.b64decode(text).decode()
            return int(text.lstrip("ks") if kind != "N" else text)

        k = number(t.hash_type, item[t.hash_key])
        s = number(t.range_type, item[t.range_key]) if t.range_key else 0
        return self.item_index(k, s)


def consumed_units(reply: dict[str, Any]) -> float:
    consumed = reply.get("ConsumedCapacity")
    if not consumed:
        return 0.0
    if isinstance(consumed, dict):
        return float(consumed.get("CapacityUnits") or 0)
    return float(sum(entry.get("CapacityUnits") or 0 for entry in consumed))


def items_read(api: str, reply: dict[str, Any]) -> int:
    if api == "GetItem":
        return 1 if reply.get("Item") else 0
    if api == "Query":
        return int(reply.get("Count") or 0)
    if api == "BatchGetItem":
        return sum(len(items) for items in (reply.get("Responses") or {}).values())
    return 0


def unprocessed_count(api: str, reply: dict[str, Any]) -> int:
    if api == "BatchWriteItem":
        return sum(len(v) for v in (reply.get("UnprocessedItems") or {}).values())
    if api == "BatchGetItem":
        return sum(len(v.get("Keys", [])) for v in (reply.get("UnprocessedKeys") or {}).values())
    return 0


def throttle_reasons(code: str, body: dict[str, Any]) -> list[str]:
    """Why a request was throttled: DynamoDB's ``ThrottlingReasons`` when it sends them, else the error code."""
    reasons = [entry.get("reason") for entry in body.get("ThrottlingReasons") or [] if entry.get("reason")]
    return reasons or [code]
