"""What a load test does: the workload spec, checked up front so a bad value fails with a message, not mid-run."""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from profiler.inputs import InputError, shown

OPERATIONS = ("get", "put", "update", "query", "batch_write", "batch_get")
WRITE_OPERATIONS = frozenset({"put", "update", "batch_write"})
DISTRIBUTIONS = ("uniform", "zipf", "hot_key")
MAX_ITEM_SIZE = 400 * 1024  # DynamoDB's item size limit
MIN_ITEM_SIZE = 64  # room for the keys and a payload attribute
MAX_BATCH = {"batch_write": 25, "batch_get": 100}  # DynamoDB's per-call limits
DEFAULT_CONCURRENCY = 8
DEFAULT_DURATION = 10.0
# Hard bounds on one run. Time: an hour of measuring (a request count ends there too) after at most as long a
# warm-up. Memory: the engine keeps one bit per item of the key space to count the distinct items written
# (100 million items: 12.5 MB), and a request count above 100 million would run for days at local speeds.
MAX_DURATION_S = 3600.0
MAX_KEY_SPACE_ITEMS = 100_000_000
MAX_REQUESTS = 100_000_000
MAX_NAME = 200
_TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")  # DynamoDB's rule for table names


class SpecError(InputError):
    """A workload spec that cannot run; the message lists every problem found, not only the first."""

    def __init__(self, problems: list[str]):
        super().__init__("Invalid load-test workload: " + "; ".join(problems), problems=problems)


