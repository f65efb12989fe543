"""ORM query results cached in a dogpile.cache region, after SQLAlchemy's "dogpile caching" example.

A ``do_orm_execute`` hook serves an opted-in SELECT from the cache: the stored ``FrozenResult`` is merged
into the session with ``merge_frozen_result(load=False)``, which rebuilds every object (and every related
object loaded with it) in the session. That merge is the price of a hit and is timed on its own: with a
thousand objects it can cost more than the statements the hit saves.

Opt in per statement with ``.execution_options(workbench_cache=True)`` (``CACHE_OPTION``), or for everything
a session runs with ``cache.attach(session, every_query=True)``; ``workbench_cache=False`` always opts out.
``attach(..., merge="objects")`` puts a hit back with ``session.merge(obj, load=False)`` once per distinct
object instead: ``merge_frozen_result`` merges each row's whole graph anew, so a joined eager load merges each
parent once per child row. ``cache.cached_result(session, fn, key)`` keeps ``fn``'s plain result instead of
statements' objects: a hit then costs no statement and no ORM work at all (see ``strategies``).

Keys: the statement's own cache key (``_generate_cache_key()``, with mappers and tables by name so keys mean
the same in every process) plus its bound values and a namespace for the database.

Invalidation: every table has a generation token in the cache; an entry remembers the tokens of the tables
its statements read (recorded from what actually ran, eager loads included) and is stale once any token
changed. Any INSERT/UPDATE/DELETE run on the engine (ORM flush, Core, bulk) renews the tokens of the tables it
writes, when it runs and again at commit; a statement whose tables cannot be told (text, DDL) renews every
token. A transaction never stores results from tables it has written: they could be rolled back.
Known limit, as with every read-through cache: a write committed between a miss's SELECT and its first
store can leave that entry stale; the tokens are read before the SELECT whenever the key was seen before.
"""

from __future__ import annotations

import enum
import hashlib
import os
import pickle
import threading
import types
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from time import perf_counter
from typing import Any, Callable, Iterable, Iterator

from dogpile.cache.api import NO_VALUE
from sqlalchemy import Engine, Table, event
from sqlalchemy.orm import Mapper, MapperProperty, Session
from sqlalchemy.orm.loading import merge_frozen_result
from sqlalchemy.sql.util import find_tables

from profiler.inputs import InputError, refuse

from .backend import CacheStore, open_store

CACHE_OPTION = "workbench_cache"
MERGES = ("frozen", "objects")
_SESSION_MODE = "workbench_cache_mode"
_SESSION_MERGE = "workbench_cache_merge"
_WRITTEN = "workbench_cache_written"
_ALL = "*all*"  # renewed by writes to unknown tables: every entry depends on it
_ANY_WRITE = "*any*"  # renewed by every write: entries whose tables are unknown depend on it
_UNSEEN = object()
_UNREADABLE = (pickle.UnpicklingError, AttributeError, ImportError, EOFError, TypeError, ValueError)
_WRITE_VERBS = {"INSERT", "UPDATE", "DELETE", "MERGE", "REPLACE", "UPSERT", "TRUNCATE", "DROP", "ALTER", "CREATE",
                "COPY", "GRANT", "REVOKE", "VACUUM"}


@dataclass
class CacheCounters:
    """What the cache did. ``misses`` include ``stale`` entries (found, but a write invalidated them)."""

    hits: int = 0
    misses: int = 0
    stale: int = 0
    stores: int = 0
    unstored: int = 0  # misses not stored because their transaction wrote to their tables
    unreadable: int = 0  # entries that could not be unpickled here (counted as misses too)
    invalidations: int = 0  # tables invalidated by writes: one per table per writing transaction
    objects_merged: int = 0  # objects new to the session that hits rebuilt in it
    rows_merged: int = 0  # cached rows merged: each row merges its objects' whole loaded graph again
    read_s: float = 0.0  # fetching and unpickling entries and their tables' tokens
    merge_s: float = 0.0  # merge_frozen_result of hits
    query_s: float = 0.0  # running missed statements (and their eager loads)
    store_s: float = 0.0  # pickling and storing entries

    def add(self, **amounts) -> None:
        for name, amount in amounts.items():
            setattr(self, name, getattr(self, name) + amount)

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class _Entry:
    frozen: object  # FrozenResult
    stamps: dict[str, str | None]  # generation token of each table read (and _ALL / _ANY_WRITE) when stored
    tables: tuple[str, ...] | None  # None: unknown


