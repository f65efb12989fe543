"""Bad input to the query profiler and the caching comparison, on SQLite and PostgreSQL: every bad argument is
refused with one message naming it before a single statement runs; a workload that writes, DDL included, leaves
nothing behind; a workload that ends the profiler's transaction is refused; a blocked one is abandoned on time."""

from __future__ import annotations

import math
import time

import pytest
from sqlalchemy import event, func, inspect, select, text

from profiler.cache import QueryCache, compare_caching
from profiler.inputs import InputError
from profiler.models.bookstore import Book, BookstoreScale
from profiler.queries import AUTHORS_BOOKS, CustomStrategy, WorkloadTimeout, profile
from tests.support import bookstore_database

QUICK = dict(strategies=("lazy",), repeats=1, explain_plans=False, find_unused=False, measure_overhead=False)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def engine(request, tmp_path_factory):
    postgres_url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    with bookstore_database(request.param, BookstoreScale(authors=6, publishers=2, stores=3),
                            tmp_path_factory.mktemp("bad_input"), postgres_url, label="bad_input") as engine:
        yield engine


class StatementCount:
    def __init__(self, engine):
        self.count = 0
        self.engine = engine

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def _seen(self, *_args):
        self.count += 1

    def __exit__(self, *_exc):
        event.remove(self.engine, "before_cursor_execute", self._seen)


PROFILE_ARGUMENTS = [
    ({"timeout": -1}, "timeout must be a number of seconds above 0 and at most 600, got -1"),
    ({"timeout": 0}, "timeout must be a number of seconds above 0"),
    ({"timeout": math.nan}, "timeout must be a number of seconds above 0 and at most 600, got nan"),
    ({"timeout": math.inf}, "timeout must be a number of seconds above 0 and at most 600, got inf"),
    ({"timeout": "60"}, "timeout must be a number of seconds above 0 and at most 600, got '60'"),
    ({"timeout": None}, "timeout must be a number of seconds above 0 and at most 600, got None"),
    ({"timeout": 601}, "timeout must be a number of seconds above 0 and at most 600, got 601"),
    ({"timeout": True}, "timeout must be a number of seconds above 0 and at most 600, got True"),
    ({"repeats": 0}, "repeats must be a whole number from 1 to 20, got 0"),
    ({"repeats": -3}, "repeats must be a whole number from 1 to 20, got -3"),
    ({"repeats": 21}, "repeats must be a whole number from 1 to 20, got 21"),
    ({"repeats": 1_000_000}, "repeats must be a whole number from 1 to 20, got 1000000"),
    ({"repeats": 2.5}, "repeats must be a whole number from 1 to 20, got 2.5"),
    ({"repeats": "3"}, "repeats must be a whole number from 1 to 20, got '3'"),
    ({"repeats": True}, "repeats must be a whole number from 1 to 20, got True"),
    ({"max_explains": -1}, "max_explains must be a whole number from 0 to 100, got -1"),
    ({"max_explains": 101}, "max_explains must be a whole number from 0 to 100, got 101"),
    ({"nplusone_threshold": 1}, "nplusone_threshold must be a whole number from 2 to 10,000, got 1"),
    ({"nplusone_threshold": "2"}, "nplusone_threshold must be a whole number from 2 to 10,000, got '2'"),
    ({"explain_plans": "no"}, "explain_plans must be True or False, got 'no'"),
    ({"find_unused": 1}, "find_unused must be True or False, got 1"),
    ({"measure_overhead": None}, "measure_overhead must be True or False, got None"),
    ({"source_lines": "yes"}, "source_lines must be True or False, got 'yes'"),
    ({"verify_fixes": 0}, "verify_fixes must be True or False, got 0"),
    ({"progress": 5}, "progress must be a function or None, got 5"),
    ({"progress": "print"}, "progress must be a function or None, got 'print'"),
    ({"ignore": ["Author.books"]}, "ignore must map a finding's key to the reason it is accepted"),
    ({"ignore": {"1bad key": "why"}}, "ignore: '1bad key' is not a finding's key"),
    ({"ignore": {"Author.books": ""}}, "ignore['Author.books']: give the reason this finding is accepted"),
    ({"ignore": {"Author.books": 5}}, "ignore['Author.books']: give the reason this finding is accepted"),
    ({"strategies": []}, "strategies must be a non-empty list of strategy keys"),
    ({"strategies": ["selectinn"]}, "strategies: unknown strategy 'selectinn'; use one of"),
    ({"strategies": "nope"}, "strategies: unknown strategy 'nope'"),
    ({"strategies": [42]}, "strategies must be a strategy key (auto, custom, joined, lazy, selectin, subquery)"),
    ({"strategies": ["custom"]}, "strategies: a custom strategy needs your options"),
    ({"strategies": None}, "strategies must be a non-empty list of strategy keys"),
    ({"strategies": 7}, "strategies must be a non-empty list of strategy keys"),
    ({"workload": 42}, "workload must be a Workload or a function fn(session), got 42"),
    ({"workload": "AUTHORS_BOOKS"}, "workload must be a Workload or a function fn(session), got 'AUTHORS_BOOKS'"),
    ({"workload": None}, "workload must be a Workload or a function fn(session), got None"),
    ({"engine": "sqlite://"}, "engine must be a SQLAlchemy Engine (create_engine(url)) or None"),
    ({"engine": 5}, "engine must be a SQLAlchemy Engine"),
]


