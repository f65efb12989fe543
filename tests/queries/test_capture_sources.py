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


def books_directly(authors):
    return [len(author.books) for author in authors]


def books_of(author):
    return len(author.books)


def books_through_a_helper(authors):
    return [books_of(author) for author in authors]


def test_the_same_statement_from_other_lines_and_depths_names_each_line(engine):
    # The capture goes straight to where a statement's user frame was last time; the same lazy load reached
    # from another line, one call deeper, and then from the first line again must each still name its own line.
    with engine.connect() as connection:
        transaction = connection.begin()
        session = Session(bind=connection)
        with QueryCapture(source_lines=True).attach(connection, session) as capture:
            authors = session.scalars(select(Author).order_by(Author.id).limit(6)).all()
            books_directly(authors[:2])
            books_through_a_helper(authors[2:4])
            books_directly(authors[4:])
        session.close()
        transaction.rollback()
    lazy = [record.source for record in capture.statements if record.loader == "lazy"]
    direct = line_of(books_directly, 1) + "<listcomp>"
    helper = line_of(books_of, 1) + "books_of"
    assert lazy == [direct, direct, helper, helper, direct, direct]


def test_a_statement_run_by_the_users_event_hook_names_the_hook(engine):
    # user code between SQLAlchemy's frames: the innermost user frame is the hook, not the line that started it
    from sqlalchemy import event

    hook_line = []

    def audit(context_state):
        if context_state.is_select and not context_state.execution_options.get("audited"):
            hook_line.append(context_state.session.execute(
                text("SELECT 2"), execution_options={"audited": True}).scalar())

    with engine.connect() as connection:
        transaction = connection.begin()
        session = Session(bind=connection)
        event.listen(session, "do_orm_execute", audit)
        with QueryCapture(source_lines=True).attach(connection, session) as capture:
            for _ in range(3):
                session.scalars(select(Author).limit(1)).all()
        session.close()
        transaction.rollback()
    sources = [record.source for record in capture.statements]
    assert hook_line == [2, 2, 2]
    hook = line_of(audit, 2) + "audit"
    assert sources[0::2] == [hook] * 3
    outer = "test_a_statement_run_by_the_users_event_hook_names_the_hook"
    assert all(source.endswith(outer) for source in sources[1::2])
