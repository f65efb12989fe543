"""What a notebook user gets back: measurements that add up, frames, JSON, a figure, live progress."""

from __future__ import annotations

import json

import plotly.graph_objects as go
import pytest

from profiler.models.bookstore import generate_rows
from profiler.queries import AUTHORS_BOOKS, ProgressEvent, collapse_in_lists, fingerprint, profile

from .conftest import SCALE


@pytest.fixture(scope="module")
def comparisons():
    return {}


def full_profile(engine, cache):
    key = engine.dialect.name
    if key not in cache:
        events: list[ProgressEvent] = []
        cache[key] = profile(AUTHORS_BOOKS, engine=engine, repeats=2, source_lines=True, progress=events.append), events
    return cache[key]


def test_time_split_and_rows_add_up(engine, comparisons):
    comparison, _ = full_profile(engine, comparisons)
    rows = generate_rows(SCALE)
    for result in comparison.results:
        assert result.ok, result.error
        for run in [result.cold, *result.warm]:
            assert run.execute_s > 0 and run.fetch_s > 0
            assert run.execute_s + run.fetch_s + run.python_s == pytest.approx(run.wall_s)
        assert len(result.warm) == 2
    # the lazy walk fetches every author, book and store link once, and each publisher once
    publishers = len({book["publisher_id"] for book in rows["books"]})
    assert comparison["lazy"].warm[-1].rows == len(rows["authors"]) + len(rows["books"]) + publishers + len(
        rows["book_stores"]
    )
    # joined: one row per (book, store) pair
    assert comparison["joined"].warm[-1].rows == len(rows["book_stores"])


def test_overhead_is_measured_and_reported_with_each_result(engine, comparisons):
    comparison, _ = full_profile(engine, comparisons)
    frame = comparison.summary_frame()
    for result in comparison.results:
        assert result.overhead.uncaptured_wall_s > 0 and result.overhead.captured_wall_s > 0
        assert frame.loc[result.label, "overhead_ratio"] == pytest.approx(result.overhead.ratio, abs=1e-3)


def test_source_lines_point_at_the_workload(engine, comparisons):
    comparison, _ = full_profile(engine, comparisons)
    lazy_sources = {record.source for record in comparison["lazy"].statements if record.loader == "lazy"}
    assert lazy_sources
    assert all("profiler/queries/workloads.py:" in source for source in lazy_sources)


def test_frames_json_and_figure(engine, comparisons):
    comparison, _ = full_profile(engine, comparisons)
    frame = comparison.summary_frame()
    assert list(frame.index) == ["lazy", "joined", "selectin", "subquery", "auto"]
    assert frame.loc["lazy", "statements"] > frame.loc["selectin", "statements"] >= frame.loc["joined", "statements"]
    assert (frame["data_matches"] == True).all()  # noqa: E712 - a column of booleans
    statements = comparison.statements_frame("lazy")
    assert len(statements) == frame.loc["lazy", "statements"]
    assert set(statements["loader"]) == {"query", "lazy"}
    document = comparison.to_dict(statements=True)
    text = json.dumps(document, allow_nan=False)
    assert json.loads(text)["strategies"][0]["nplusone"][0]["fix"].endswith("selectinload(Book.stores)")
    assert document["strategies"][2]["explains"][0]["nodes"]
    figure = comparison.figure()
    assert isinstance(figure, go.Figure)
    bars = [trace for trace in figure.data if trace.type == "bar"]
    assert {trace.name for trace in bars} >= {"database", "fetch", "Python / ORM", "statements"}
    assert list(bars[-1].y) == list(frame["statements"])


def test_progress_events_count_strategies_and_statements(engine, comparisons):
    comparison, events = full_profile(engine, comparisons)
    done = [event for event in events if event.phase == "done"]
    assert [(event.index, event.total, event.strategy) for event in done] == [
        (k, 5, label) for k, label in enumerate(["lazy", "joined", "selectin", "subquery", "auto"], start=1)
    ]
    lazy_running = [event.statements for event in events if event.strategy == "lazy" and event.phase == "running"]
    assert max(lazy_running) == comparison["lazy"].warm[-1].statements
    assert lazy_running == sorted(lazy_running) or len(set(lazy_running)) > 1


def test_in_lists_are_collapsed_for_display():
    sql = "SELECT x FROM t WHERE t.id IN (?, ?, ?, ?, ?, ?) AND y = ?"
    assert collapse_in_lists(sql) == "SELECT x FROM t WHERE t.id IN (?, ? … 6 values) AND y = ?"
    named = "WHERE a.id IN (%(primary_keys_1)s, %(primary_keys_2)s, %(primary_keys_3)s, %(primary_keys_4)s)"
    assert collapse_in_lists(named) == "WHERE a.id IN (%(primary_keys_1)s, %(primary_keys_2)s … 4 values)"
    assert collapse_in_lists("WHERE a IN (?, ?)") == "WHERE a IN (?, ?)"


def test_fingerprint_tells_order_from_content():
    base = fingerprint([("a", [1, 2]), ("b", [3])])
    reordered = fingerprint([("b", [3]), ("a", [2, 1])])
    changed = fingerprint([("a", [1, 2]), ("b", [4])])
    assert base.same_data(reordered) and not base.same_order(reordered)
    assert not base.same_data(changed)


def test_duplicate_and_similar_statement_groups(engine):
    from sqlalchemy import select

    from profiler.models.bookstore import Author

    def asks_twice(session):
        def by_id(author_id):
            return session.execute(select(Author.name).where(Author.id == author_id)).all()

        return by_id(1) + by_id(1) + by_id(2)

    comparison = profile(asks_twice, strategies=("lazy",), engine=engine, repeats=1, explain_plans=False,
                         find_unused=False, measure_overhead=False)
    result = comparison["lazy"]
    assert [(group.count, group.distinct_params) for group in result.duplicates] == [(2, 1)]
    assert [(group.count, group.distinct_params) for group in result.similar] == [(3, 2)]
    assert result.nplusone == []


def test_a_workload_returning_a_result_is_fetched_inside_the_run(engine):
    from sqlalchemy import select

    from profiler.models.bookstore import Author

    def authors(session):
        return session.scalars(select(Author).order_by(Author.id))

    comparison = profile(authors, strategies=("lazy", "selectin"), engine=engine, repeats=1, explain_plans=False,
                         find_unused=False, measure_overhead=False)
    for result in comparison.results:
        assert result.warm[-1].rows == SCALE.authors
        assert result.fingerprint.items == SCALE.authors
        assert result.data_matches is True
