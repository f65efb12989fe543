"""Uncached vs cold vs warm on a real workload: same data, right counts, the merge cost reported, and a
verdict that says what the medians say."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from profiler.cache import CacheComparison, RunStats, compare_caching
from profiler.queries import AUTHORS_BOOKS, fingerprint

pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated setex:DeprecationWarning")


def objects_walked(engine) -> int:
    """Objects the workload walks: every author and book, and the publishers and stores of those books."""
    with engine.connect() as connection:
        return connection.execute(text(
            "SELECT (SELECT count(*) FROM authors) + (SELECT count(*) FROM books)"
            " + (SELECT count(DISTINCT publisher_id) FROM books) + (SELECT count(DISTINCT store_id) FROM book_stores)"
        )).scalar_one()


def test_cached_runs_return_the_same_data_and_report_the_merge(engine, cache_factory):
    cache = cache_factory(engine)
    calls = []
    comparison = compare_caching(AUTHORS_BOOKS, engine, cache=cache, strategy="selectin", repeats=2,
                                 progress=lambda mode, round_, rounds: calls.append((mode, round_, rounds)))
    assert calls == [(mode, r, 2) for r in (1, 2) for mode in ("uncached", "cold", "warm")]
    assert comparison.data_matches
    with Session(engine) as session:
        assert {run.fingerprint for run in comparison.runs} == {fingerprint(AUTHORS_BOOKS.run(session)).unordered}

    uncached, cold, warm = (comparison.median(mode) for mode in ("uncached", "cold", "warm"))
    # selectin: authors, then books, then publishers and stores of those books
    assert uncached["statements"] == cold["statements"] == 4 and warm["statements"] == 0
    assert (cold["misses"], cold["stores"], cold["hits"]) == (1, 1, 0)
    assert (warm["hits"], warm["misses"]) == (1, 0)
    assert warm["objects_merged"] == objects_walked(engine)
    assert warm["merge_ms"] > 0 and warm["cache_read_ms"] > 0 and cold["store_ms"] > 0
    assert uncached["compiled_cache_hits"] + uncached["compiled_cache_misses"] == uncached["statements"]

    # whichever way it goes, the verdict names the objects merged and what merging them cost
    assert f"{objects_walked(engine)} objects" in comparison.verdict
    assert f"{warm['merge_ms']:.1f} ms" in comparison.verdict
    assert comparison.backend in comparison.verdict
    json.dumps(comparison.to_dict())
    assert list(comparison.summary_frame().index) == ["uncached", "cold", "warm"]
    figure = comparison.figure()
    for index, mode in enumerate(("uncached", "cold", "warm")):
        stacked = sum(trace.y[index] for trace in figure.data)
        assert stacked == pytest.approx(comparison.median(mode)["wall_ms"])


def test_caching_lazy_loads_too_serves_every_statement_from_the_cache(engine):
    comparison = compare_caching(AUTHORS_BOOKS, engine, strategy="lazy", relationship_loads=True, repeats=1)
    uncached, warm = comparison.median("uncached"), comparison.median("warm")
    assert comparison.data_matches
    assert uncached["statements"] > 10 and warm["statements"] == 0
    assert warm["hits"] == uncached["statements"]


def run(mode: str, wall: float, **figures) -> RunStats:
    defaults = dict(statements=0, database_ms=0.0, fingerprint="same")
    return RunStats(mode=mode, round=1, wall_ms=wall, **{**defaults, **figures})


def comparison_of(*runs: RunStats) -> CacheComparison:
    return CacheComparison("w", "selectin", "in-process memory", "sqlite", list(runs))


def test_the_verdict_says_when_caching_costs_more_than_it_saves():
    slower = comparison_of(
        run("uncached", 20.0, statements=5), run("uncached", 21.0, statements=5),
        run("cold", 30.0, statements=5, store_ms=6.0), run("cold", 30.0, statements=5, store_ms=6.0),
        run("warm", 26.0, hits=1, objects_merged=1240, merge_ms=19.0, cache_read_ms=3.0),
        run("warm", 27.0, hits=1, objects_merged=1240, merge_ms=19.0, cache_read_ms=3.0),
    )
    assert slower.saved_ms == pytest.approx(-6.0)
    assert slower.verdict.startswith(
        "caching cost 6.0 ms more than querying: merging 1,240 objects (19.0 ms, plus 3.0 ms reading the cache) "
        "is slower than the 5 statements it saves."
    )
    assert "A cold run took +9.5 ms compared with no cache (6.0 ms of it storing results)" in slower.verdict


def test_the_verdict_says_what_caching_saved_or_that_it_is_within_noise():
    faster = comparison_of(run("uncached", 100.0, statements=1221), run("uncached", 102.0, statements=1221),
                           run("cold", 110.0), run("warm", 41.0, hits=1221, objects_merged=1220, merge_ms=30.0))
    assert faster.verdict.startswith("caching saved 60.0 ms (59%) per run: 1221 statements fewer, 1,220 objects")
    noisy = comparison_of(run("uncached", 20.0), run("uncached", 30.0), run("cold", 25.0), run("warm", 22.0))
    assert noisy.verdict.startswith("caching made no measurable difference (+3.0 ms, within the ±5.0 ms spread")
    different = comparison_of(run("uncached", 20.0), run("cold", 25.0), run("warm", 10.0, fingerprint="other"))
    assert not different.data_matches
    assert different.verdict.startswith("WARNING: cached runs returned DIFFERENT DATA")


def test_a_joined_eager_result_merges_one_row_per_child(engine):
    comparison = compare_caching(AUTHORS_BOOKS, engine, strategy="joined", repeats=1)
    warm = comparison.median("warm")
    assert comparison.data_matches
    with engine.connect() as connection:
        # authors x books x stores: the joined query's rows
        rows = connection.execute(text("SELECT count(*) FROM books JOIN book_stores ON book_stores.book_id = books.id"))
        assert warm["rows_merged"] == rows.scalar_one()
    assert warm["objects_merged"] == objects_walked(engine) < warm["rows_merged"]
    merged, rows = warm["objects_merged"], int(warm["rows_merged"])
    assert (
        f"{merged} objects merged from {rows} cached rows" in comparison.verdict
        or f"{merged} objects from {rows} cached rows" in comparison.verdict
    )
