"""A database at a chosen distance: an engine whose every connection crosses a real network round trip.

``database_at(url, round_trip_ms)`` starts a :class:`profiler.netdelay.LatencyProxy` in front of the server
``url`` names and yields an engine connected through it; leaving the block disposes of the engine and stops the
proxy. At 0 ms there is no proxy at all: the engine connects directly, as a database on the same host is reached.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, make_url

from profiler.inputs import InputError, refuse
from profiler.netdelay import ROUND_TRIPS_MS, LatencyProxy, checked_round_trip, distant_url

__all__ = ["ROUND_TRIPS_MS", "checked_round_trip", "database_at"]


@contextmanager
def database_at(url: str | URL, round_trip_ms: float, *, schema: str | None = None,
                **engine_options) -> Iterator[Engine]:
    """An engine on ``url`` (a database server reached over TCP, e.g. PostgreSQL) ``round_trip_ms`` away
    (0 to 50; offered: ``ROUND_TRIPS_MS``). ``schema``: PostgreSQL's search path for its connections."""
    round_trip_ms = checked_round_trip(round_trip_ms)
    try:
        parsed = make_url(url)
    except Exception:  # noqa: BLE001 - SQLAlchemy raises ArgumentError, or TypeError for a non-string
        raise refuse("url", "a database URL such as postgresql+psycopg://host:5432/database", url) from None
    if parsed.get_backend_name() == "sqlite":
        raise InputError("round_trip_ms: a SQLite database lives in this process, so there is no network to put a "
                         "distance on; use a database server (PostgreSQL) to see what a round trip costs",
                         "round_trip_ms")
    if schema is not None:
        if not isinstance(schema, str) or not schema.replace("_", "").isalnum() or len(schema) > 63:
            raise refuse("schema", "a schema name (letters, digits and _; at most 63)", schema)
        engine_options.setdefault("connect_args", {})["options"] = f"-csearch_path={schema}"
    if round_trip_ms > 0 and not parsed.host:
        raise InputError("round_trip_ms: this database is reached through a Unix socket, not the network; name its "
                         "host and port in the URL to put a distance on it", "round_trip_ms")
    proxy = None
    if round_trip_ms > 0:
        proxy = LatencyProxy(parsed.host, parsed.port or 5432, round_trip_ms).start()
    engine = create_engine(distant_url(parsed, proxy), **engine_options)
    try:
        yield engine
    finally:
        engine.dispose()
        if proxy is not None:
            proxy.stop()