@pytest.mark.parametrize("arguments, message", PROFILE_ARGUMENTS, ids=[repr(a) for a, _ in PROFILE_ARGUMENTS])
def test_profile_refuses_a_bad_argument_before_any_statement(engine, arguments, message):
    call = {"workload": AUTHORS_BOOKS, "engine": engine, **QUICK, **arguments}
    with StatementCount(engine) as seen, pytest.raises(InputError) as refused:
        profile(**call)
    assert message in str(refused.value)
    field = next(iter(arguments))
    assert str(refused.value).startswith(field) and seen.count == 0


CACHE_ARGUMENTS = [
    ({"repeats": 1_000_000}, "repeats must be a whole number from 1 to 50, got 1000000"),
    ({"repeats": 51}, "repeats must be a whole number from 1 to 50, got 51"),
    ({"repeats": 0}, "repeats must be a whole number from 1 to 50, got 0"),
    ({"timeout": -5}, "timeout must be a number of seconds above 0 and at most 600, got -5"),
    ({"timeout": 10_000}, "timeout must be a number of seconds above 0 and at most 600, got 10000"),
    ({"relationship_loads": "no"}, "relationship_loads must be True or False, got 'no'"),
    ({"strategy": "fastest"}, "strategy: unknown strategy 'fastest'"),
    ({"strategy": 3}, "strategy must be a strategy key"),
    ({"progress": 1}, "progress must be a function or None, got 1"),
    ({"workload": 3.5}, "workload must be a Workload or a function fn(session), got 3.5"),
    ({"cache": "memory://"}, "cache must be a QueryCache(engine, url) or None for a memory cache, got 'memory://'"),
]


@pytest.mark.parametrize("arguments, message", CACHE_ARGUMENTS, ids=[repr(a) for a, _ in CACHE_ARGUMENTS])
def test_compare_caching_refuses_a_bad_argument_before_any_statement(engine, arguments, message):
    call = {"workload": AUTHORS_BOOKS, "engine": engine, "repeats": 1, **arguments}
    with StatementCount(engine) as seen, pytest.raises(InputError) as refused:
        compare_caching(**call)
    assert message in str(refused.value) and seen.count == 0


CUSTOM_STRATEGIES = [
    ({"label": ""}, "label must be a name of 1 to 80 characters, got ''"),
    ({"label": 5}, "label must be a name of 1 to 80 characters, got 5"),
    ({"loaders": "books"}, "loaders must be a dict of relationship path -> loader kind"),
    ({"loaders": {5: "joined"}}, "loaders must be a dict of relationship path -> loader kind"),
    ({"loaders": {"books": "eager"}}, "loaders['books'] must be one of default, immediate, joined, lazy, raise"),
    ({"loaders": {"books": None}}, "loaders['books'] must be one of default"),
    ({"query": 5}, "query must be a function query(session) run instead of the workload, or None, got 5"),
    ({"options": 5}, "options must be a list of loader options"),
    ({"options": "selectinload"}, "options must be a list of loader options"),
    ({"root": "Author", "loaders": {"books": "joined"}}, "root must be a mapped class"),
    ({}, "a custom strategy needs loaders=, options= or query="),
]


