"""EXPLAIN per statement group: SQLite ``EXPLAIN QUERY PLAN``; PostgreSQL ``EXPLAIN (ANALYZE, BUFFERS,
FORMAT JSON)`` inside a transaction that is rolled back (ANALYZE really executes the statement).

PostgreSQL plan nodes are flagged the way pev2 does: share of the total time spent in the node itself
(exclusive time), the planner's row estimate off by a large factor, and rows a filter read only to throw away.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from .analysis import collapse_in_lists

# pev2's thresholds: a node taking most of the time, an estimate off by 10x or more, a filter removing most rows
SLOW_SHARE = 0.5
BAD_ESTIMATE_FACTOR = 10.0
WASTEFUL_FILTER_SHARE = 0.5


@dataclass
class PlanNode:
    depth: int
    node: str  # "Seq Scan", "Hash Join", or SQLite's detail ("SCAN books")
    relation: str | None = None
    exclusive_ms: float | None = None
    time_share: float | None = None
    estimated_rows: float | None = None
    actual_rows: float | None = None
    estimate_factor: float | None = None  # >= 1, how far off the estimate was (either direction)
    rows_removed_by_filter: float | None = None
    removed_share: float | None = None
    shared_hit_blocks: int | None = None
    shared_read_blocks: int | None = None
    flags: list[str] = field(default_factory=list)


@dataclass
class ExplainPlan:
    sql: str  # display form
    dialect: str
    nodes: list[PlanNode]
    total_ms: float | None = None  # PostgreSQL: execution time measured by EXPLAIN ANALYZE
    planning_ms: float | None = None
    error: str | None = None
    raw: Any = None  # the database's own output (rows for SQLite, the JSON document for PostgreSQL)

    @property
    def flags(self) -> list[str]:
        return [f"{node.node}: {flag}" for node in self.nodes for flag in node.flags]


def explain(engine: Engine, sql: str, params) -> ExplainPlan:
    """Explain one captured statement (its DBAPI-level SQL and parameters) on ``engine``."""
    dialect = engine.dialect.name
    display = collapse_in_lists(sql)
    try:
        with engine.connect() as connection:
            transaction = connection.begin()
            try:
                if dialect == "sqlite":
                    rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, _driver_params(params)).all()
                    return ExplainPlan(display, dialect, _sqlite_nodes(rows), raw=[tuple(row) for row in rows])
                if dialect == "postgresql":
                    document = connection.exec_driver_sql(
                        "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, _driver_params(params)
                    ).scalar_one()
                    return _postgres_plan(display, document)
                return ExplainPlan(display, dialect, [], error=f"EXPLAIN is not supported for {dialect} yet")
            finally:
                transaction.rollback()
    except Exception as error:  # noqa: BLE001 - a plan that cannot be explained is reported, not fatal
        return ExplainPlan(display, dialect, [], error=f"{type(error).__name__}: {str(error).splitlines()[0]}")


def _driver_params(params):
    if params is None:
        return ()
    return params


def _sqlite_nodes(rows) -> list[PlanNode]:
    """Rows of (id, parent, notused, detail) into an indented tree with SQLite's warning signs flagged."""
    depth_of = {0: -1}
    nodes = []
    for node_id, parent, _unused, detail in rows:
        depth = depth_of.get(parent, -1) + 1
        depth_of[node_id] = depth
        flags = []
        if detail.startswith("SCAN ") and " INDEX" not in detail:
            flags.append("full table scan")
        if "TEMP B-TREE" in detail:
            flags.append("temporary B-tree (sort or distinct without an index)")
        words = detail.split()
        relation = words[1] if len(words) > 1 and words[0] in {"SCAN", "SEARCH"} else None
        nodes.append(PlanNode(depth=depth, node=detail, relation=relation, flags=flags))
    return nodes


def _postgres_plan(display: str, document) -> ExplainPlan:
    top = document[0]
    total_ms = top.get("Execution Time")
    nodes: list[PlanNode] = []
    # shares are of the plan's own time (the root node's), so they add up to 100% like pev2's bars; the
    # execution time also holds executor start-up, which dominates tiny queries
    _walk_postgres(top["Plan"], 0, nodes, _inclusive_ms(top["Plan"]) or total_ms or 0.0)
    return ExplainPlan(
        display, "postgresql", nodes, total_ms=total_ms, planning_ms=top.get("Planning Time"), raw=document
    )


def _inclusive_ms(plan: dict) -> float:
    return (plan.get("Actual Total Time") or 0.0) * (plan.get("Actual Loops") or 1)


def _walk_postgres(plan: dict, depth: int, nodes: list[PlanNode], total_ms: float) -> None:
    children = plan.get("Plans", [])
    exclusive = max(0.0, _inclusive_ms(plan) - sum(_inclusive_ms(child) for child in children))
    loops = plan.get("Actual Loops") or 1
    actual_rows = (plan.get("Actual Rows") or 0) * loops
    estimated_rows = (plan.get("Plan Rows") or 0) * loops
    factor = max(actual_rows, 1) / max(estimated_rows, 1)
    factor = max(factor, 1 / factor)
    removed = plan.get("Rows Removed by Filter")
    removed_total = removed * loops if removed is not None else None
    removed_share = removed_total / (removed_total + actual_rows) if removed_total else None
    share = exclusive / total_ms if total_ms else None
    flags = []
    if share is not None and share >= SLOW_SHARE and (children or depth > 0):  # a lone node is trivially 100%
        flags.append(f"slow: {share:.0%} of the time")
    if factor >= BAD_ESTIMATE_FACTOR:
        direction = "under" if actual_rows > estimated_rows else "over"
        flags.append(f"bad estimate: {direction}estimated {factor:.0f}x")
    if removed_share is not None and removed_share >= WASTEFUL_FILTER_SHARE:
        flags.append(f"filter removed {removed_share:.0%} of the rows it read")
    nodes.append(
        PlanNode(
            depth=depth,
            node=plan.get("Node Type", "?"),
            relation=plan.get("Relation Name"),
            exclusive_ms=exclusive,
            time_share=share,
            estimated_rows=estimated_rows,
            actual_rows=actual_rows,
            estimate_factor=factor,
            rows_removed_by_filter=removed_total,
            removed_share=removed_share,
            shared_hit_blocks=plan.get("Shared Hit Blocks"),
            shared_read_blocks=plan.get("Shared Read Blocks"),
            flags=flags,
        )
    )
    for child in children:
        _walk_postgres(child, depth + 1, nodes, total_ms)
