"""Source lines: each captured statement names the line of the user's code that caused it."""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from profiler.models.bookstore import Author
from profiler.queries import capture as capture_module
from profiler.queries.capture import QueryCapture


def authors_and_their_books(session):
    authors = session.scalars(select(Author).order_by(Author.id).limit(3)).all()
    return [len(author.books) for author in authors]


def plain_sql(connection):
    return connection.execute(text("SELECT 1")).scalar()


def line_of(function, offset: int) -> str:
    code = function.__code__
    return f"{code.co_filename}:{code.co_firstlineno + offset} in "


def capture_walk(engine, *, source_lines: bool):
    with engine.connect() as connection:
        transaction = connection.begin()
        session = Session(bind=connection)
        with QueryCapture(source_lines=source_lines).attach(connection, session) as capture:
            authors_and_their_books(session)
            plain_sql(connection)
        session.close()
        transaction.rollback()
    return capture.statements


def test_query_lazy_load_and_core_statement_each_name_their_line(engine):
    records = capture_walk(engine, source_lines=True)
    assert [record.loader for record in records] == ["query", "lazy", "lazy", "lazy", "query"]
    assert records[0].source == line_of(authors_and_their_books, 1) + "authors_and_their_books"
    # the lazy loads happen inside the list comprehension, on the line reading author.books
    assert {record.source for record in records[1:4]} == {line_of(authors_and_their_books, 2) + "<listcomp>"}
    assert records[4].source == line_of(plain_sql, 1) + "plain_sql"


def test_without_source_lines_no_statement_has_one(engine):
    records = capture_walk(engine, source_lines=False)
    assert len(records) == 5
    assert all(record.source is None for record in records)


def test_sources_stay_right_when_the_code_cache_starts_over(engine, monkeypatch):
    # a long notebook session makes many code objects; past the limit the cache is emptied and refilled
    monkeypatch.setattr(capture_module, "_user_code", {})
    monkeypatch.setattr(capture_module, "_USER_CODE_CACHE_LIMIT", 2)
    expected = [record.source for record in capture_walk(engine, source_lines=True)]
    assert len(capture_module._user_code) <= 2
    assert [record.source for record in capture_walk(engine, source_lines=True)] == expected
    assert all(expected)
