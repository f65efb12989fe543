"""Guard rails: a playground's run loads its own load-test table only, and, for real AWS, a warning before a run
when the requested rate is more than the table can take.

DynamoDB limits used (AWS documentation):
- a read request unit (RRU) reads up to 4 KB strongly consistent, or two eventually consistent reads; a write
  request unit (WRU) writes up to 1 KB; batch operations cost the sum of their items;
- one partition serves at most 3,000 RRU and 1,000 WRU per second, whatever the table's capacity, so a hot key
  throttles alone;
- on-demand tables throttle when traffic exceeds double the previous peak within 30 minutes; a table without
  earlier traffic takes about 4,000 WRU and 12,000 RRU per second at once, or its warm throughput if set;
- provisioned tables serve their provisioned units (plus up to 300 s of unused capacity as burst).

Only the open model has a known rate; closed-model runs show throttles as they happen instead.
"""

from __future__ import annotations

import math

import numpy as np

from ..playground import Playground
from .spec import SpecError, WorkloadSpec
from .workload import KeyChooser, Target

PARTITION_RRU = 3_000
PARTITION_WRU = 1_000
NEW_ON_DEMAND_RRU = 12_000
NEW_ON_DEMAND_WRU = 4_000


def check_table_is_theirs(playground: Playground, table: str) -> None:
    """In a playground the load goes to its load-test table only: a local AWS may not enforce the role's limits,
    and another user's table (or the runs table, which holds the recorded runs) must never be loaded. Without a
    playground (no stack) the table named is the user's own business, as their AWS access decides."""
    own = playground.loadtest_table
    if playground.stack_name and table != own:
        raise SpecError([f"table must be your playground's load-test table {own!r}, got {table!r}: a load test "
                         "writes thousands of items, and only that table is yours to load"])


class CapacityWarning(UserWarning):
    """The workload asks for more than the table can serve without throttling."""


def unit_costs(spec: WorkloadSpec) -> dict[str, tuple[float, float]]:
    """(RRU, WRU) one request of each operation costs."""
    read_factor = 1.0 if spec.consistent_read else 0.5
    read_item = math.ceil(spec.item_size / 4096) * read_factor
    write_item = math.ceil(spec.item_size / 1024)
    query_units = math.ceil(spec.item_size * spec.items_per_key / 4096) * read_factor
    return {
        "get": (read_item, 0.0), "query": (query_units, 0.0), "batch_get": (read_item * spec.batch_size, 0.0),
        "put": (0.0, write_item), "update": (0.0, write_item), "batch_write": (0.0, write_item * spec.batch_size),
    }


def demand(spec: WorkloadSpec) -> tuple[float, float]:
    """(RRU/s, WRU/s) the open model asks for."""
    names, weights = spec.weights()
    total = sum(weights)
    costs = unit_costs(spec)
    reads = sum(costs[n][0] * w for n, w in zip(names, weights, strict=True)) / total
    writes = sum(costs[n][1] * w for n, w in zip(names, weights, strict=True)) / total
    return spec.target_rate * reads, spec.target_rate * writes


def capacity_warnings(spec: WorkloadSpec, target: Target, local_endpoint: bool = False) -> list[str]:
    if not spec.open_model:
        return []
    reads, writes = demand(spec)
    messages = []
    hottest = KeyChooser(spec, np.random.default_rng(0)).hottest_share()
    for kind, units, limit in (("read", reads, PARTITION_RRU), ("write", writes, PARTITION_WRU)):
        if units * hottest > limit:
            messages.append(
                f"hot partition: the most used key gets ~{units * hottest:,.0f} {kind} units/s "
                f"({hottest:.1%} of requests), above DynamoDB's {limit:,} per partition: it will throttle whatever "
                f"the table's capacity; spread the keys (distribution/key_space) or lower target_rate")
    if target.billing_mode == "PROVISIONED":
        for kind, units, capacity in (("read", reads, target.read_capacity), ("write", writes, target.write_capacity)):
            if units > capacity:
                messages.append(f"table {target.table!r} is provisioned for {capacity:,} {kind} capacity units/s but "
                                f"the workload needs ~{units:,.0f}: expect throttles once burst capacity is used up")
    else:
        for kind, units, warm, default in (("read", reads, target.warm_read_units, NEW_ON_DEMAND_RRU),
                                           ("write", writes, target.warm_write_units, NEW_ON_DEMAND_WRU)):
            ready = warm or default
            if units > ready:
                messages.append(
                    f"on-demand table {target.table!r} takes about {ready:,} {kind} units/s at once "
                    f"({'its warm throughput' if warm else 'a table without earlier peaks'}) and throttles above "
                    f"double its previous peak within 30 minutes; the workload needs ~{units:,.0f}: ramp up over "
                    f"several runs or pre-warm the table")
    if local_endpoint and messages:
        messages = [m + " (on real AWS; a local endpoint does not throttle)" for m in messages]
    return messages
