"""A workload that commits on PostgreSQL, by any road: PostgreSQL itself refuses the commit, nothing the workload
wrote stays and the user is told what happened in one message; workloads that only read, or write and roll back,
run and are measured as before. Also on a role the hub provisions, which may not create temporary tables."""

from __future__ import annotations

import pytest
from sqlalchemy import event, text

from profiler.models.bookstore import BookstoreScale
from profiler.queries import AUTHORS_BOOKS, profile
from profiler.queries.execution import execute_workload
from profiler.queries.guard import GUARD_TABLE
from tests.dashboards.test_data_models import catalog, sqlite_builtin, workbench_database  # noqa: F401 - fixtures
from tests.reliability.test_bad_input_queries import QUICK, _schema
from tests.support import bookstore_database

REFUSED = "the workload tried to commit, which PostgreSQL refused and rolled back"
ONE_TRANSACTION = "every run is one transaction that the profiler rolls back"


@pytest.fixture(scope="module")
def engine(postgres_url, tmp_path_factory):
    with bookstore_database("postgresql", BookstoreScale(authors=6, publishers=2, stores=3),
                            tmp_path_factory.mktemp("commits"), postgres_url, label="commits") as engine:
        yield engine


def driver(session):
    return session.connection().connection.dbapi_connection


def raw(session, statement: str) -> None:
    """Through the driver's own cursor: no SQLAlchemy event sees it, so only the database can say no."""
    cursor = driver(session).cursor()
    cursor.execute(statement)
    cursor.close()


def swallowing(attempt):
    try:
        attempt()
    except Exception:  # noqa: BLE001 - the workload hides the refusal on purpose
        pass


def prices(engine) -> float:
    with engine.connect() as connection:
        return float(connection.scalar(text("SELECT sum(price) FROM books")))


COMMITS = {
    "the driver's commit()": lambda session: driver(session).commit(),
    "COMMIT on the driver's cursor": lambda session: raw(session, "COMMIT"),
    "END on the driver's cursor": lambda session: raw(session, "END"),
    "PREPARE TRANSACTION": lambda session: raw(session, "PREPARE TRANSACTION 'kept'"),
    "SET CONSTRAINTS ALL IMMEDIATE then commit()": lambda session: (
        raw(session, "SET CONSTRAINTS ALL IMMEDIATE"), driver(session).commit()),
    "savepoints released and rolled back to, then commit()": lambda session: (
        raw(session, "SAVEPOINT a"), raw(session, "UPDATE books SET price = 0"), raw(session, "RELEASE SAVEPOINT a"),
        raw(session, "SAVEPOINT b"), raw(session, "ROLLBACK TO SAVEPOINT b"), driver(session).commit()),
    "a DELETE of every row of the guard table, then commit()": lambda session: (
        raw(session, f"DELETE FROM {GUARD_TABLE}"), driver(session).commit()),
}


@pytest.mark.parametrize("how", list(COMMITS))
def test_postgresql_refuses_a_workloads_commit_and_nothing_it_wrote_stays(engine, how):
    def commits(session):
        session.execute(text("DELETE FROM book_stores"))
        session.execute(text("UPDATE books SET price = price * 2"))
        COMMITS[how](session)
        return []

    before, total = _schema(engine), prices(engine)
    result = profile(commits, engine=engine, **QUICK)["lazy"]
    assert result.status == "error"
    assert REFUSED in result.error and ONE_TRANSACTION in result.error and result.error.startswith("lazy: ")
    assert _schema(engine) == before and prices(engine) == total


def test_a_workload_that_swallows_the_refusal_is_told_and_keeps_nothing(engine):
    def hides_it(session):
        session.execute(text("DELETE FROM book_stores"))
        swallowing(driver(session).commit)
        return AUTHORS_BOOKS.run(session)

    before = _schema(engine)
    result = profile(hides_it, engine=engine, **QUICK)["lazy"]
    assert result.status == "error"
    assert "the workload ended the profiler's transaction (a commit, which PostgreSQL refused" in result.error
    assert ONE_TRANSACTION in result.error
    assert _schema(engine) == before


def test_a_workload_that_commits_again_after_the_refusal_cannot_write(engine):
    def insists(session):
        swallowing(driver(session).commit)
        raw(session, "DELETE FROM book_stores")
        driver(session).commit()
        return []

    before = _schema(engine)
    result = profile(insists, engine=engine, **QUICK)["lazy"]
    assert result.status == "error"
    assert "ended the profiler's transaction, then wrote in a new one, which PostgreSQL refused" in result.error
    assert _schema(engine) == before


def test_a_rollback_through_the_driver_then_a_commit_keeps_nothing(engine):
    def restarts(session):
        driver(session).rollback()
        raw(session, "UPDATE books SET price = 0")
        driver(session).commit()
        return []

    total = prices(engine)
    result = profile(restarts, engine=engine, **QUICK)["lazy"]
    assert result.status == "error" and "PostgreSQL refused (read-only)" in result.error
    assert prices(engine) == total


def test_the_connection_goes_back_to_the_pool_as_it_came(engine):
    profile(lambda session: driver(session).commit(), engine=engine, **QUICK)
    with engine.begin() as connection:
        assert connection.scalar(text("SHOW default_transaction_read_only")) == "off"
        connection.execute(text("UPDATE publishers SET name = name"))  # writing outside a run still works


def test_a_reading_workload_is_measured_without_the_guards_statements(engine):
    seen = []

    def count(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        outcome = execute_workload(engine, AUTHORS_BOOKS.run)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    captured = [record.sql for record in outcome.capture.statements]
    assert len(captured) == len(seen) > 1
    assert not [sql for sql in captured if GUARD_TABLE in sql or "txid" in sql or "SET " in sql.upper()]
    comparison = profile(AUTHORS_BOOKS, engine=engine, **QUICK)
    assert comparison["lazy"].ok and len(comparison["lazy"].statements) == len(captured)


def test_writes_rolled_back_and_savepoints_still_work_in_a_run(engine):
    def plays_with_savepoints(session):
        with session.begin_nested():
            session.execute(text("UPDATE books SET price = price + 1"))
        nested = session.begin_nested()
        session.execute(text("DELETE FROM book_stores"))
        nested.rollback()
        return session.scalar(text("SELECT count(*) FROM book_stores"))

    before, total = _schema(engine), prices(engine)
    outcome = execute_workload(engine, plays_with_savepoints)
    assert outcome.fingerprint is not None and outcome.capture.count >= 3
    assert _schema(engine) == before and prices(engine) == total


@pytest.mark.parametrize("catalog", ["postgresql"], indirect=True)
def test_on_a_hub_users_role_without_temp_tables_the_commit_is_refused_too(catalog):  # noqa: F811 - fixture
    from profiler.catalog.spec import Model

    catalog.create(Model("things", {"id": "integer", "name": "text"}))
    catalog.fill("things", 5)
    with catalog.engine.connect() as connection:
        assert not connection.scalar(text("SELECT has_database_privilege(current_database(), 'TEMP')"))

    def commits(session):
        session.execute(text("DELETE FROM things"))
        driver(session).commit()
        return []

    result = profile(commits, engine=catalog.engine, **QUICK)["lazy"]
    assert result.status == "error" and REFUSED in result.error
    assert [info.rows for info in catalog.list(builtins=False)] == [5]
    assert catalog.names() == ["things"]  # the guard's table is bookkeeping, not one of the user's models
    reading = profile(lambda session: session.execute(text("SELECT * FROM things")).all(), engine=catalog.engine,
                      **QUICK)["lazy"]
    assert reading.ok, reading.error
