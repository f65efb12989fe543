"""EXPLAIN parsed on both databases, warning signs flagged, and ANALYZE never changes data."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from profiler.models.bookstore import Book
from profiler.queries import AUTHORS_BOOKS, QueryCapture, explain, profile


def compiled(engine, statement):
    """The SQL and DBAPI parameters of ``statement`` as the capture records them."""
    with engine.connect() as connection, QueryCapture().attach(connection) as capture:
        connection.execute(statement).all()
    return capture.statements[0].sql, capture.statements[0].params


def test_every_statement_group_of_a_profile_is_explained(engine):
    comparison = profile(AUTHORS_BOOKS, strategies=("selectin",), engine=engine, repeats=1, find_unused=False,
                         measure_overhead=False)
    result = comparison["selectin"]
    assert len(result.explains) == len(result.similar) >= 3
    for plan in result.explains:
        assert plan.error is None
        assert plan.nodes
    relations = {node.relation for plan in result.explains for node in plan.nodes}
    assert {"authors", "books"} <= relations
    if engine.dialect.name == "postgresql":
        for plan in result.explains:
            assert plan.total_ms is not None and plan.planning_ms is not None
            assert all(node.exclusive_ms is not None and node.actual_rows is not None for node in plan.nodes)
            assert sum(node.time_share for node in plan.nodes) == pytest.approx(1.0, abs=0.05)


def test_full_scan_with_a_wasteful_filter_is_flagged(engine):
    sql, params = compiled(engine, select(Book.id).where(Book.pages > 880))
    plan = explain(engine, sql, params)
    assert plan.error is None
    scan = next(node for node in plan.nodes if node.relation == "books")
    if engine.dialect.name == "sqlite":
        assert "full table scan" in scan.flags
    else:
        assert scan.node == "Seq Scan"
        assert scan.rows_removed_by_filter > scan.actual_rows
        assert any(flag.startswith("filter removed") for flag in scan.flags)


def test_explain_analyze_runs_in_a_rolled_back_transaction(engine):
    def count():
        with engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(Book)).scalar_one()

    def links():
        with engine.connect() as connection:
            return connection.execute(text("SELECT count(*) FROM book_stores")).scalar_one()

    before = count(), links()
    plan = explain(engine, "DELETE FROM book_stores WHERE store_id > 0", None)
    assert plan.error is None and plan.nodes
    assert (count(), links()) == before and before[1] > 0


def test_explain_of_bad_sql_is_an_error_not_a_crash(engine):
    plan = explain(engine, "SELECT nope FROM nowhere", None)
    assert plan.nodes == [] and "nowhere" in plan.error


def test_postgres_nodes_are_flagged_like_pev2():
    from profiler.queries.explain import _postgres_plan

    # a nested loop whose inner index scan runs 100 times: pev2 multiplies per-loop figures by the loops
    document = [
        {
            "Plan": {
                "Node Type": "Nested Loop", "Actual Total Time": 10.0, "Actual Loops": 1, "Plan Rows": 1,
                "Actual Rows": 100,
                "Plans": [
                    {"Node Type": "Seq Scan", "Relation Name": "authors", "Actual Total Time": 1.0,
                     "Actual Loops": 1, "Plan Rows": 100, "Actual Rows": 100, "Rows Removed by Filter": 900},
                    {"Node Type": "Index Scan", "Relation Name": "books", "Actual Total Time": 0.08,
                     "Actual Loops": 100, "Plan Rows": 1, "Actual Rows": 1},
                ],
            },
            "Planning Time": 0.1,
            "Execution Time": 10.5,
        }
    ]
    plan = _postgres_plan("SELECT ...", document)
    loop, scan, index = plan.nodes
    assert [node.depth for node in plan.nodes] == [0, 1, 1]
    assert index.exclusive_ms == pytest.approx(8.0) and index.time_share == pytest.approx(0.8)
    assert index.flags == ["slow: 80% of the time"]
    assert loop.exclusive_ms == pytest.approx(1.0) and "bad estimate: underestimated 100x" in loop.flags
    assert scan.removed_share == pytest.approx(0.9) and scan.flags == ["filter removed 90% of the rows it read"]
    assert plan.total_ms == 10.5 and plan.planning_ms == 0.1
