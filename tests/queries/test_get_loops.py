"""Rows fetched one primary key at a time (session.get() in a loop): a finding whose fix is the batched query,
verified to run as one statement; the auto strategy plans such workloads and never fails on them."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from profiler.models.bookstore import Author, Book, Store
from profiler.queries import AUTHORS_BOOKS, AutoStrategy, CustomStrategy, assert_max_queries, profile

QUICK = dict(repeats=1, explain_plans=False, find_unused=False, measure_overhead=False)
KEYS = list(range(1, 11))


def titles_by_get(session):
    return [session.get(Book, key).title for key in KEYS]


def test_a_get_loop_is_found_with_the_batched_query_that_replaces_it(engine):
    comparison = profile(titles_by_get, strategies=("lazy",), engine=engine, source_lines=True, **QUICK)
    [finding] = comparison["lazy"].nplusone
    assert (finding.kind, finding.relationship, finding.statements) == ("get", "Book", len(KEYS))
    assert finding.message.startswith(f"Get in a loop on Book by primary key: {len(KEYS)} statements, one Book each")
    assert "select(Book).where(Book.id.in_(keys))" in finding.message
    assert finding.sources and all("test_get_loops.py" in source for source in finding.sources)
    lazy_statements = comparison["lazy"].warm[-1].statements
    assert (finding.fixed, finding.before, finding.after) == (True, lazy_statements, 1)
    assert finding.message.endswith(f"Checked: with the loop's keys it is one statement fetching the same rows "
                                    f"({lazy_statements} → 1 statements for the workload).")
    # the fix as given is code: run with the loop's keys, it loads every book in one statement
    namespace = {"Book": Book, "keys": KEYS}
    with Session(engine) as session, assert_max_queries(1, engine):
        namespace["session"] = session
        exec(finding.fix, namespace)
        assert [namespace["book_by_key"][key].title for key in KEYS] == titles_by_get(session)


def test_asking_once_or_again_for_the_same_key_is_no_loop(engine):
    def one_each(session):
        return session.get(Book, 1).title, session.get(Author, 1).name, session.get(Store, 1).name

    def same_key(session):
        kept = [session.get(Book, 1) for _ in range(5)]  # kept alive: the session's identity map answers
        return [book.title for book in kept]

    for workload in (one_each, same_key):
        comparison = profile(workload, strategies=("lazy",), engine=engine, **QUICK)
        assert comparison["lazy"].nplusone == [], workload.__name__


def walk_from_gets(session):
    return [(session.get(Book, key).author.name, [store.name for store in session.get(Book, key).stores])
            for key in KEYS]


def author_of_each_book(session):
    out = []
    for key in KEYS:
        book = session.get(Book, key)
        out.append((book.title, [title.title for title in session.get(Author, book.author_id).books]))
    return out


def gets_after_a_query(session):
    books = session.scalars(select(Book).order_by(Book.id).limit(10)).all()
    return [[other.title for other in session.get(Author, book.author_id).books] for book in books]


def deep_from_gets(session):
    return [[book.author.books[0].stores[0].name for book in session.get(Store, key).books] for key in (1, 2)]


def two_roots(session):
    books = session.scalars(select(Book).order_by(Book.id)).all()
    authors = session.scalars(select(Author).order_by(Author.id)).all()
    return [book.author.name for book in books] + [[book.title for book in author.books] for author in authors]


@pytest.mark.parametrize("workload", [walk_from_gets, author_of_each_book, gets_after_a_query, deep_from_gets,
                                      two_roots], ids=lambda workload: workload.__name__)
def test_auto_plans_workloads_that_get_rows_one_by_one(engine, workload):
    comparison = profile(workload, strategies=("lazy", "auto"), engine=engine, **QUICK)
    lazy, auto = comparison["lazy"], comparison["auto"]
    assert auto.ok, auto.error
    assert auto.data_matches is True and auto.warnings == []
    assert [finding for finding in auto.nplusone if finding.kind == "lazy"] == []
    # per row fetched by get(), eager loading still costs a statement per collection: only the batched query
    # (the get loop's own finding) takes the count lower, so auto may not cost more but need not cost less
    assert auto.warm[-1].statements <= lazy.warm[-1].statements
    for loop in (finding for finding in lazy.nplusone if finding.kind == "get"):
        assert loop.fix in auto.code  # the batched query comes with the plan: loader options cannot remove it


def test_auto_puts_the_loader_on_the_query_that_walked_it_not_a_walk_back(engine):
    comparison = profile(two_roots, strategies=("auto",), engine=engine, **QUICK)
    assert "select(Author).options(\n    selectinload(Author.books),\n)" in comparison["auto"].code
    assert "Book.author" not in comparison["auto"].code  # every author was in the session already


def test_auto_out_of_rounds_keeps_its_partial_plan_and_says_so(engine):
    comparison = profile(AUTHORS_BOOKS, strategies=("lazy", AutoStrategy("auto", max_rounds=2)), engine=engine,
                         **QUICK)
    auto = comparison["auto"]
    assert auto.ok and auto.data_matches is True
    assert auto.warnings == [
        "auto's plan may be incomplete: no clean round after 2 (AutoStrategy(max_rounds=...) allows more). What it "
        "does not cover still loads lazily; its N+1 findings below say what is left."]
    assert "selectinload(Author.books)" in auto.code
    assert comparison["lazy"].warm[-1].statements > auto.warm[-1].statements > 1 and auto.nplusone


def test_error_messages_are_whole(engine):
    def explains_itself(session):
        raise ValueError("the report needs a date range\nset START and END before running it")

    comparison = profile(AUTHORS_BOOKS, strategies=("lazy", CustomStrategy("mine", query=explains_itself)),
                         engine=engine, **QUICK)
    assert comparison["mine"].error == (
        "mine: ValueError: the report needs a date range\nset START and END before running it")