@dataclass
class _Recording:
    tables: set[str] = field(default_factory=set)
    unknown: bool = False
    written: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class _Recorded:
    """What one call read (None: tables not known), whether it wrote to any of them, and the stamps of its tables
    taken before it ran (None: take them now)."""

    tables: tuple[str, ...] | None
    wrote: bool
    early_stamps: Any


class QueryCache:
    """Query results of one database (``engine``) cached in memory or Redis (``url``, see ``open_store``)."""

    def __init__(self, engine: Engine, url: str | None = None, *, prefix: str = "workbench:cache:",
                 namespace: str | None = None, expiration_time: int | None = None):
        if not isinstance(engine, Engine):
            raise refuse("engine", "a SQLAlchemy Engine (the database whose queries are cached)", engine)
        if namespace is not None and (not isinstance(namespace, str) or not 1 <= len(namespace) <= 200):
            raise refuse("namespace", "a string of 1 to 200 characters, or None for the engine's own", namespace)
        kwargs = {} if expiration_time is None else {"expiration_time": expiration_time}
        self.store: CacheStore = open_store(url, prefix=prefix, **kwargs)
        self.engine = engine
        self.namespace = namespace or engine_namespace(engine)
        self.counters = CacheCounters()
        self._counting: list[CacheCounters] = []
        self._shapes: dict = {}
        self._offline: dict = {}
        self._known_tables: dict[str, tuple[str, ...] | None] = {}
        self._local = threading.local()
        # per cache: several caches may watch one engine, and each must see every write
        self._written_key = f"{_WRITTEN}:{id(self)}"
        self._listeners = [
            (engine, "after_execute", self._after_execute),
            (engine, "commit", self._after_commit),
            (engine, "rollback", self._after_rollback),
            (engine, "reset", self._after_reset),  # back to the pool without commit or rollback
        ]
        for target, name, fn in self._listeners:
            event.listen(target, name, fn)

    # -- public --------------------------------------------------------------------------------------------
    @property
    def description(self) -> str:
        return self.store.description

    def attach(self, session: Session, *, every_query: bool = False, relationship_loads: bool = False,
               merge: str = "frozen") -> Session:
        """Serve ``session``'s opted-in SELECTs from the cache (all top-level SELECTs with ``every_query``;
        lazy loads too with ``relationship_loads``). A hit is merged into the session with
        ``merge_frozen_result`` (``merge="frozen"``) or ``session.merge(obj, load=False)`` once per distinct
        object (``merge="objects"``). Returns the session."""
        if merge not in MERGES:
            raise refuse("merge", f"one of {', '.join(MERGES)}", merge)
        session.info[_SESSION_MODE] = (every_query, relationship_loads)
        session.info[_SESSION_MERGE] = merge
        if not event.contains(session, "do_orm_execute", self._do_orm_execute):
            event.listen(session, "do_orm_execute", self._do_orm_execute)
        return session

    def detach(self, session: Session) -> None:
        session.info.pop(_SESSION_MODE, None)
        session.info.pop(_SESSION_MERGE, None)
        if event.contains(session, "do_orm_execute", self._do_orm_execute):
            event.remove(session, "do_orm_execute", self._do_orm_execute)

    def close(self) -> None:
        """Stop watching the engine's writes (entries stay in the store)."""
        for target, name, fn in self._listeners:
            if event.contains(target, name, fn):
                event.remove(target, name, fn)

    @contextmanager
    def counting(self) -> Iterator[CacheCounters]:
        """``with cache.counting() as counters:`` counts only what happens inside the block."""
        counters = CacheCounters()
        self._counting.append(counters)
        try:
            yield counters
        finally:
            self._counting.remove(counters)

    def invalidate(self, tables: Iterable[str]) -> None:
        """Make every entry that read any of ``tables`` stale."""
        names = sorted(set(tables))
        if names:
            self._renew([*names, _ANY_WRITE])
            self._count(invalidations=len(names))

    def invalidate_all(self) -> None:
        self._renew([_ALL])
        self._count(invalidations=1)

    def clear(self) -> int:
        """Delete every entry and token of this cache's namespace (a truly cold cache)."""
        self._known_tables.clear()
        return self.store.clear(self.namespace + ":")

    # -- the ORM hook --------------------------------------------------------------------------------------
    def _wanted(self, state) -> bool:
        if not state.is_select or state.is_column_load:
            return False
        opted = state.execution_options.get(CACHE_OPTION)
        if opted is not None:
            return bool(opted) and not (state.is_relationship_load and state.lazy_loaded_from is None)
        every_query, relationship_loads = state.session.info.get(_SESSION_MODE, (False, False))
        if state.is_relationship_load:
            # eager loads run inside their parent query's miss and are cached with it
            return relationship_loads and state.lazy_loaded_from is not None
        return every_query

    def _do_orm_execute(self, state):
        if not self._wanted(state):
            return None
        key = self.key_for(state.statement, state.parameters)
        if key is None:
            return None
        started = perf_counter()
        try:
            entry = self.store.region.get(key)
        except _UNREADABLE:  # e.g. stored by a process whose model classes this one lacks
            entry = NO_VALUE
            self._count(unreadable=1)
        fresh = entry is not NO_VALUE and self._stamps(entry.tables) == entry.stamps
        self._count(read_s=perf_counter() - started)
        if fresh:
            return self._serve(state, entry)
        self._count(misses=1, stale=int(entry is not NO_VALUE))
        return self._run_and_store(state, key)

    def _serve(self, state, entry: _Entry):
        session = state.session
        before = len(session.identity_map)
        started = perf_counter()
        if session.info.get(_SESSION_MERGE) == "objects":
            result = _merged_once(session, entry.frozen)()
        else:
            result = merge_frozen_result(session, state.statement, entry.frozen, load=False)()
        self._count(hits=1, merge_s=perf_counter() - started, objects_merged=len(session.identity_map) - before,
                    rows_merged=len(entry.frozen.data))
        return result

    def _run_and_store(self, state, key: str):
        frozen, recorded = self._recorded(key, lambda: state.invoke_statement().freeze())
        self._store(key, frozen, recorded)
        return frozen()

    def _recorded(self, key: str, produce: Callable[[], Any]) -> tuple[Any, _Recorded]:
        """``produce()``, with the tables its statements read and wrote. The stamps of the tables ``key`` read last
        time are taken first: if it reads the same ones again, a write that lands meanwhile makes the entry stale."""
        known = self._known_tables.get(key, _UNSEEN)
        early = self._stamps(known) if known is not _UNSEEN else None
        recording = _Recording()
        self._recordings().append(recording)
        try:
            started = perf_counter()
            value = produce()
            self._count(query_s=perf_counter() - started)
        finally:
            self._recordings().remove(recording)
        tables = None if recording.unknown else tuple(sorted(recording.tables))
        wrote = bool(recording.written) and (tables is None or bool(recording.written.intersection(tables)))
        return value, _Recorded(tables, wrote, early if early is not None and known == tables else None)

    def _store(self, key: str, kept: Any, recorded: _Recorded) -> None:
        """Keeps ``kept`` under ``key``, unless the call wrote to what it read (its result may not be what the
        database now holds)."""
        if recorded.wrote:
            self._count(unstored=1)
            return
        started = perf_counter()
        stamps = recorded.early_stamps if recorded.early_stamps is not None else self._stamps(recorded.tables)
        self.store.region.set(key, _Entry(kept, stamps, recorded.tables))
        self._known_tables[key] = recorded.tables
        self._count(stores=1, store_s=perf_counter() - started)

    def cached_result(self, session: Session, function: Callable[[Session], Any], key: str) -> Any:
        """``function(session)``'s result, from the cache when a fresh entry is there (``key`` names the function
        and everything its result depends on besides the database). Only plain results can be kept: tuples,
        lists, dicts, column values; ORM objects are refused (they would come back detached, without the
        session they need). The entry depends on every table the statements of the call read."""
        if not isinstance(key, str) or not 1 <= len(key) <= 1000:
            raise refuse("key", "a string of 1 to 1,000 characters naming the result", key)
        entry_key = f"{self.namespace}:r:{hashlib.sha256(key.encode()).hexdigest()[:40]}"
        started = perf_counter()
        try:
            entry = self.store.region.get(entry_key)
        except _UNREADABLE:
            entry = NO_VALUE
            self._count(unreadable=1)
        fresh = entry is not NO_VALUE and self._stamps(entry.tables) == entry.stamps
        self._count(read_s=perf_counter() - started)
        if fresh:
            self._count(hits=1)
            return entry.frozen
        self._count(misses=1, stale=int(entry is not NO_VALUE))
        return self._call_and_store(session, function, entry_key)

    def _call_and_store(self, session: Session, function, key: str):
        def rows():
            data = function(session)
            if not isinstance(data, (list, tuple, dict)) and hasattr(data, "__iter__"):
                data = list(data)  # a generator or a Result: what is stored must be the rows, not a cursor
            return data

        data, recorded = self._recorded(key, rows)
        mapped = _first_mapped(data)
        if mapped is not None:
            raise InputError(
                f"cache strategy rows: the workload returned ORM objects ({type(mapped).__name__}), which cannot be "
                "kept as plain rows; return the values the page shows (tuples, dicts of column values), or cache "
                "ORM objects with the orm or merge strategy", "cache_strategies")
        self._store(key, data, recorded)
        return data

    def key_for(self, statement, parameters=None) -> str | None:
        """The cache key of ``statement`` with its bound values, or None when SQLAlchemy cannot key it."""
        cache_key = statement._generate_cache_key()
        if cache_key is None:
            return None
        shape = self._shapes.get(cache_key.key)
        if shape is None:
            shape = self._shapes[cache_key.key] = hashlib.sha256(_stable_text(cache_key.key).encode()).hexdigest()
        values = cache_key.to_offline_string(self._offline, statement, parameters or {})
        digest = hashlib.sha256(f"{shape}\x00{values}".encode()).hexdigest()[:40]
        return f"{self.namespace}:q:{digest}"

    # -- generation tokens -----------------------------------------------------------------------------------
    def _token_key(self, table: str) -> str:
        return f"{self.namespace}:t:{table}"

    def _stamps(self, tables: tuple[str, ...] | None) -> dict[str, str | None]:
        names = [_ALL, *(tables if tables is not None else (_ANY_WRITE,))]
        values = self.store.region.get_multi([self._token_key(name) for name in names], ignore_expiration=True)
        return {name: None if value is NO_VALUE else value for name, value in zip(names, values, strict=True)}

    def _renew(self, names: list[str]) -> None:
        token = uuid.uuid4().hex
        self.store.region.set_multi({self._token_key(name): token for name in names})

    # -- engine events -----------------------------------------------------------------------------------------
    def _recordings(self) -> list[_Recording]:
        recordings = getattr(self._local, "recordings", None)
        if recordings is None:
            recordings = self._local.recordings = []
        return recordings

    def _after_execute(self, connection, clause, multiparams, params, execution_options, result):
        written = _written_tables(clause)
        if written is not None:
            # once per table per transaction: until it commits, only this transaction sees its writes, and
            # it never stores results from the tables it wrote; the commit renews the tokens again
            already = connection.info.setdefault(self._written_key, set())
            new = (written or {_ALL}) - already
            already.update(new)
            if _ALL in new:
                self.invalidate_all()
            self.invalidate(new - {_ALL})
        recordings = getattr(self._local, "recordings", None)
        if recordings:
            read = _read_tables(result)
            for recording in recordings:
                if read is None:
                    recording.unknown = True
                else:
                    recording.tables.update(read)
                recording.written.update(connection.info.get(self._written_key, ()))

    def _after_commit(self, connection) -> None:
        written = connection.info.pop(self._written_key, None)
        if written:
            # again: another session may have stored what it read before this transaction committed
            self._renew([_ALL] if _ALL in written else [*written, _ANY_WRITE])

    def _after_rollback(self, connection) -> None:
        if connection.invalidated:
            return  # an abandoned run's connection, closed: its info went with it
        connection.info.pop(self._written_key, None)

    def _after_reset(self, dbapi_connection, record, reset_state) -> None:
        record.info.pop(self._written_key, None)

    def _count(self, **amounts) -> None:
        self.counters.add(**amounts)
        for counters in self._counting:
            counters.add(**amounts)


