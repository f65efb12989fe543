"""What the cache keeps: ORM objects merged with merge_frozen_result, ORM objects merged once each, or the
workload's plain rows; compared side by side, each returning the uncached data, each noticing writes, and the
database put at a distance by the latency proxy."""

from __future__ import annotations

import json
import socket

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from profiler.cache import (
    CACHE_STRATEGIES,
    QueryCache,
    compare_caching,
    database_at,
    demonstrate_invalidation,
    measure_round_trip_ms,
)
from profiler.inputs import InputError
from profiler.models.bookstore import Author, Publisher
from profiler.queries import AUTHORS_BOOKS
from profiler.queries.workloads import authors_books_publisher_stores

from .test_compare import objects_walked

pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated setex:DeprecationWarning")
ALL = tuple(CACHE_STRATEGIES)


def test_the_three_strategies_side_by_side_return_the_same_data(engine, cache_factory):
    cache = cache_factory(engine)
    calls = []
    comparison = compare_caching(AUTHORS_BOOKS, engine, cache=cache, strategy="selectin", repeats=2,
                                 cache_strategies=ALL, progress=lambda *args: calls.append(args))
    # each round: one uncached run, then a cold and a warm run of each strategy
    assert calls == [(mode, r, 2) for r in (1, 2) for mode in ("uncached", *("cold", "warm") * 3)]
    assert comparison.data_matches and comparison.cache_strategies == ALL
    assert [run.cache_strategy for run in comparison.runs[:7]] == ["", "orm", "orm", "merge", "merge", "rows", "rows"]
    for name in ALL:
        warm = comparison.median("warm", name)
        assert warm["statements"] == 0 and (warm["hits"], warm["misses"]) == (1, 0)
    assert comparison.median("warm", "orm")["objects_merged"] == objects_walked(engine)
    assert comparison.median("warm", "merge")["objects_merged"] == objects_walked(engine)
    assert comparison.median("warm", "rows")["objects_merged"] == 0

    rows = {row["cache_strategy"]: row for row in comparison.strategy_rows()}
    assert list(rows) == list(ALL) and all(row["same_data"] for row in rows.values())
    assert rows["rows"]["speedup"] == pytest.approx(comparison.speedup("rows"))
    assert rows["rows"]["stale_after"] == CACHE_STRATEGIES["rows"].stale_after
    assert comparison.best_cache_strategy in ALL
    # one strategy's own comparison: the shared uncached runs and its cold and warm runs
    only = comparison.only("merge")
    assert only.cache_strategies == ("merge",) and len(only.runs) == 6
    assert only.median("warm") == comparison.median("warm", "merge")
    # rows merge nothing, and the verdict says what a hit did instead (faster or not, on a tiny bookstore)
    rows_verdict = comparison.only("rows").verdict
    assert "no ORM object built" in rows_verdict or "reading the cached rows" in rows_verdict
    assert "objects merged" not in rows_verdict
    for name in ALL:
        assert f"{CACHE_STRATEGIES[name].title}: " in comparison.verdict
    assert list(comparison.summary_frame().index) == [
        "uncached", "cold · orm", "warm · orm", "cold · merge", "warm · merge", "cold · rows", "warm · rows"]
    assert len(comparison.figure().data[0].x) == 7
    document = json.loads(json.dumps(comparison.to_dict()))
    assert set(document["by_cache_strategy"]) == set(ALL) and document["round_trip_ms"] > 0


def test_merging_once_merges_each_distinct_object_once(engine, monkeypatch):
    """A joined load repeats each author once per book and store; session.merge runs once per author."""
    merged = []
    original = Session.merge

    def counting(self, instance, *args, **kwargs):
        merged.append(type(instance).__name__)
        return original(self, instance, *args, **kwargs)

    monkeypatch.setattr(Session, "merge", counting)
    comparison = compare_caching(AUTHORS_BOOKS, engine, strategy="joined", repeats=1, cache_strategies="merge")
    with engine.connect() as connection:
        authors = connection.execute(text("SELECT count(*) FROM authors")).scalar_one()
    warm = comparison.median("warm")
    assert comparison.data_matches and warm["rows_merged"] > authors
    assert merged == ["Author"] * authors
    assert warm["objects_merged"] == objects_walked(engine)


def test_rows_keep_plain_results_only(engine):
    def orm_objects(session):
        return session.scalars(select(Author)).all()

    with pytest.raises(InputError) as refused:
        compare_caching(orm_objects, engine, repeats=1, cache_strategies="rows")
    assert refused.value.field == "cache_strategies"
    assert "returned ORM objects (Author)" in str(refused.value)


@pytest.mark.parametrize("value", ["bogus", [], ("orm", "orm"), ("orm", 3), None])
def test_unknown_strategies_are_refused_before_anything_runs(value, monkeypatch):
    import profiler.cache.compare as compare

    monkeypatch.setattr(compare, "execute_workload", lambda *a, **k: pytest.fail("nothing may run"))
    with pytest.raises(InputError) as refused:
        compare_caching(AUTHORS_BOOKS, None, cache_strategies=value)
    assert refused.value.field == "cache_strategies"


