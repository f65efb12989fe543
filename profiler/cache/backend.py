"""Where cached query results live: a dogpile.cache region in process memory (default) or in Redis.

The URL comes from ``WORKBENCH_CACHE_URL`` (``profiler.playground.CACHE_URL``): empty or ``memory://`` means
this process's memory, ``redis://`` / ``rediss://`` / ``unix://`` a Redis server (checked at once, so a wrong
URL fails here with its name rather than at the first query).

The memory backend pickles values, exactly as Redis does. dogpile's plain memory backend would hand back the
very ORM objects that were stored; the session that stored them keeps lazy-loading relationships into them,
and the next "hit" would then carry data the cached query never loaded, making caching look better than it is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urlsplit, urlunsplit

from dogpile.cache import make_region
from dogpile.cache.region import CacheRegion

from profiler.inputs import InputError, refuse, whole_number
from profiler.playground import CACHE_URL

DEFAULT_EXPIRATION_S = 3600
MAX_EXPIRATION_S = 30 * 24 * 3600
REDIS_SCHEMES = ("redis", "rediss", "unix")


class CacheConfigurationError(InputError):
    """The cache URL is malformed or names an unsupported backend."""


class CacheUnavailable(ConnectionError):
    """The configured cache server cannot be reached."""


def cache_url_from_environment(environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    return environ.get(CACHE_URL, "").strip()


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass
class CacheStore:
    """A configured region plus what is needed to describe it and to empty one namespace of it."""

    region: CacheRegion
    url: str  # "" for memory
    prefix: str
    memory: dict | None = None  # the memory backend's dict (None for Redis)

    @property
    def backend(self) -> str:
        return "memory" if self.memory is not None else "redis"

    @property
    def description(self) -> str:
        return "in-process memory" if self.memory is not None else f"Redis at {redact(self.url)}"

    def clear(self, namespace: str) -> int:
        """Delete every key of ``namespace``; returns how many were deleted."""
        start = self.prefix + namespace
        if self.memory is not None:
            doomed = [key for key in self.memory if key.startswith(start)]
            for key in doomed:
                self.memory.pop(key, None)
            return len(doomed)
        client = self.region.backend.writer_client
        deleted = 0
        batch = []
        for key in client.scan_iter(match=_glob_escape(start) + "*", count=500):
            batch.append(key)
            if len(batch) >= 500:
                deleted += client.delete(*batch)
                batch.clear()
        if batch:
            deleted += client.delete(*batch)
        return deleted


def _glob_escape(text: str) -> str:
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)


def open_store(url: str | None = None, *, prefix: str = "workbench:cache:",
               expiration_time: int = DEFAULT_EXPIRATION_S) -> CacheStore:
    """A cache store for ``url`` (``None``: from the environment; empty or ``memory://``: memory)."""
    # A lifetime of 0 or less makes dogpile treat every entry as expired: the "warm" runs would all miss and a
    # comparison would still read as one.
    whole_number("expiration_time", expiration_time, 1, MAX_EXPIRATION_S)
    if not isinstance(prefix, str) or not 1 <= len(prefix) <= 100:
        raise refuse("prefix", "a string of 1 to 100 characters", prefix)
    if url is None:
        url = cache_url_from_environment()
    if not isinstance(url, str):
        raise refuse("url", "a cache URL string (redis://host:port/db, memory://) or None", url)
    url = url.strip()
    mangler = lambda key: prefix + key  # noqa: E731 - dogpile wants a callable
    if not url or url == "memory://":
        memory: dict = {}
        region = make_region(key_mangler=mangler).configure(
            "dogpile.cache.memory_pickle", expiration_time=expiration_time, arguments={"cache_dict": memory}
        )
        return CacheStore(region, "", prefix, memory)
    scheme = urlsplit(url).scheme
    if scheme not in REDIS_SCHEMES:
        raise CacheConfigurationError(
            f"cache URL {redact(url)!r} is not supported: use redis://host:port/db (or rediss://, unix://), "
            f"or leave {CACHE_URL} empty for the in-process memory cache"
        )
    import redis

    try:
        region = make_region(key_mangler=mangler).configure(
            "dogpile.cache.redis",
            expiration_time=expiration_time,
            arguments={
                "url": url,
                "socket_connect_timeout": 2,
                "socket_timeout": 5,
                # Redis drops entries itself a little after dogpile stops serving them
                "redis_expiration_time": expiration_time + 60,
            },
        )
        region.backend.writer_client.ping()
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as error:
        raise CacheUnavailable(
            f"cannot reach the Redis cache at {redact(url)} ({error}); start it, fix {CACHE_URL}, or leave "
            f"{CACHE_URL} empty to cache in this process's memory"
        ) from None
    except ValueError as error:  # redis-py's own URL parsing
        raise CacheConfigurationError(f"cache URL {redact(url)!r} is malformed: {error}") from None
    return CacheStore(region, url, prefix)