@dataclass(frozen=True)
class WorkloadSpec:
    """A DynamoDB workload.

    Load model: closed (``concurrency`` requests always in flight; the default, with 8) or open (``target_rate``
    requests per second sent on schedule whatever the table does; latency is measured from each request's
    *intended* send time, so a stall shows up as latency instead of silently lowering the rate: the
    coordinated-omission correction). ``max_in_flight`` bounds the open model's memory when the table falls
    behind. Length: ``duration`` seconds (default 10) or a ``requests`` count, after ``warmup`` seconds whose
    statistics are reported separately and left out of the cumulative figures.

    Keys: ``key_space`` partition keys, each with ``items_per_key`` sort keys; each request picks its partition
    key ``uniform``-ly, by ``zipf`` (exponent ``zipf_exponent``: key k is chosen with weight 1/k^s), or
    ``hot_key`` (``hot_key_share`` of requests go to one key, the rest uniform). ``item_size`` is the item's
    size as DynamoDB counts it (attribute names + values). ``table`` defaults to the load-test table of the
    user's playground.
    """

    operations: Mapping[str, float] = field(default_factory=lambda: {"get": 0.5, "put": 0.5})
    item_size: int = 1024
    key_space: int = 10_000
    items_per_key: int = 1
    distribution: str = "uniform"
    zipf_exponent: float = 1.1
    hot_key_share: float = 0.5
    batch_size: int = 25
    concurrency: int | None = None
    target_rate: float | None = None
    max_in_flight: int = 512
    duration: float | None = None
    requests: int | None = None
    warmup: float = 0.0
    interval: float = 1.0
    consistent_read: bool = False
    table: str | None = None
    seed: int | None = None
    name: str = ""

    def __post_init__(self):
        problems = _problems(self)
        if problems:
            raise SpecError(problems)
        # Frozen dataclass: normalise through object.__setattr__ once, after validation.
        object.__setattr__(self, "operations", dict(self.operations))
        if self.concurrency is None and self.target_rate is None:
            object.__setattr__(self, "concurrency", DEFAULT_CONCURRENCY)
        if self.duration is None and self.requests is None:
            object.__setattr__(self, "duration", DEFAULT_DURATION)

    @property
    def open_model(self) -> bool:
        return self.target_rate is not None

    @property
    def items_in_key_space(self) -> int:
        return self.key_space * self.items_per_key

    def weights(self) -> tuple[list[str], list[float]]:
        names = [name for name in OPERATIONS if self.operations.get(name, 0) > 0]
        return names, [float(self.operations[name]) for name in names]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "WorkloadSpec":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpecError([f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"])
        return cls(**dict(data))

    def replace(self, **changes) -> "WorkloadSpec":
        return dataclasses.replace(self, **changes)


def checked_spec(spec: Any) -> "WorkloadSpec":
    if not isinstance(spec, WorkloadSpec):
        raise SpecError([f"spec must be a WorkloadSpec(...) (or WorkloadSpec.from_dict(a dict)), got {shown(spec)}"])
    return spec


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _problems(spec: WorkloadSpec) -> list[str]:
    problems: list[str] = []
    ops = spec.operations
    if not isinstance(ops, Mapping) or not ops:
        problems.append(
            f"operations must be a non-empty mapping of operation -> weight, e.g. {{'get': 1}}; got {ops!r}"
        )
        ops = {}
    for name, weight in ops.items():
        if name not in OPERATIONS:
            problems.append(f"unknown operation {name!r}; choose from {', '.join(OPERATIONS)}")
        elif not _is_number(weight) or weight < 0:
            problems.append(f"weight of {name!r} must be a number >= 0, got {weight!r}")
    if ops and all(_is_number(w) and w <= 0 for w in ops.values()):
        problems.append("at least one operation needs a weight > 0")

    if not _is_int(spec.item_size) or not MIN_ITEM_SIZE <= spec.item_size <= MAX_ITEM_SIZE:
        problems.append(f"item_size must be an integer number of bytes from {MIN_ITEM_SIZE} to {MAX_ITEM_SIZE} "
                        f"(DynamoDB's item limit), got {spec.item_size!r}")
    if not _is_int(spec.key_space) or not 1 <= spec.key_space <= MAX_KEY_SPACE_ITEMS:
        problems.append(f"key_space must be an integer >= 1 and at most {MAX_KEY_SPACE_ITEMS:,}, "
                        f"got {shown(spec.key_space)}")
    if not _is_int(spec.items_per_key) or not 1 <= spec.items_per_key <= 10_000:
        problems.append(f"items_per_key must be an integer from 1 to 10000, got {shown(spec.items_per_key)}")
    elif _is_int(spec.key_space) and spec.key_space * spec.items_per_key > MAX_KEY_SPACE_ITEMS:
        problems.append(f"key_space x items_per_key must be at most {MAX_KEY_SPACE_ITEMS:,} items, got "
                        f"{spec.key_space:,} x {spec.items_per_key:,}")
    if spec.distribution not in DISTRIBUTIONS:
        problems.append(f"distribution must be one of {', '.join(DISTRIBUTIONS)}, got {spec.distribution!r}")
    if not _is_number(spec.zipf_exponent) or spec.zipf_exponent <= 0:
        problems.append(f"zipf_exponent must be a number > 0, got {spec.zipf_exponent!r}")
    if not _is_number(spec.hot_key_share) or not 0 <= spec.hot_key_share <= 1:
        problems.append(f"hot_key_share must be a fraction from 0 to 1, got {spec.hot_key_share!r}")

    batch_ops = [name for name in MAX_BATCH if _is_number(ops.get(name, 0)) and ops.get(name, 0) > 0]
    if not _is_int(spec.batch_size) or spec.batch_size < 1:
        problems.append(f"batch_size must be an integer >= 1, got {spec.batch_size!r}")
    else:
        for name in batch_ops:
            if spec.batch_size > MAX_BATCH[name]:
                problems.append(f"batch_size {spec.batch_size} exceeds DynamoDB's limit of {MAX_BATCH[name]} "
                                f"items per {name} call")
        if batch_ops and _is_int(spec.key_space) and _is_int(spec.items_per_key) \
                and spec.batch_size > spec.key_space * spec.items_per_key:
            problems.append(f"batch_size {spec.batch_size} is larger than the key space "
                            f"({spec.key_space} x {spec.items_per_key} items): a batch needs distinct keys")

    if spec.concurrency is not None and spec.target_rate is not None:
        problems.append("choose one load model: concurrency (closed: N requests in flight) or target_rate "
                        "(open: requests per second), not both")
    if spec.concurrency is not None and (not _is_int(spec.concurrency) or not 1 <= spec.concurrency <= 10_000):
        problems.append(f"concurrency must be an integer from 1 to 10000, got {spec.concurrency!r}")
    if spec.target_rate is not None and (not _is_number(spec.target_rate) or spec.target_rate <= 0):
        problems.append(f"target_rate must be a number of requests per second > 0, got {spec.target_rate!r}")
    if not _is_int(spec.max_in_flight) or spec.max_in_flight < 1:
        problems.append(f"max_in_flight must be an integer >= 1, got {spec.max_in_flight!r}")

    if spec.duration is not None and spec.requests is not None:
        problems.append("give the length as duration (seconds) or requests (a count), not both")
    if spec.duration is not None and (not _is_number(spec.duration) or not 0 < spec.duration <= MAX_DURATION_S):
        problems.append(f"duration must be a number of seconds > 0 and at most {MAX_DURATION_S:g}, "
                        f"got {shown(spec.duration)}")
    if spec.requests is not None and (not _is_int(spec.requests) or not 1 <= spec.requests <= MAX_REQUESTS):
        problems.append(f"requests must be an integer >= 1 and at most {MAX_REQUESTS:,}, got {shown(spec.requests)}")
    if not _is_number(spec.warmup) or not 0 <= spec.warmup <= MAX_DURATION_S:
        problems.append(f"warmup must be a number of seconds >= 0 and at most {MAX_DURATION_S:g}, "
                        f"got {shown(spec.warmup)}")
    elif _is_number(spec.duration) and 0 < spec.duration < spec.warmup:
        problems.append(f"warmup ({spec.warmup:g} s) must not be longer than the measured duration "
                        f"({spec.duration:g} s): most of the run would be thrown away")
    if not _is_number(spec.interval) or not 0.05 <= spec.interval <= 3600:
        problems.append(f"interval must be from 0.05 to 3600 seconds, got {spec.interval!r}")
    if spec.table is not None and (not isinstance(spec.table, str) or not _TABLE_NAME.fullmatch(spec.table)):
        problems.append(f"table must be a DynamoDB table name (3-255 letters, digits, '_', '-', '.') or None for "
                        f"the playground's load-test table, got {shown(spec.table)}")
    if spec.seed is not None and not _is_int(spec.seed):
        problems.append(f"seed must be an integer or None, got {shown(spec.seed)}")
    if not isinstance(spec.consistent_read, bool):
        problems.append(f"consistent_read must be True or False, got {shown(spec.consistent_read)}")
    if not isinstance(spec.name, str) or len(spec.name) > MAX_NAME:
        problems.append(f"name must be a string of at most {MAX_NAME} characters, got {shown(spec.name)}")
    return problems
