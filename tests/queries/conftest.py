"""Bookstore databases for the query profiler tests: SQLite (a file) and PostgreSQL (a schema of its own,
dropped at the end, because other people's tests share the server)."""

from __future__ import annotations


import pytest

from profiler.models.bookstore import BookstoreScale
from tests.support import bookstore_database

# small on purpose: 20 authors x 5 books, 4 publishers, 5 stores, 2 stores per book
SCALE = BookstoreScale(authors=20, publishers=4, stores=5)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def engine(request, tmp_path_factory):
    postgres_url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    folder = tmp_path_factory.mktemp("queries")
    with bookstore_database(request.param, SCALE, folder, postgres_url, label="queries_test") as engine:
        yield engine