@pytest.mark.parametrize("arguments, message", CUSTOM_STRATEGIES, ids=[repr(a) for a, _ in CUSTOM_STRATEGIES])
def test_a_custom_strategy_with_bad_parts_is_refused_when_made(arguments, message):
    with pytest.raises(InputError) as refused:
        CustomStrategy(**{"label": "mine", **arguments})
    assert message in str(refused.value)


def test_a_custom_loader_on_a_relationship_that_does_not_exist_names_the_real_ones(engine):
    comparison = profile(AUTHORS_BOOKS, engine=engine, **{
        **QUICK, "strategies": ("lazy", CustomStrategy("mine", loaders={"bookz": "selectin"}))})
    assert comparison["mine"].status == "error"
    assert "Author has no relationship 'bookz'" in comparison["mine"].error and "are: books" in comparison["mine"].error
    assert comparison["lazy"].ok


CACHE_SETTINGS = [
    ({"expiration_time": 0}, "expiration_time must be a whole number from 1 to 2,592,000, got 0"),
    ({"expiration_time": -60}, "expiration_time must be a whole number from 1 to 2,592,000, got -60"),
    ({"expiration_time": 1.5}, "expiration_time must be a whole number from 1 to 2,592,000, got 1.5"),
    ({"expiration_time": 10**9}, "expiration_time must be a whole number from 1 to 2,592,000"),
    ({"url": 6379}, "url must be a cache URL string (redis://host:port/db, memory://) or None, got 6379"),
    ({"url": "memcached://127.0.0.1"}, "cache URL 'memcached://127.0.0.1' is not supported: use redis://"),
    ({"prefix": ""}, "prefix must be a string of 1 to 100 characters, got ''"),
    ({"namespace": 7}, "namespace must be a string of 1 to 200 characters, or None for the engine's own, got 7"),
]


@pytest.mark.parametrize("arguments, message", CACHE_SETTINGS, ids=[repr(a) for a, _ in CACHE_SETTINGS])
def test_a_cache_with_bad_settings_is_refused(engine, arguments, message):
    with pytest.raises(InputError) as refused:
        QueryCache(engine, **{"url": "memory://", **arguments})
    assert message in str(refused.value)


def test_a_cache_on_something_that_is_not_an_engine_is_refused():
    with pytest.raises(InputError, match="engine must be a SQLAlchemy Engine .*, got 'sqlite://'"):
        QueryCache("sqlite://")


def _schema(engine) -> tuple:
    inspector = inspect(engine)
    tables = sorted(inspector.get_table_names())
    with engine.connect() as connection:
        books = connection.scalar(select(func.count()).select_from(Book))
        links = connection.scalar(text("SELECT count(*) FROM book_stores"))
    return (tables, sorted(index["name"] for index in inspector.get_indexes("books")),
            sorted(column["name"] for column in inspector.get_columns("authors")), books, links)


WRITING_WORKLOADS = [
    ("CREATE INDEX ix_sneaky ON books (title)", "wrote to the database (1 CREATE statement(s)"),
    ("ALTER TABLE authors ADD COLUMN nickname TEXT", "wrote to the database (1 ALTER statement(s)"),
    ("CREATE TABLE sneaky (x INTEGER)", "wrote to the database (1 CREATE statement(s)"),
    ("DELETE FROM book_stores", "wrote to the database (1 DELETE statement(s)"),
    ("UPDATE books SET price = price * 2", "wrote to the database (1 UPDATE statement(s)"),
    ("INSERT INTO publishers (id, name, country) VALUES (999, 'x', 'y')",
     "wrote to the database (1 INSERT statement(s)"),
]


@pytest.mark.parametrize("sql, message", WRITING_WORKLOADS, ids=[sql.split("(")[0] for sql, _ in WRITING_WORKLOADS])
def test_a_workload_that_writes_or_runs_ddl_is_reported_and_leaves_nothing(engine, sql, message):
    def writes(session):
        session.execute(text(sql))
        return AUTHORS_BOOKS.run(session)

    before = _schema(engine)
    result = profile(writes, engine=engine, **QUICK)["lazy"]
    assert result.status == "error" and message in result.error
    assert "its changes were rolled back" in result.error
    assert _schema(engine) == before


def test_dropping_a_table_in_a_workload_leaves_it_there(engine):
    def drops(session):
        session.execute(text("DROP TABLE book_stores"))
        return []

    before = _schema(engine)
    result = profile(drops, engine=engine, **QUICK)["lazy"]
    assert result.status == "error" and "1 DROP statement(s)" in result.error
    assert _schema(engine) == before


