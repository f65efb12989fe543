"""Bookstore databases for the query profiler tests: SQLite (a file) and PostgreSQL (a schema of its own,
dropped at the end, because other people's tests share the server)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text

from profiler.models.bookstore import BookstoreScale, create_bookstore

# small on purpose: 20 authors x 5 books, 4 publishers, 5 stores, 2 stores per book
SCALE = BookstoreScale(authors=20, publishers=4, stores=5)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def engine(request, tmp_path_factory):
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path_factory.mktemp('queries')}/bookstore.db")
        create_bookstore(engine, SCALE)
        yield engine
        engine.dispose()
        return
    url = request.getfixturevalue("postgres_url")
    schema = f"queries_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        create_bookstore(engine, SCALE)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
