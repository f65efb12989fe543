"""Bookstores on SQLite and PostgreSQL (a schema of its own, dropped after) and caches in memory and in
Redis (a key prefix of its own, its keys deleted after), because other people's tests share both servers."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text

from profiler.cache import QueryCache
from profiler.models.bookstore import BookstoreScale, create_bookstore

# small on purpose: 6 authors x 3 books, 2 publishers, 3 stores, 2 stores per book
SCALE = BookstoreScale(authors=6, books_per_author=3, publishers=2, stores=3)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    """A fresh bookstore per test: the tests write to it."""
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path}/bookstore.db")
        create_bookstore(engine, SCALE)
        yield engine
        engine.dispose()
        return
    url = request.getfixturevalue("postgres_url")
    schema = f"cache_test_{uuid.uuid4().hex[:12]}"
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


@pytest.fixture
def redis_prefix(redis_url):
    """A key prefix unique to this test; every key under it is deleted afterwards."""
    import redis

    prefix = f"workbench-test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(params=["memory", "redis"])
def cache_factory(request):
    """``make(engine)`` -> a QueryCache on the parametrized backend, closed after the test."""
    made = []
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        prefix = request.getfixturevalue("redis_prefix")
    else:
        url, prefix = "memory://", "workbench-test:"

    def make(engine) -> QueryCache:
        cache = QueryCache(engine, url, prefix=prefix)
        made.append(cache)
        return cache

    make.backend = request.param
    yield make
    for cache in made:
        cache.close()