def _merged_once(session: Session, frozen):
    """``frozen``'s rows with each distinct ORM object merged once (``session.merge(load=False)``)."""
    merged: dict[int, object] = {}

    def one(value):
        if value is None or not hasattr(value, "_sa_instance_state"):
            return value
        found = merged.get(id(value))  # ids are stable: ``frozen`` holds every object while this runs
        if found is None:
            found = merged[id(value)] = session.merge(value, load=False)
        return found

    with session.no_autoflush:
        if frozen._source_supports_scalars:
            rows = [[one(value)] for value in frozen.data]
        else:
            rows = [tuple(one(value) for value in row) for row in frozen.data]
    return frozen.with_new_rows(rows)


def _first_mapped(data, depth: int = 0):
    """The first ORM object found in ``data`` (lists, tuples, sets, dict values), or None."""
    if hasattr(data, "_sa_instance_state"):
        return data
    if depth > 20 or isinstance(data, (str, bytes, int, float)) or data is None:
        return None
    values = data.values() if isinstance(data, dict) else data if isinstance(data, (list, tuple, set, frozenset)) \
        else ()
    for value in values:
        found = _first_mapped(value, depth + 1)
        if found is not None:
            return found
    return None


def engine_namespace(engine: Engine) -> str:
    """Database identity for keys: the URL (no password) and the default schema the connections really use
    (on PostgreSQL the search path can come from connect arguments the URL does not show). An in-memory SQLite
    database is private to its engine object, so its namespace says which one, in which process."""
    url = engine.url
    text = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        text += f"#pid{os.getpid()}-engine{id(engine)}"
    else:
        with engine.connect():  # the dialect learns the default schema on the first connection
            text += f"#schema={engine.dialect.default_schema_name}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _table_name(table) -> str:
    return table.fullname


