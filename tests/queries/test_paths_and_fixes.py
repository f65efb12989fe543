"""Findings keyed by the whole path from the root entity the workload queried, and every fix checked by
running the workload with it applied."""

from __future__ import annotations

from sqlalchemy import select

from profiler.models.bookstore import Author, Publisher
from profiler.queries import profile

from .conftest import SCALE

QUICK = dict(repeats=1, explain_plans=False, find_unused=False, measure_overhead=False)


def stores_from_two_roots(session):
    """Books' stores walked from the first five authors, then from every publisher: the publishers' books of
    those authors are already in the session, the others are loaded on the publishers' path."""
    authors = session.scalars(select(Author).where(Author.id <= 5).order_by(Author.id)).all()
    by_author = [[[store.name for store in book.stores] for book in author.books] for author in authors]
    publishers = session.scalars(select(Publisher).order_by(Publisher.id)).all()
    by_publisher = [[[store.name for store in book.stores] for book in publisher.books] for publisher in publishers]
    return by_author, by_publisher


def test_one_relationship_walked_from_two_roots_is_two_findings_each_fixed_on_its_own_query(engine):
    comparison = profile(stores_from_two_roots, strategies=("lazy",), engine=engine, **QUICK)
    findings = {finding.key: finding for finding in comparison["lazy"].nplusone}
    first_books = 5 * SCALE.books_per_author
    assert findings["Author.books.stores"].statements == first_books
    assert findings["Publisher.books.stores"].statements == SCALE.books - first_books
    assert findings["Author.books.stores"].fix == "selectinload(Author.books).selectinload(Book.stores)"
    assert findings["Publisher.books.stores"].fix == "selectinload(Publisher.books).selectinload(Book.stores)"
    assert findings["Publisher.books.stores"].path == "Publisher.books → Book.stores"
    lazy_statements = comparison["lazy"].warm[-1].statements
    for finding in findings.values():
        assert finding.fixed is True, finding.message
        assert finding.before == lazy_statements and finding.after < lazy_statements
    stores = findings["Publisher.books.stores"]
    # the publishers' books and their stores in two statements instead of one per book and one per publisher
    assert stores.after == lazy_statements - (SCALE.books - first_books) - SCALE.publishers + 2
    assert stores.message.endswith(f"Checked: with it the workload ran {lazy_statements} → {stores.after} "
                                   "statements, the same data.")


def test_auto_loads_the_relationship_on_both_roots(engine):
    comparison = profile(stores_from_two_roots, strategies=("lazy", "auto"), engine=engine, **QUICK)
    auto = comparison["auto"]
    assert auto.ok and auto.nplusone == [] and auto.data_matches is True
    assert "selectinload(Author.books).selectinload(Book.stores)" in auto.code
    assert "selectinload(Publisher.books).selectinload(Book.stores)" in auto.code


def test_a_fix_that_cannot_remove_the_nplusone_says_so(engine):
    def reloads_books(session):
        titles = []
        for author in session.scalars(select(Author).order_by(Author.id)):
            session.expire(author, ["books"])  # e.g. after a write elsewhere: what was loaded is thrown away
            titles.append([book.title for book in author.books])
        return titles

    [finding] = profile(reloads_books, strategies=("lazy",), engine=engine, **QUICK)["lazy"].nplusone
    assert finding.key == "Author.books" and finding.fixed is False
    assert f"and still {SCALE.authors} lazy loads here" in finding.message
    assert "Checked, and it is not enough" in finding.message



def test_auto_gives_a_walk_back_to_an_object_already_loaded_no_loader(engine):
    def both_ways(session):
        authors = session.scalars(select(Author).order_by(Author.id)).all()
        return [[(book.title, book.author.name, len(book.author.books)) for book in author.books] for author in authors]

    comparison = profile(both_ways, strategies=("lazy", "auto"), engine=engine, **QUICK)
    assert [finding.key for finding in comparison["lazy"].nplusone] == ["Author.books"]  # book.author costs nothing
    auto = comparison["auto"]
    assert auto.code.endswith("select(Author).options(\n    selectinload(Author.books),\n)")
    assert auto.warm[-1].statements == 2 and auto.data_matches is True
