"""Bookstores on SQLite and PostgreSQL (a schema of its own, dropped after) and caches in memory and in
Redis (a key prefix of its own, its keys deleted after), because other people's tests share both servers."""

from __future__ import annotations

import uuid

import pytest

from profiler.cache import QueryCache
from profiler.models.bookstore import BookstoreScale
from tests.support import bookstore_database

# small on purpose: 6 authors x 3 books, 2 publishers, 3 stores, 2 stores per book
SCALE = BookstoreScale(authors=6, books_per_author=3, publishers=2, stores=3)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    """A fresh bookstore per test: the tests write to it."""
    postgres_url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    with bookstore_database(request.param, SCALE, tmp_path, postgres_url, label="cache_test") as engine:
        yield engine


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