def _written_tables(clause) -> frozenset[str] | None:
    """Tables a statement writes; empty when it writes to tables that cannot be told; None for reads."""
    if getattr(clause, "is_dml", False):
        target = clause.table
        tables = [target] if isinstance(target, Table) else find_tables(target, include_joins=True)
        return frozenset(_table_name(table) for table in tables if isinstance(table, Table))
    if getattr(clause, "is_ddl", False):
        return frozenset()
    if getattr(clause, "is_select", False):
        return None
    text = clause if isinstance(clause, str) else getattr(clause, "text", None)
    if isinstance(text, str):
        words = text.lstrip().split(None, 1)
        if words and words[0].upper() in _WRITE_VERBS:
            return frozenset()
    return None


def _read_tables(result) -> frozenset[str] | None:
    compiled = getattr(getattr(result, "context", None), "compiled", None)
    statement = getattr(getattr(compiled, "compile_state", None), "statement", None)
    if statement is None:
        return None
    found = {_table_name(table) for table in find_tables(statement, include_joins=True, include_aliases=True)
             if isinstance(table, Table)}
    return frozenset(found) or None


def _stable_text(value) -> str:
    """A statement cache key as text that means the same in every process (no object addresses)."""
    if isinstance(value, tuple):
        return "(" + ",".join(_stable_text(item) for item in value) + ")"
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    if isinstance(value, enum.Enum):
        return f"{type(value).__qualname__}.{value.name}"
    if isinstance(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    if isinstance(value, Mapper):
        return f"Mapper({value.class_.__module__}.{value.class_.__qualname__})"
    if isinstance(value, Table):
        return f"Table({value.fullname})"
    if isinstance(value, MapperProperty):
        return f"{type(value).__qualname__}({_stable_text(value.parent)}.{value.key})"
    if isinstance(value, types.CodeType):  # lambda statements (lazy loads) are keyed on their code
        return f"code({value.co_filename}:{value.co_firstlineno}:{value.co_qualname})"
    name = getattr(value, "__qualname__", None) or getattr(value, "__name__", None)
    if name is not None:
        return f"{getattr(value, '__module__', '')}.{name}"
    text = repr(value)
    return f"{type(value).__qualname__}:{text}" if " at 0x" not in text else type(value).__qualname__
