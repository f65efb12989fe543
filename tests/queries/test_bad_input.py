"""Bad custom code gets a clear error for its own strategy; the other strategies' results stay."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from profiler.models.bookstore import Book
from profiler.queries import AUTHORS_BOOKS, CustomStrategy, profile

QUICK = dict(repeats=1, explain_plans=False, find_unused=False, measure_overhead=False)


def assert_others_fine(comparison, bad_label):
    for result in comparison.results:
        if result.label != bad_label:
            assert result.ok, result.error
            assert result.warm and result.data_matches is True


def test_custom_code_that_raises(engine):
    def broken(session):
        raise RuntimeError("my query is wrong")

    comparison = profile(AUTHORS_BOOKS, strategies=("lazy", CustomStrategy("mine", query=broken), "selectin"),
                         engine=engine, **QUICK)
    assert comparison["mine"].status == "error"
    assert comparison["mine"].error == "mine: RuntimeError: my query is wrong"
    assert_others_fine(comparison, "mine")


@pytest.mark.slow  # waits out a 3 s timeout
def test_custom_code_that_hangs_in_python_is_cancelled(engine):
    def spins(session):
        session.scalars(select(Book)).all()
        while True:
            pass

    started = time.perf_counter()
    comparison = profile(AUTHORS_BOOKS, strategies=(CustomStrategy("spins", query=spins), "joined"), engine=engine,
                         timeout=3.0, **QUICK)
    assert time.perf_counter() - started < 20
    assert comparison["spins"].status == "timeout", comparison["spins"].error
    assert "did not finish within 3 s" in comparison["spins"].error
    assert_others_fine(comparison, "spins")


@pytest.mark.slow  # waits out a 3 s timeout
def test_custom_code_that_hangs_in_the_database_is_cancelled(engine):
    endless = {
        "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
        "postgresql": "SELECT pg_sleep(60)",
    }[engine.dialect.name]

    def waits(session):
        return session.execute(text(endless)).all()

    started = time.perf_counter()
    comparison = profile(AUTHORS_BOOKS, strategies=("selectin", CustomStrategy("waits", query=waits)), engine=engine,
                         timeout=3.0, **QUICK)
    assert time.perf_counter() - started < 20
    assert comparison["waits"].status == "timeout", comparison["waits"].error
    assert_others_fine(comparison, "waits")


def test_custom_code_that_writes_is_rolled_back_and_reported(engine):
    def raises_prices(session):
        session.execute(update(Book).values(price=Book.price * 2))
        session.commit()  # even a commit must not escape the profiler's transaction
        return AUTHORS_BOOKS.run(session)

    def total_price():
        with Session(engine) as session:
            return session.scalar(select(func.sum(Book.price)))

    before = total_price()
    comparison = profile(AUTHORS_BOOKS, strategies=("lazy", CustomStrategy("writer", query=raises_prices)),
                         engine=engine, **QUICK)
    assert total_price() == pytest.approx(before)
    assert comparison["writer"].status == "error"
    assert "wrote to the database" in comparison["writer"].error and "rolled back" in comparison["writer"].error
    assert_others_fine(comparison, "writer")


def test_custom_loaders_naming_a_missing_relationship(engine):
    typo = CustomStrategy("typo", loaders={"books": "selectin", "books.storez": "selectin"})
    comparison = profile(AUTHORS_BOOKS, strategies=("lazy", typo), engine=engine, **QUICK)
    assert comparison["typo"].status == "error"
    assert "Book has no relationship 'storez'" in comparison["typo"].error
    assert "author, publisher, stores" in comparison["typo"].error  # the real ones, to pick from
    assert_others_fine(comparison, "typo")


def test_unknown_strategy_name_is_refused_up_front(engine):
    with pytest.raises(ValueError, match="unknown strategy 'selectinn'"):
        profile(AUTHORS_BOOKS, strategies=("lazy", "selectinn"), engine=engine)
