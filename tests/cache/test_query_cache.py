"""The query cache on SQLite and PostgreSQL, in memory and in a real Redis: hits, misses, invalidation by
the tables a write touches, uncommitted data never shared, clear errors for bad configuration."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.orm import Session, selectinload

from profiler.cache import CACHE_OPTION, CacheConfigurationError, CacheUnavailable, QueryCache
from profiler.models.bookstore import Author, Book, Publisher, create_bookstore
from profiler.playground import CACHE_URL
from tests.cache.conftest import SCALE
from testing.support import REPO_ROOT, free_port

# dogpile.cache 1.5's Redis backend calls setex, which redis-py 8 marks deprecated
pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated setex:DeprecationWarning")


def cached(statement):
    return statement.execution_options(**{CACHE_OPTION: True})


QUERIES = {
    "authors": lambda: cached(select(Author).order_by(Author.id)),
    "authors+books": lambda: cached(select(Author).options(selectinload(Author.books)).order_by(Author.id)),
    "books": lambda: cached(select(Book).order_by(Book.id)),
    "publishers": lambda: cached(select(Publisher).order_by(Publisher.id)),
}


def run_all(cache: QueryCache, engine) -> dict[str, tuple[int, int]]:
    """Run every query in a fresh session: {name: (hits, misses)} and the rows each returned."""
    outcome = {}
    with Session(engine) as session:
        cache.attach(session)
        for name, query in QUERIES.items():
            with cache.counting() as counters:
                rows = session.scalars(query()).all()
                if name == "authors+books":
                    [book.title for author in rows for book in author.books]
            outcome[name] = (counters.hits, counters.misses)
    return outcome


def test_hits_misses_and_a_write_invalidates_exactly_the_queries_on_its_table(engine, cache_factory):
    cache = cache_factory(engine)
    assert run_all(cache, engine) == {name: (0, 1) for name in QUERIES}
    assert run_all(cache, engine) == {name: (1, 0) for name in QUERIES}
    assert (cache.counters.hits, cache.counters.misses, cache.counters.stores) == (4, 4, 4)

    # an ORM flush + commit writing one publisher: only the publishers query goes stale
    with Session(engine) as session, cache.counting() as writes:
        session.get(Publisher, 1).name = "Renamed Press"
        session.commit()
    assert writes.invalidations == 1
    after = run_all(cache, engine)
    assert after == {"authors": (1, 0), "authors+books": (1, 0), "books": (1, 0), "publishers": (0, 1)}
    assert cache.counters.stale == 1
    with Session(engine) as session:
        cache.attach(session)
        assert session.scalars(QUERIES["publishers"]()).first().name == "Renamed Press"

    # a Core UPDATE of books: the books query and the authors query that eagerly loaded books go stale
    with engine.begin() as connection, cache.counting() as writes:
        connection.execute(update(Book).where(Book.id == 2).values(title="Changed"))
    assert writes.invalidations == 1
    after = run_all(cache, engine)
    assert after == {"authors": (1, 0), "authors+books": (0, 1), "books": (0, 1), "publishers": (1, 0)}
    with Session(engine) as session:
        cache.attach(session)
        titles = [book.title for book in session.scalars(QUERIES["books"]())]
        assert titles[1] == "Changed" and len(titles) == SCALE.books


def test_different_bound_values_and_loader_options_are_different_entries(engine, cache_factory):
    cache = cache_factory(engine)
    with Session(engine) as session:
        cache.attach(session)
        first = [a.name for a in session.scalars(cached(select(Author).where(Author.id <= 2)))]
        second = [a.name for a in session.scalars(cached(select(Author).where(Author.id <= 4)))]
        assert (len(first), len(second)) == (2, 4)
    plain = cache.key_for(select(Author))
    assert cache.key_for(select(Author)) == plain
    assert cache.key_for(select(Author).options(selectinload(Author.books))) != plain
    assert cache.key_for(select(Author).where(Author.id == 1)) != cache.key_for(select(Author).where(Author.id == 2))
    assert cache.counters.stores == 2 and cache.counters.hits == 0


def test_a_transaction_never_shares_what_it_has_not_committed(engine, cache_factory):
    cache = cache_factory(engine)
    with Session(engine) as writer, cache.counting() as counters:
        cache.attach(writer)
        writer.get(Publisher, 2).name = "Uncommitted"
        names = [p.name for p in writer.scalars(QUERIES["publishers"]())]  # autoflush writes first
        assert "Uncommitted" in names
        assert (counters.misses, counters.stores, counters.unstored) == (1, 0, 1)
        with Session(engine) as reader:
            cache.attach(reader)
            # another session sees the committed name, not a cached copy of the writer's
            assert "Uncommitted" not in [p.name for p in reader.scalars(QUERIES["publishers"]())]
        writer.rollback()
    with Session(engine) as session:
        cache.attach(session)
        assert "Uncommitted" not in [p.name for p in session.scalars(QUERIES["publishers"]())]


def test_only_opted_in_queries_are_cached_unless_the_session_caches_every_query(engine, cache_factory):
    cache = cache_factory(engine)
    with Session(engine) as session:
        cache.attach(session)
        session.scalars(select(Publisher)).all()
        session.scalars(select(Publisher).execution_options(**{CACHE_OPTION: False})).all()
    assert cache.counters.misses == 0
    with Session(engine) as session:
        cache.attach(session, every_query=True)
        session.scalars(select(Publisher)).all()
        session.scalars(select(Publisher).execution_options(**{CACHE_OPTION: False})).all()
    assert cache.counters.misses == 1


def test_textual_writes_invalidate_everything(engine, cache_factory):
    cache = cache_factory(engine)
    run_all(cache, engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE stores SET city = 'Nowhere'"))
    assert run_all(cache, engine) == {name: (0, 1) for name in QUERIES}


@pytest.mark.slow
def test_keys_mean_the_same_in_another_process(tmp_path):
    database = tmp_path / "keys.db"
    engine = create_engine(f"sqlite:///{database}")
    create_bookstore(engine, SCALE)
    cache = QueryCache(engine, "memory://")
    statement = "select(Author).options(selectinload(Author.books)).where(Author.id > 3).order_by(Author.id)"
    script = (
        "from sqlalchemy import create_engine, select\n"
        "from sqlalchemy.orm import selectinload\n"
        "from profiler.cache import QueryCache\n"
        "from profiler.models.bookstore import Author\n"
        f"cache = QueryCache(create_engine('sqlite:///{database}'), 'memory://')\n"
        f"print(cache.key_for({statement}))\n"
    )
    other = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert other.stdout.strip() == cache.key_for(eval(statement))
    cache.close()


def test_an_unreachable_redis_is_a_clear_error_naming_the_url(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path}/x.db")
    url = f"redis://127.0.0.1:{free_port()}/0"
    with pytest.raises(CacheUnavailable, match=f"cannot reach the Redis cache at {url}"):
        QueryCache(engine, url)
    with pytest.raises(CacheUnavailable, match=r"redis://:\*\*\*@127\.0\.0\.1"):
        QueryCache(engine, f"redis://:s3cret@127.0.0.1:{free_port()}/0")
    with pytest.raises(CacheConfigurationError, match="'memcached://127.0.0.1:11211' is not supported"):
        QueryCache(engine, "memcached://127.0.0.1:11211")


def test_the_cache_url_comes_from_the_environment(tmp_path, monkeypatch):
    engine = create_engine(f"sqlite:///{tmp_path}/x.db")
    monkeypatch.setenv(CACHE_URL, "")
    assert QueryCache(engine).description == "in-process memory"
    url = f"redis://127.0.0.1:{free_port()}/1"
    monkeypatch.setenv(CACHE_URL, url)
    with pytest.raises(CacheUnavailable, match=url):
        QueryCache(engine)


def test_every_cache_watching_an_engine_sees_its_writes(tmp_path, redis_url, redis_prefix):
    engine = create_engine(f"sqlite:///{tmp_path}/two.db")
    create_bookstore(engine, SCALE)
    caches = [QueryCache(engine, "memory://"), QueryCache(engine, redis_url, prefix=redis_prefix)]
    for cache in caches:
        run_all(cache, engine)
    with engine.begin() as connection:
        connection.execute(update(Publisher).where(Publisher.id == 1).values(name="Renamed"))
    for cache in caches:
        assert run_all(cache, engine)["publishers"] == (0, 1), cache.description
        cache.close()


def test_an_entry_that_cannot_be_unpickled_is_a_miss_not_an_error(engine, cache_factory):
    cache = cache_factory(engine)
    run_all(cache, engine)
    if cache.store.memory is not None:
        entries = [key for key in cache.store.memory if ":q:" in key]
        cache.store.memory.update({key: b"not a pickle" for key in entries})
    else:
        client = cache.store.region.backend.writer_client
        entries = [key for key in client.scan_iter(match=cache.store.prefix + "*") if b":q:" in key]
        for key in entries:
            client.set(key, b"not a pickle")
    assert len(entries) == len(QUERIES)
    assert run_all(cache, engine) == {name: (0, 1) for name in QUERIES}
    assert cache.counters.unreadable == len(QUERIES)
    assert run_all(cache, engine) == {name: (1, 0) for name in QUERIES}
