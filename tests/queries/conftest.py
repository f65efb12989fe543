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


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def corpus_engine(request, tmp_path_factory):
    """The corpus's community site (tests/queries/corpus/models.py), on SQLite or in a PostgreSQL schema of
    its own that is dropped at the end."""
    import uuid

    from sqlalchemy import create_engine, text

    from .corpus.models import create_corpus

    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path_factory.mktemp('corpus')}/corpus.db")
        try:
            create_corpus(engine)
            yield engine
        finally:
            engine.dispose()
        return
    postgres_url = request.getfixturevalue("postgres_url")
    schema = f"queries_corpus_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(postgres_url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        create_corpus(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