def test_cached_rows_go_stale_after_a_write_to_any_table_they_read(engine, cache_factory):
    cache = cache_factory(engine)

    def outcome(function=authors_books_publisher_stores, key="walk") -> str:
        with Session(engine) as session, cache.counting() as counters:
            cache.cached_result(session, function, key)
        return "hit" if counters.hits else "stale" if counters.stale else "miss"

    def publishers(session):
        return [name for (name,) in session.execute(select(Publisher.name).order_by(Publisher.id))]

    assert [outcome(), outcome(), outcome(publishers, "p")] == ["miss", "hit", "miss"]
    with engine.begin() as connection:  # committed: the row really changes
        connection.execute(update(Author).where(Author.id == 1).values(name="Renamed"))
    assert outcome() == "stale" and outcome(publishers, "p") == "hit"  # publishers did not read authors
    with Session(engine) as session:
        assert cache.cached_result(session, authors_books_publisher_stores, "walk")[0][0] == "Renamed"

    # a transaction that wrote a table the result reads does not store it: it could be rolled back
    with Session(engine) as session:
        session.execute(update(Publisher).where(Publisher.id == 1).values(name="Mine"))
        with cache.counting() as counters:
            cache.cached_result(session, publishers, "p")
        assert (counters.misses, counters.stores, counters.unstored) == (1, 0, 1)
        session.rollback()


def test_every_strategy_notices_a_write_and_rows_go_stale_as_a_whole(engine, cache_factory):
    cache = cache_factory(engine)
    demo = demonstrate_invalidation(engine, cache, "publishers", cache_strategies=ALL)
    for name in ALL:
        assert demo.stale_for(name) == ["publishers"]
    assert demo.stale == ["publishers"] and demo.outcomes == demo.by_strategy["orm"]
    ran, total = demo.walk_after_write["orm"]
    with engine.connect() as connection:
        publishers = connection.execute(text("SELECT count(DISTINCT publisher_id) FROM books")).scalar_one()
    assert ran == publishers < total  # only the lazy loads of publishers ran again
    assert demo.walk_after_write["merge"] == (ran, total)
    assert demo.walk_after_write["rows"] == (total, total)
    rows = {row["cache_strategy"]: row for row in demo.strategy_rows()}
    assert rows["rows"]["walk"] == f"stale as a whole: all {total:,} statements ran again"
    assert rows["orm"]["walk"] == f"{ran:,} of {total:,} statements ran again (those that read publishers)"
    json.dumps(demo.to_dict())


def test_a_database_at_a_distance_pays_the_round_trip(postgres_url):
    with database_at(postgres_url, 0) as near:
        assert near.url.port in (None, 5432)  # no proxy at 0 ms
        assert measure_round_trip_ms(near) > 0
    with database_at(postgres_url, 1.0) as far:
        port = far.url.port
        assert far.url.host == "127.0.0.1" and port not in (None, 5432)
        assert measure_round_trip_ms(far) >= 1.0  # every SELECT 1 waits for the whole round trip
    with pytest.raises(ConnectionRefusedError):  # leaving the block stopped the proxy
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


@pytest.mark.parametrize("url, distance, message", [
    ("sqlite://", 1.0, "a SQLite database lives in this process"),
    ("postgresql+psycopg://127.0.0.1/test", 3000, "a round trip in milliseconds from 0 to 50"),
    ("postgresql+psycopg://127.0.0.1/test", "fast", "a round trip in milliseconds from 0 to 50"),
    ("postgresql+psycopg:///test", 1.0, "reached through a Unix socket, not the network"),
])
def test_a_distance_that_cannot_be_applied_is_refused(url, distance, message):
    with pytest.raises(InputError) as refused:
        with database_at(url, distance):
            pytest.fail("no engine may be made")
    assert message in str(refused.value) and refused.value.field == "round_trip_ms"


def test_a_cache_on_a_distant_database_compares_all_three(postgres_url, tmp_path):
    from tests.support import bookstore_database

    from .conftest import SCALE

    with bookstore_database("postgresql", SCALE, tmp_path, postgres_url, label="cache_distance") as local:
        with local.connect() as connection:
            schema = connection.execute(text("SELECT current_schema()")).scalar_one()
        with database_at(postgres_url, 0.5, schema=schema) as far:
            cache = QueryCache(far, "memory://")
            try:
                comparison = compare_caching(AUTHORS_BOOKS, far, cache=cache, repeats=1, cache_strategies=ALL)
            finally:
                cache.close()
    assert comparison.data_matches and comparison.round_trip_ms >= 0.5
    assert comparison.median("warm", "rows")["statements"] == 0
