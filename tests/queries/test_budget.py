"""assert_max_queries: a statement budget usable in pytest and notebooks."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from profiler.models.bookstore import Author
from profiler.queries import TooManyQueries, assert_max_queries

from .conftest import SCALE


def test_within_budget_passes_and_exposes_the_statements(engine):
    with Session(engine) as session, assert_max_queries(2, engine, session) as captured:
        authors = session.scalars(select(Author).options(selectinload(Author.books))).all()
        assert sum(len(author.books) for author in authors) == SCALE.books
    assert len(captured.statements) == 2
    assert [record.loader for record in captured.statements] == ["query", "eager"]


def test_over_budget_names_the_nplusone_and_its_fix(engine):
    with Session(engine) as session:
        with pytest.raises(TooManyQueries) as failure:
            with assert_max_queries(5, session=session):
                for author in session.scalars(select(Author)):
                    author.books  # noqa: B018 - the lazy load is the point
    message = str(failure.value)
    assert message.startswith(f"{1 + SCALE.authors} statements ran, the budget is 5.")
    assert "N+1 on Author.books" in message and "selectinload(Author.books)" in message
    assert "test_budget.py" in message  # the lazy loads point at this file's line


def test_errors_in_the_block_pass_through(engine):
    with pytest.raises(ZeroDivisionError):
        with assert_max_queries(0, engine):
            1 / 0  # noqa: B018 - the error the block must let through
