"""Query-result caching for the ORM, and a profiler that shows what it really saves (or costs).

From a notebook cell::

    from profiler.cache import QueryCache, compare_caching
    from profiler.queries import AUTHORS_BOOKS, default_engine
    engine = default_engine()
    comparison = compare_caching(AUTHORS_BOOKS, engine, cache=QueryCache(engine), strategy="selectin")
    comparison.verdict; comparison.summary_frame(); comparison.figure()

What the cache keeps (``CACHE_STRATEGIES``: ORM objects merged two ways, or the workload's plain rows), side by
side, with the database at a distance (``database_at``: a real round trip through a latency proxy)::

    with database_at("postgresql+psycopg://127.0.0.1/test", round_trip_ms=1.0) as engine:
        compare_caching(AUTHORS_BOOKS, engine, cache_strategies=("orm", "merge", "rows")).strategy_rows()

May import dogpile.cache, redis, SQLAlchemy, :mod:`profiler.queries`, :mod:`profiler.models`, :mod:`profiler.inputs`,
:mod:`profiler.netdelay` and :mod:`profiler.playground`.
"""

from .backend import CacheConfigurationError, CacheStore, CacheUnavailable, cache_url_from_environment, open_store
from .compare import MODES, MODES_EXPLAINED, CacheComparison, RunStats, compare_caching, measure_round_trip_ms
from .distance import ROUND_TRIPS_MS, checked_round_trip, database_at
from .invalidation import WRITABLE_TABLES, InvalidationDemo, demonstrate_invalidation
from .orm import CACHE_OPTION, CacheCounters, QueryCache, engine_namespace
from .strategies import CACHE_STRATEGIES, CACHE_STRATEGIES_EXPLAINED, CacheStrategy, checked_cache_strategies

__all__ = [
    "CACHE_OPTION", "CACHE_STRATEGIES", "CACHE_STRATEGIES_EXPLAINED", "CacheStrategy", "ROUND_TRIPS_MS",
    "checked_cache_strategies", "checked_round_trip", "database_at", "measure_round_trip_ms",
    "MODES", "MODES_EXPLAINED", "CacheComparison", "CacheConfigurationError", "CacheCounters",
    "CacheStore", "CacheUnavailable", "InvalidationDemo", "QueryCache", "RunStats", "WRITABLE_TABLES",
    "cache_url_from_environment", "compare_caching", "demonstrate_invalidation", "engine_namespace", "open_store",
]
