"""The data check between strategies: data compared by value, nondeterminism claimed only on evidence, and
fingerprinting done once per strategy, outside the workload's time and timeout."""

from __future__ import annotations

import functools
import itertools
import random

from sqlalchemy import select

from profiler.models.bookstore import Author, Book
from profiler.queries import AUTHORS_BOOKS, CustomStrategy, profile
from profiler.queries import execution

QUICK = dict(repeats=1, explain_plans=False, find_unused=False, measure_overhead=False)


class Handle:
    def __init__(self, key):
        self.key = key

    def __repr__(self) -> str:
        return f"<Handle {self.key} at 0x{id(self):x}>"


def test_results_whose_reprs_carry_addresses_and_callables_match_across_strategies(engine):
    def objects_and_callables(session):
        authors = session.scalars(select(Author).order_by(Author.id)).all()  # default ORM repr: an address
        return [(author, Handle(author.id), functools.partial(str, author.name), [book for book in author.books])
                for author in authors]

    comparison = profile(objects_and_callables, strategies=("lazy", "selectin", "joined"), engine=engine, **QUICK)
    assert comparison.errors == {}
    for result in comparison.results:
        assert result.data_matches is True, result.data_note
        assert result.warnings == []


def test_a_workload_returning_random_data_is_called_not_deterministic_not_different(engine):
    def with_noise(session):
        return [(author.name, random.random()) for author in session.scalars(select(Author).order_by(Author.id))]

    comparison = profile(with_noise, strategies=("lazy", "selectin"), engine=engine, **QUICK)
    assert comparison.mismatches == []
    assert comparison["selectin"].data_matches is None
    assert "not deterministic" in comparison["selectin"].data_note
    assert comparison["lazy"].warnings == [
        "the data differed between two runs of this strategy: the workload is not deterministic"]


def test_only_the_strategy_that_changes_its_own_data_is_called_not_deterministic(engine):
    calls = itertools.count()

    def drifting(session):
        return AUTHORS_BOOKS.run(session)[: 5 + next(calls) % 2]

    comparison = profile(AUTHORS_BOOKS, strategies=("lazy", "selectin", CustomStrategy("drifting", query=drifting)),
                         engine=engine, **QUICK)
    assert comparison["selectin"].data_matches is True and comparison["lazy"].warnings == []
    drifted = comparison["drifting"]
    assert drifted.data_matches is None and comparison.mismatches == []
    assert drifted.data_note.startswith("not compared: this strategy returned different data on two runs")
    assert "not deterministic" in drifted.warnings[0]


def test_a_strategy_that_returns_other_data_every_time_is_different_data_not_nondeterminism(engine):
    def fewer_books(session):
        statement = select(Book.title).where(Book.id % 2 == 0).order_by(Book.id)
        return session.scalars(statement).all()

    def all_books(session):
        return session.scalars(select(Book.title).order_by(Book.id)).all()

    comparison = profile(all_books, strategies=("lazy", CustomStrategy("fewer", query=fewer_books)), engine=engine,
                         **QUICK)
    assert comparison.mismatches == ["fewer"]
    assert "DIFFERENT DATA" in comparison["fewer"].data_note and comparison["fewer"].warnings == []


def test_data_is_fingerprinted_once_per_strategy(engine, monkeypatch):
    calls = []

    def counting(data):
        calls.append(len(data))
        return fingerprint(data)

    fingerprint = execution.fingerprint
    monkeypatch.setattr(execution, "fingerprint", counting)
    comparison = profile(AUTHORS_BOOKS, strategies=("lazy", "selectin", "auto"), engine=engine, repeats=3,
                         explain_plans=False, find_unused=True, measure_overhead=True)
    assert comparison.errors == {}
    # once per strategy, not per run (3 strategies x (cold + 3 captured + 3 uncaptured) + auto's rounds), and
    # once per fix checked: a fix must return the same data
    checked = [finding for result in comparison.results for finding in result.nplusone if finding.fixed is not None]
    assert len(checked) == 3 and len(calls) == 3 + len(checked)
    assert all(result.fingerprint_s > 0 for result in comparison.results)


def test_fingerprinting_a_large_result_counts_neither_in_its_time_nor_against_its_timeout(engine):
    rows = [(key, f"row {key}", [(part, f"part {key}.{part}") for part in range(3)]) for key in range(100_000)]

    def large(session):
        session.scalars(select(Author)).all()
        return rows  # ready-made: the workload itself takes milliseconds, fingerprinting it most of a second

    comparison = profile(large, strategies=("lazy", "selectin"), engine=engine, timeout=0.3, **QUICK)
    assert comparison.errors == {}
    for result in comparison.results:
        assert result.fingerprint_s > result.warm[-1].wall_s
        row = result.summary()
        assert row["fingerprint_ms"] == round(result.fingerprint_s * 1000, 3) and row["wall_ms"] < row["fingerprint_ms"]
    assert "fingerprinted in" in comparison.report()
