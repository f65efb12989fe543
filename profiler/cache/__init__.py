"""Query-result caching for the ORM, and a profiler that shows what it really saves (or costs).

From a notebook cell::

    from profiler.cache import QueryCache, compare_caching
    from profiler.queries import AUTHORS_BOOKS, default_engine
    engine = default_engine()
    comparison = compare_caching(AUTHORS_BOOKS, engine, cache=QueryCache(engine), strategy="selectin")
    comparison.verdict; comparison.summary_frame(); comparison.figure()

May import dogpile.cache, redis, SQLAlchemy, :mod:`profiler.queries`, :mod:`profiler.models`, :mod:`profiler.inputs` and
:mod:`profiler.playground`.
"""

from .backend import CacheConfigurationError, CacheStore, CacheUnavailable, cache_url_from_environment, open_store
from .compare import MODES, MODES_EXPLAINED, CacheComparison, RunStats, compare_caching
from .invalidation import WRITABLE_TABLES, InvalidationDemo, demonstrate_invalidation
from .orm import CACHE_OPTION, CacheCounters, QueryCache, engine_namespace

__all__ = [
    "CACHE_OPTION", "MODES", "MODES_EXPLAINED", "CacheComparison", "CacheConfigurationError", "CacheCounters",
    "CacheStore", "CacheUnavailable", "InvalidationDemo", "QueryCache", "RunStats", "WRITABLE_TABLES",
    "cache_url_from_environment", "compare_caching", "demonstrate_invalidation", "engine_namespace", "open_store",
]
