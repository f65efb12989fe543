"""N+1 detection on every kind of relationship, no false N+1 on eager strategies, the auto plan, and the
data check across strategies — on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from profiler.models.bookstore import generate_rows
from profiler.queries import BUILTIN_WORKLOADS, profile

from .conftest import SCALE

QUICK = dict(repeats=1, explain_plans=False, find_unused=False, measure_overhead=False)
ROWS = generate_rows(SCALE)


def distinct_publishers_per_walk() -> int:
    return len({book["publisher_id"] for book in ROWS["books"]})


# workload -> {relationship: lazy loads expected, from the generated data}
EXPECTED_NPLUSONE = {
    "authors → books → publisher, stores": {
        "Author.books": SCALE.authors,  # one-to-many
        "Book.publisher": distinct_publishers_per_walk(),  # many-to-one (identity map hits cost nothing)
        "Book.stores": SCALE.books,  # many-to-many
    },
    "stores → books → author": {
        "Store.books": SCALE.stores,  # many-to-many, reverse side
        "Book.author": SCALE.authors,  # many-to-one, reverse of Author.books
    },
    "publishers → books": {
        "Publisher.books": SCALE.publishers,  # one-to-many, reverse of Book.publisher
    },
}


@pytest.mark.parametrize("workload_name", list(EXPECTED_NPLUSONE))
def test_lazy_run_finds_nplusone_per_relationship_and_eager_runs_do_not(engine, workload_name):
    comparison = profile(
        BUILTIN_WORKLOADS[workload_name], strategies=("lazy", "joined", "selectin", "subquery"), engine=engine, **QUICK
    )
    assert comparison.errors == {}
    lazy = comparison["lazy"]
    found = {finding.relationship: finding.statements for finding in lazy.nplusone}
    assert found == EXPECTED_NPLUSONE[workload_name]
    for finding in lazy.nplusone:
        _, key = finding.relationship.split(".")
        assert f".{key})" in finding.fix and finding.fix.split("(")[0] in {"selectinload", "joinedload"}
        assert finding.relationship.split(".")[1] in finding.message and "Fix:" in finding.message
    assert lazy.warm[-1].statements == 1 + sum(EXPECTED_NPLUSONE[workload_name].values())
    for eager in ("joined", "selectin", "subquery"):
        result = comparison[eager]
        assert result.nplusone == [], f"{eager} reported a false N+1: {result.nplusone}"
        assert result.warm[-1].statements <= 1 + 2 * len(EXPECTED_NPLUSONE[workload_name])
        assert result.data_matches is True, result.data_note
    assert len({result.fingerprint.unordered for result in comparison.results}) == 1


def test_fix_hint_chains_from_the_queried_root(engine):
    comparison = profile(BUILTIN_WORKLOADS["authors → books → publisher, stores"], strategies=("lazy",), engine=engine,
                         **QUICK)
    fixes = {finding.relationship: finding.fix for finding in comparison["lazy"].nplusone}
    assert fixes == {
        "Author.books": "selectinload(Author.books)",
        "Book.stores": "selectinload(Author.books).selectinload(Book.stores)",
        "Book.publisher": "selectinload(Author.books).joinedload(Book.publisher)",
    }
    paths = {finding.relationship: finding.path for finding in comparison["lazy"].nplusone}
    assert paths["Book.stores"] == "Author.books → Book.stores"


def test_auto_finds_a_small_plan_as_paste_able_code(engine):
    comparison = profile(BUILTIN_WORKLOADS["authors → books → publisher, stores"], strategies=("lazy", "auto"),
                         engine=engine, **QUICK)
    auto = comparison["auto"]
    assert auto.ok, auto.error
    assert auto.nplusone == []
    assert auto.warm[-1].statements <= 4
    assert auto.data_matches is True
    assert "selectinload(Author.books)" in auto.code and "Book.stores" in auto.code and "Book.publisher" in auto.code
    assert auto.plan_rounds == 4  # one round per relationship found, plus the clean one
    # the code really is code: pasted, it runs against the models within the same statement budget
    from sqlalchemy.orm import Session

    from profiler.models.bookstore import Author, Book
    from profiler.queries import assert_max_queries

    namespace = {"Author": Author, "Book": Book}
    exec(auto.code.replace("select(Author)", "statement = select(Author)", 1), namespace)
    with Session(engine) as session, assert_max_queries(auto.warm[-1].statements, engine):
        authors = session.scalars(namespace["statement"]).unique().all()
        stores = sum(len(book.stores) for author in authors for book in author.books)
        assert stores == SCALE.books * SCALE.stores_per_book


def test_custom_strategy_that_filters_rows_is_flagged_as_different_data(engine):
    from profiler.models.bookstore import Author
    from profiler.queries import CustomStrategy
    from profiler.queries.workloads import authors_books_publisher_stores

    def only_some_authors(session):
        return authors_books_publisher_stores(_FilteredSession(session, Author.id <= 10))

    same = CustomStrategy("same loaders", loaders={"books": "selectin", "books.stores": "selectin",
                                                    "books.publisher": "joined"})
    filtered = CustomStrategy("filtered", query=only_some_authors)
    comparison = profile(BUILTIN_WORKLOADS["authors → books → publisher, stores"],
                         strategies=("lazy", same, filtered), engine=engine, **QUICK)
    assert comparison["same loaders"].data_matches is True
    assert comparison["filtered"].data_matches is False
    assert "DIFFERENT DATA" in comparison["filtered"].data_note
    assert comparison.mismatches == ["filtered"]


class _FilteredSession:
    """A session whose scalars() adds a WHERE clause: the 'optimization' that silently drops rows."""

    def __init__(self, session, criterion):
        self._session, self._criterion = session, criterion

    def scalars(self, statement):
        return self._session.scalars(statement.where(self._criterion))


def test_unused_eager_loads_found_by_elimination(engine):
    from profiler.queries import CustomStrategy

    loaders = {"books": "selectin", "books.stores": "selectin", "books.publisher": "joined", "books.author": "joined"}
    comparison = profile(BUILTIN_WORKLOADS["authors → books → publisher, stores"],
                         strategies=(CustomStrategy("too eager", loaders=loaders), "selectin"), engine=engine,
                         repeats=1, explain_plans=False, measure_overhead=False)
    assert comparison["too eager"].unused_eager_loads == ["selectinload(Author.books).joinedload(Book.author)"]
    assert comparison["selectin"].unused_eager_loads == []


def test_custom_loader_options_fix_only_what_they_name(engine):
    from sqlalchemy.orm import selectinload

    from profiler.models.bookstore import Author
    from profiler.queries import CustomStrategy

    mine = CustomStrategy("books only", options=[selectinload(Author.books)])
    comparison = profile(BUILTIN_WORKLOADS["authors → books → publisher, stores"], strategies=("lazy", mine),
                         engine=engine, **QUICK)
    result = comparison["books only"]
    assert result.ok, result.error
    assert {finding.relationship for finding in result.nplusone} == {"Book.stores", "Book.publisher"}
    assert result.warm[-1].statements == comparison["lazy"].warm[-1].statements - SCALE.authors + 1
    assert result.data_matches is True
