"""Workloads that carry loader options of their own: every strategy merges its loaders around them, never
crashing on a second loader for one path nor loading a relationship twice."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from profiler.models.bookstore import Author, Book
from profiler.queries import CustomStrategy, profile

from .conftest import SCALE

QUICK = dict(repeats=1, explain_plans=False, find_unused=False, measure_overhead=False)


def own_selectin(session):
    authors = session.scalars(select(Author).options(selectinload(Author.books)).order_by(Author.id)).all()
    return [[(book.title, book.publisher.name, [store.name for store in book.stores]) for book in author.books]
            for author in authors]


def own_joined_chain(session):
    statement = select(Author).options(joinedload(Author.books).joinedload(Book.publisher)).order_by(Author.id)
    return [[(book.title, book.publisher.name, [store.name for store in book.stores]) for book in author.books]
            for author in session.scalars(statement).unique()]


def own_options_on_get(session):
    return [[book.title for book in session.get(Author, key, options=[selectinload(Author.books)]).books]
            for key in range(1, 6)]


@pytest.mark.parametrize("workload", [own_selectin, own_joined_chain, own_options_on_get],
                         ids=lambda workload: workload.__name__)
def test_every_strategy_runs_on_a_workload_with_its_own_options(engine, workload):
    comparison = profile(workload, engine=engine, **QUICK)
    assert comparison.errors == {}
    lazy = comparison["lazy"].warm[-1].statements
    for result in comparison.results:
        assert result.data_matches is True, (result.label, result.data_note)
        assert result.warm[-1].statements <= lazy
        if result.label != "lazy":
            assert [finding for finding in result.nplusone if finding.kind == "lazy"] == [], result.label


def test_a_relationship_the_workload_loads_itself_is_loaded_once(engine):
    comparison = profile(own_selectin, strategies=("joined", "subquery"), engine=engine, **QUICK)
    for result in comparison.results:
        loads = [record for record in result.statements if record.relationship == "Author.books"]
        assert [record.loader for record in loads] == ["eager"], result.label  # the workload's own select-in
    assert comparison["joined"].warm[-1].statements == 2  # authors with publishers and stores joined, then books
    kept = "# with the workload's own options, kept as they are: selectinload(Author.books)"
    assert kept in comparison["joined"].code


def test_a_fix_below_the_workloads_own_joined_load_extends_it_and_removes_the_nplusone(engine):
    comparison = profile(own_joined_chain, strategies=("lazy",), engine=engine, **QUICK)
    [finding] = comparison["lazy"].nplusone
    assert finding.relationship == "Book.stores" and finding.statements == SCALE.books
    assert finding.path == "Author.books → Book.stores"
    assert finding.fix == "joinedload(Author.books).selectinload(Book.stores)"
    names = {"joinedload": joinedload, "selectinload": selectinload, "Author": Author, "Book": Book}
    fixed = CustomStrategy("fixed", options=[eval(finding.fix, names)])  # the hint is code: it must evaluate
    after = profile(own_joined_chain, strategies=(fixed,), engine=engine, **QUICK)["fixed"]
    assert after.ok, after.error
    assert after.nplusone == [] and after.warm[-1].statements == 2


def test_auto_plans_past_the_workloads_own_loads(engine):
    comparison = profile(own_joined_chain, strategies=("lazy", "auto"), engine=engine, **QUICK)
    auto = comparison["auto"]
    assert auto.ok and auto.warnings == [] and auto.nplusone == []
    assert "defaultload(Author.books).selectinload(Book.stores)" in auto.code
    assert auto.warm[-1].statements == 2