ENDING_THE_TRANSACTION = [
    ("COMMIT", "tried to run COMMIT"),
    ("SELECT 1; COMMIT", "tried to run COMMIT"),
    ("/* sneaky */ commit", "tried to run COMMIT"),
    ("END", "tried to run END"),
    ("BEGIN", "tried to run BEGIN"),
    ("ROLLBACK", "tried to run ROLLBACK"),
]


@pytest.mark.parametrize("statement, message", ENDING_THE_TRANSACTION, ids=[s for s, _ in ENDING_THE_TRANSACTION])
def test_a_workload_that_ends_the_transaction_is_refused_and_its_writes_undone(engine, statement, message):
    def escapes(session):
        session.execute(text("DELETE FROM book_stores"))
        session.connection().exec_driver_sql(statement)
        return []

    before = _schema(engine)
    result = profile(escapes, engine=engine, **QUICK)["lazy"]
    assert result.status == "error" and message in result.error
    assert "every run is one transaction that the profiler rolls back" in result.error
    assert _schema(engine) == before


def test_a_commit_through_the_connection_is_refused_and_undone(engine):
    def commits(session):
        session.execute(text("DELETE FROM book_stores"))
        session.connection().commit()
        return []

    before = _schema(engine)
    result = profile(commits, engine=engine, **QUICK)["lazy"]
    assert result.status == "error" and "the workload tried to commit" in result.error
    assert _schema(engine) == before


SQLITE_ESCAPES = [
    ("ATTACH DATABASE ':memory:' AS elsewhere", "tried to attach another database file"),
    ("PRAGMA user_version = 7", "tried to change a PRAGMA user_version"),
    ("PRAGMA foreign_keys = OFF", "tried to change a PRAGMA foreign_keys"),
    ("PRAGMA journal_mode = OFF", "tried to change a PRAGMA journal_mode"),
]


@pytest.mark.parametrize("statement, message", SQLITE_ESCAPES, ids=[s for s, _ in SQLITE_ESCAPES])
def test_on_sqlite_what_outlives_the_transaction_is_refused(engine, statement, message):
    if engine.dialect.name != "sqlite":
        pytest.skip("ATTACH and PRAGMA are SQLite's")

    def escapes(session):
        session.execute(text(statement))
        return []

    result = profile(escapes, engine=engine, **QUICK)["lazy"]
    assert result.status == "error" and message in result.error
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA user_version").scalar() == 0
        assert "elsewhere" not in [row[1] for row in connection.exec_driver_sql("PRAGMA database_list")]
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 0  # SQLite's default, as it was


def test_a_reading_pragma_still_works_on_sqlite(engine):
    if engine.dialect.name != "sqlite":
        pytest.skip("PRAGMA is SQLite's")
    result = profile(lambda s: s.execute(text("PRAGMA table_info(books)")).all(), engine=engine, **QUICK)["lazy"]
    assert result.ok, result.error


@pytest.mark.slow  # waits out a 1 s timeout and the 2 s grace
def test_a_workload_blocked_in_a_c_call_is_abandoned_on_time_and_its_lock_released(engine):
    def blocked(session):
        session.execute(text("DELETE FROM book_stores"))  # holds a write lock
        time.sleep(8)  # neither the statement cancel nor the async exception reach a sleeping C call
        return []

    before = _schema(engine)
    started = time.perf_counter()
    result = profile(blocked, engine=engine, timeout=1.0, **QUICK)["lazy"]
    assert time.perf_counter() - started < 5, "abandoned one timeout plus the grace after it began"
    assert result.status == "timeout" and "did not finish within 1 s" in result.error
    # its transaction was ended, so writing is possible at once and nothing it did stayed
    assert _schema(engine) == before
    with engine.begin() as connection:
        connection.execute(text("UPDATE publishers SET name = name"))


@pytest.mark.slow
def test_compare_caching_honours_its_timeout_on_a_blocked_workload(engine):
    started = time.perf_counter()
    with pytest.raises(WorkloadTimeout, match=r"the workload did not finish within 1 s; it was cancelled and its "
                                              r"transaction rolled back"):
        compare_caching(lambda session: time.sleep(8), engine, repeats=1, timeout=1.0)
    assert time.perf_counter() - started < 5
