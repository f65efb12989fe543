"""Statement capture through SQLAlchemy's public events.

Per statement we record the SQL, its parameters, the execute time, the fetch time, the rows fetched, which
loader issued it (a top-level query, a lazy load, or an eager relationship load) with its relationship path,
and optionally the line of the user's code that caused it.

How the times are measured, and why that is honest:

* **Execute time** is the time of the DBAPI's ``cursor.execute`` (run by our dialect ``do_execute`` event
  handler), i.e. the round trip to the database (for SQLite also the first row's computation).
* **Fetch time** is the time spent inside the DBAPI cursor's ``fetchall``/``fetchone``/``fetchmany``, i.e.
  consuming rows from the driver. Right after executing we replace the execution context's documented
  ``cursor`` attribute with a thin proxy that times those three calls and delegates everything else; the
  result object SQLAlchemy builds right after the execute event reads rows through the proxy. The ORM fetches all
  rows of a statement in one call before building objects, so ORM object construction is *not* counted as
  fetch time. Executemany (bulk insert) contexts are left alone.
* **Python/ORM time** of a run is whatever is left: wall − execute − fetch (the runner computes it).

The ORM information is read from the statement's execution context in the same ``do_execute`` handler: the
compiled statement carries the loader path (the ORM's compile options, ``_current_path``) and whether it refreshes
an object's columns, and the execution options carry the ORM's load options (``_lazy_loaded_from`` for a lazy
load), the same attributes SQLAlchemy's ``ORMExecuteState`` reads for ``loader_strategy_path``,
``is_column_load`` and ``lazy_loaded_from``. Everything but the lazy flag is part of SQLAlchemy's cache key, so
the facts are worked out once per compiled statement and kind of load and looked up by the compiled object after
that. An earlier version listened to ``do_orm_execute`` instead; SQLAlchemy builds an ``ORMExecuteState`` for
every statement such a listener sees, and with the facts read from it the capture cost 1.09-1.25x CPU on
benchmarks/query_capture.py against 1.04x now (both measured pinned to one core of a 2-core machine, 11 rounds).
The facts are kept, never the states or contexts: keeping ~1,000 states alive made Python's garbage collector
traverse their object graphs over and over (+40% CPU on the lazy benchmark).

The hot path appends to flat columns (lists of the SQL strings and parameters, ``array`` columns of
numbers) rather than making an object per statement, for the same reason: objects that outlive a statement
are what the garbage collector keeps re-visiting. ``statements`` turns the columns into ``StatementRecord``s
when first read after detaching, so building them is not part of the captured run.

Source lines keep only the user's code object and instruction offset per statement; the line and the text are
made when records are built. Finding the user's frame walks out from the cursor only the first time a compiled
statement runs; after that it goes straight to the depth where it was found (see ``_new_entry``).
"""

from __future__ import annotations

import os
import sys
from array import array
from dataclasses import dataclass
from time import perf_counter
from typing import Any, Callable

import sqlalchemy
from sqlalchemy import event, inspect
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BinaryExpression, BindParameter, BooleanClauseList

_SQLALCHEMY_DIR = os.path.dirname(sqlalchemy.__file__)
_STDLIB_DIR = os.path.dirname(os.__file__)
# the profiler's own machinery; the built-in workloads are user code as far as source lines go
_OWN_DIR = os.path.dirname(__file__)
_MACHINERY = frozenset(
    os.path.join(_OWN_DIR, name) for name in os.listdir(_OWN_DIR) if name.endswith(".py") and name != "workloads.py"
)


_WRITE_VERBS = frozenset({"INSERT", "UPDATE", "DELETE", "MERGE", "TRUNCATE", "CREATE", "DROP", "ALTER", "REPLACE"})


@dataclass(slots=True)
class StatementRecord:
    """One statement as the database saw it."""

    index: int
    sql: str
    params: Any
    started_s: float
    execute_s: float = 0.0
    fetch_s: float = 0.0
    rows: int = 0
    # "query" (top level or Core), "get" (a top-level load of one entity by its whole primary key: session.get()
    # or select(X).where(X.id == ...)), "lazy", "eager" (selectin/subquery/immediate...), "dynamic" (the query
    # of a lazy="dynamic" or "write_only" relationship for one parent, unfiltered), "columns" (a joined-table
    # subclass's own columns loaded for one object)
    loader: str = "query"
    relationship: str | None = None  # e.g. "Book.stores"
    parent: str | None = None  # class owning the relationship, e.g. "Book"
    target: str | None = None  # class the relationship loads, e.g. "Store"
    collection: bool = False  # one-to-many / many-to-many (True) or many-to-one (False)
    entity: str | None = None  # root entity of a top-level ORM query, e.g. "Author"
    # of a "get": the primary-key attributes it looks up by, e.g. ("id",); of a "dynamic": the parent's and the
    # child's attribute joining them, e.g. ("id", "author_id"), when one column pair without a secondary does;
    # of a "columns": the base class, e.g. ("Media",)
    lookup: tuple[str, ...] | None = None
    # of a relationship load: the entity the path starts from and the relationship keys from it, as SQLAlchemy
    # tracks it, ("Author", "books", "publisher"); the whole way from the query's root entity when the objects
    # were loaded with options that propagate (the profiler adds one, see execution.py), else just one step
    path: tuple[str, ...] | None = None
    source: str | None = None  # "file.py:12 in func" of the user's code, when source lines are on
    error: str | None = None

    @property
    def is_write(self) -> bool:
        words = self.sql.split(None, 1)
        return bool(words) and words[0].upper() in _WRITE_VERBS


class _TimedCursor:
    """Delegates to a DBAPI cursor, timing the calls that consume rows (see the module docstring)."""

    # description and close are read on every statement by SQLAlchemy: copied once here, they cost an attribute
    # read instead of a Python call each (the description is fixed once the statement has executed)
    __slots__ = ("_cursor", "_capture", "_index", "description", "close")

    def __init__(self, cursor, capture: QueryCapture, index: int):
        self._cursor = cursor
        self._capture = capture
        self._index = index
        self.description = cursor.description
        self.close = cursor.close

    def fetchall(self):
        started = perf_counter()
        rows = self._cursor.fetchall()
        capture = self._capture
        capture._fetch[self._index] += perf_counter() - started
        capture._rows[self._index] += len(rows)
        return rows

    def fetchmany(self, *args):
        started = perf_counter()
        rows = self._cursor.fetchmany(*args)
        capture = self._capture
        capture._fetch[self._index] += perf_counter() - started
        capture._rows[self._index] += len(rows)
        return rows

    def fetchone(self):
        started = perf_counter()
        row = self._cursor.fetchone()
        capture = self._capture
        capture._fetch[self._index] += perf_counter() - started
        if row is not None:
            capture._rows[self._index] += 1
        return row

    def __iter__(self):
        return iter(self.fetchall())

    @property
    def rowcount(self):  # of a write, read once it has run; explicit, so it skips the slower __getattr__
        return self._cursor.rowcount

    def __getattr__(self, name):
        return getattr(self._cursor, name)


# file name -> whether code in it is the user's. Keyed by the file's name because a str caches its hash, where a
# code object hashes its whole content on every lookup (measured 4.6 µs for an 8-frame walk keyed by id(code)).
_user_code: dict = {}
_USER_CODE_CACHE_LIMIT = 20_000  # notebooks make a file name per cell run: start over past this many


def _is_user_code(filename: str) -> bool:
    return not (filename in _MACHINERY or filename.startswith(_SQLALCHEMY_DIR) or filename.startswith(_STDLIB_DIR))


def _is_users(filename: str) -> bool:
    """Whether code in ``filename`` is the user's, decided once per file (a dict lookup instead of three string
    tests on every frame)."""
    user = _user_code.get(filename)
    if user is None:
        if len(_user_code) >= _USER_CODE_CACHE_LIMIT:
            _user_code.clear()
        user = _user_code[filename] = _is_user_code(filename)
    return user


def _user_frame(frame):
    """The innermost frame from ``frame`` outwards that runs the user's code, or None."""
    while frame is not None:
        if _is_users(frame.f_code.co_filename):
            return frame
        frame = frame.f_back
    return None


def _landing(start: int) -> tuple | None:
    """Where the user's frame was found, walking out from ``sys._getframe(start)`` of the caller's caller: (the
    depth of the frame just inside it, that frame's code), or None when no user frame is on the stack."""
    frame = sys._getframe(start + 1)
    depth = start
    inner = None
    while frame is not None:
        if _is_users(frame.f_code.co_filename):
            return (depth - 1, inner.f_code) if inner is not None else None
        inner = frame
        frame = frame.f_back
        depth += 1
    return None


def _line_at(code, offset: int) -> int | None:
    """The source line of the instruction at byte ``offset`` of ``code`` (what ``frame.f_lineno`` computes;
    the hot path keeps ``frame.f_lasti``, which costs nothing to read, and the line is looked up here)."""
    for start, end, line in code.co_lines():
        if start <= offset < end:
            return line
    return None


def _source_text(code, offset: int) -> str | None:
    return None if code is None else f"{code.co_filename}:{_line_at(code, offset)} in {code.co_name}"


def user_source_line() -> str | None:
    """The innermost frame outside SQLAlchemy, the profiler and the standard library: "file:line in func"."""
    frame = _user_frame(sys._getframe(2))
    return None if frame is None else _source_text(frame.f_code, frame.f_lasti)


# what the ORM context says about a statement, in StatementRecord's field order from `loader` to `path`
_NO_ORIGIN = ("query", None, None, None, False, None, None, None)


class QueryCapture:
    """Records every statement run on one connection (and the ORM context of one session).

    Use ``attach(connection, session)`` / ``detach()``, or ``with QueryCapture().attach(...) as capture:``.
    ``on_statement(count)`` is called every ``notify_every`` statements, so a UI can show progress live.

    Statements are timed in the dialect-level ``do_execute`` events (public, documented: a handler may run
    the cursor execution itself and return True). They cost less per statement than the connection's
    ``before/after_cursor_execute`` pair, which also switches every execution onto SQLAlchemy's
    before/after_execute event path. Dialect events belong to the engine, so statements of other
    connections of the same engine are skipped by identity.
    """

    def __init__(
        self,
        *,
        source_lines: bool = False,
        on_statement: Callable[[int], None] | None = None,
        notify_every: int = 100,
    ):
        self.source_lines = source_lines
        self.on_statement = on_statement
        self.notify_every = max(1, notify_every)
        # one entry per statement in each column
        self._sql: list[str] = []
        self._params: list = []
        self._origin: list[tuple] = []
        # the user's code object and its instruction's byte offset per statement (None, 0 without source lines):
        # turned into "file:line in func" when records are built, so the hot path neither looks up a line nor
        # formats a string nor allocates a tuple
        self._source_code: list = []
        self._source_offset = array("l")
        self._start = array("d")
        self._execute = array("d")
        self._fetch = array("d")
        self._rows = array("q")
        self._errors: dict[int, str] = {}
        self._records: list[StatementRecord] | None = None  # built on first use once the capture is detached
        self._attached = False
        self._connection = None
        self._started = perf_counter()
        self._targets: list[tuple[Any, str, Callable]] = []
        # compiled statement -> its ORM facts (see _origin_of), for lazy loads and for everything else
        self._origins: dict = {}
        self._lazy_origins: dict = {}
        # compiled statement -> (depth below _new_entry of the frame just inside the user's, that frame's code)
        self._landings: dict = {}
        self._lazy_landings: dict = {}

    # -- wiring -------------------------------------------------------------------------------------------
    def attach(self, bind, session=None) -> QueryCapture:
        """Capture statements of ``bind`` (a Connection: only its statements; an Engine: all of them) and,
        if given, the ORM context of ``session``'s executions."""
        engine = getattr(bind, "engine", bind)
        self._connection = bind if bind is not engine else None
        self._records = None
        self._attached = True
        self._listen(engine, "do_execute", self._do_execute)
        self._listen(engine, "do_execute_no_params", self._do_execute_no_params)
        self._listen(engine, "do_executemany", self._do_executemany)
        return self

    def detach(self) -> None:
        for target, name, fn in self._targets:
            if event.contains(target, name, fn):
                event.remove(target, name, fn)
        self._targets.clear()
        self._attached = False

    def _listen(self, target, name, fn):
        event.listen(target, name, fn)
        self._targets.append((target, name, fn))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.detach()

    # -- results ------------------------------------------------------------------------------------------
    @property
    def statements(self) -> list[StatementRecord]:
        """The captured statements (built fresh while attached, once and kept after detaching)."""
        if self._attached:
            return self._build_records()
        if self._records is None:
            self._records = self._build_records()
        return self._records

    @property
    def count(self) -> int:
        return len(self._sql)

    @property
    def execute_s(self) -> float:
        return sum(self._execute)

    @property
    def fetch_s(self) -> float:
        return sum(self._fetch)

    @property
    def rows(self) -> int:
        return sum(self._rows)

    def _build_records(self) -> list[StatementRecord]:
        sources: dict = {(None, 0): None}
        records = []
        for index in range(len(self._execute)):  # while attached, a statement may be on its way to the database
            where = (self._source_code[index], self._source_offset[index])
            source = sources[where] if where in sources else sources.setdefault(where, _source_text(*where))
            records.append(StatementRecord(
                index, self._sql[index], self._params[index], self._start[index] - self._started,
                self._execute[index], self._fetch[index], self._rows[index], *self._origin[index],
                source, self._errors.get(index),
            ))
        return records

    # -- the ORM facts of a statement ---------------------------------------------------------------------
    def _origin_of(self, compiled, lazy: bool) -> tuple:
        """What the ORM says about the statements compiled as ``compiled`` (see _NO_ORIGIN), computed once per
        compiled statement and kind of load. Everything but the lazy flag is fixed by the compiled statement:
        the loader path, a refresh and the shape of the WHERE clause are all part of SQLAlchemy's cache key."""
        origins = self._lazy_origins if lazy else self._origins
        if len(origins) >= _ORIGIN_CACHE_LIMIT:  # an engine without a compiled cache makes one per statement
            origins.clear()
        origin = origins[compiled] = _statement_origin(getattr(compiled, "statement", None), lazy)
        return origin

    # -- listeners: they run once per statement, so they stay small and repeat themselves on purpose ---------
    def _new_entry(self, statement, parameters, context) -> int:
        """Records a statement about to run: its SQL, parameters, ORM facts and the user's line. Its start and
        execute time are appended once it has run (``_executed``), so the cursor's time is all they hold."""
        compiled = context.compiled
        load = context.execution_options.get("_sa_orm_load_options") if compiled is not None else None
        if load is not None and load._lazy_loaded_from is not None:
            origin = self._lazy_origins.get(compiled) or self._origin_of(compiled, True)
            landings = self._lazy_landings
        else:  # compiled is None for exec_driver_sql: no SQLAlchemy statement behind it
            origin = self._origins.get(compiled) or self._origin_of(compiled, False)
            landings = self._landings
        if self.source_lines:
            # A statement's user frame lies as deep as last time the same statement ran, below the same frame of
            # SQLAlchemy's (an N+1 runs one statement from one line): go straight there, checking both frames, and
            # walk the stack only when either differs. Walking materialises a frame object per level (about 14
            # between a lazy load's cursor and the attribute access that caused it), which measured 4.5% of the
            # lazy N+1 benchmark's CPU with source lines on; going straight there, about 1%.
            landing = landings.get(compiled)
            frame = None
            if landing is not None:
                try:
                    inner = sys._getframe(landing[0])
                except ValueError:  # a shallower stack than last time
                    inner = None
                if inner is not None and inner.f_code is landing[1]:
                    frame = inner.f_back
                    if frame is not None and not _user_code.get(frame.f_code.co_filename):
                        frame = None
            if frame is None:
                landing = _landing(2)
                if landing is not None:
                    if len(landings) >= _ORIGIN_CACHE_LIMIT:
                        landings.clear()
                    landings[compiled] = landing
                    frame = sys._getframe(landing[0]).f_back
                else:  # no user frame at all, or the user's code is the dialect's caller
                    frame = _user_frame(sys._getframe(2))
            if frame is None:
                self._source_code.append(None)
                self._source_offset.append(0)
            else:
                self._source_code.append(frame.f_code)
                self._source_offset.append(frame.f_lasti)
        else:
            self._source_code.append(None)
            self._source_offset.append(0)
        self._sql.append(statement)
        self._params.append(parameters)
        self._origin.append(origin)
        self._fetch.append(0.0)
        self._rows.append(0)
        return len(self._rows) - 1

    def _failed(self, started: float, error: BaseException) -> None:
        self._start.append(started)
        self._execute.append(perf_counter() - started)
        self._errors[len(self._start) - 1] = str(error).splitlines()[0][:300] if str(error) else type(error).__name__

    def _notify(self) -> None:
        if len(self._sql) % self.notify_every == 0:
            self.on_statement(len(self._sql))

    # The three dialect hooks below are written out on purpose: they run once per statement, and folding them
    # into one helper measured 2-5 µs more CPU per statement (benchmarks/query_capture.py --quick).
    def _do_execute(self, cursor, statement, parameters, context) -> bool:
        if self._connection is not None and context.root_connection is not self._connection:
            return False
        index = self._new_entry(statement, parameters, context)
        started = perf_counter()
        try:
            context.dialect.do_execute(cursor, statement, parameters, context)
        except BaseException as error:
            self._failed(started, error)
            raise
        ended = perf_counter()
        self._start.append(started)
        self._execute.append(ended - started)
        context.cursor = _TimedCursor(cursor, self, index)
        if self.on_statement is not None:
            self._notify()
        return True

    def _do_execute_no_params(self, cursor, statement, context) -> bool:
        if self._connection is not None and context.root_connection is not self._connection:
            return False
        index = self._new_entry(statement, None, context)
        started = perf_counter()
        try:
            context.dialect.do_execute_no_params(cursor, statement, context)
        except BaseException as error:
            self._failed(started, error)
            raise
        ended = perf_counter()
        self._start.append(started)
        self._execute.append(ended - started)
        context.cursor = _TimedCursor(cursor, self, index)
        if self.on_statement is not None:
            self._notify()
        return True

    def _do_executemany(self, cursor, statement, parameters, context) -> bool:
        if self._connection is not None and context.root_connection is not self._connection:
            return False
        self._new_entry(statement, parameters, context)
        started = perf_counter()
        try:
            context.dialect.do_executemany(cursor, statement, parameters, context)
        except BaseException as error:
            self._failed(started, error)
            raise
        ended = perf_counter()
        self._start.append(started)
        self._execute.append(ended - started)
        if self.on_statement is not None:
            self._notify()
        return True


_ORIGIN_CACHE_LIMIT = 5_000


def _statement_origin(statement, lazy: bool) -> tuple:
    """The ORM facts of one compiled statement (see _NO_ORIGIN): which loader ran it, for which relationship
    and along which path, or which entity a top-level query loads and whether by its primary key."""
    options = getattr(statement, "_compile_options", None) if getattr(statement, "is_select", False) else None
    path = getattr(options, "_current_path", None)  # only the ORM's compile options have a loader path
    if path is None:
        return _NO_ORIGIN  # Core: a table, text, DDL or DML statement; the ORM's flush writes
    column_load = bool(options._for_refresh_state)
    if not path.is_root and (lazy or not column_load):
        return _relationship_origin(path.natural_path, lazy)
    mapper = _first_mapper(statement)
    if mapper is None:
        return _NO_ORIGIN
    if column_load:
        if mapper.inherits is not None and mapper.local_table is not mapper.inherits.local_table:
            # a subclass's own columns, loaded per object (joined-table inheritance)
            return ("columns", None, None, None, False, mapper.class_.__name__, (mapper.base_mapper.class_.__name__,),
                    None)
        return _NO_ORIGIN
    entity = mapper.class_.__name__
    lookup = _key_lookup(statement, mapper)
    if lookup is None:
        dynamic = _dynamic_relationship(statement, mapper)
        if dynamic is not None:
            return ("dynamic", *_relationship_origin((dynamic.parent, dynamic), True)[1:5], entity,
                    _joining_keys(dynamic), (dynamic.parent.class_.__name__, dynamic.key))
    return ("get" if lookup else "query", None, None, None, False, entity, lookup, None)


def _first_mapper(statement):
    """The mapper of the first entity ``statement`` selects, as the ORM's ``all_mappers`` finds it."""
    for description in getattr(statement, "column_descriptions", ()):
        entity = description.get("entity")
        if entity is not None:
            found = inspect(entity, raiseerr=False)
            mapper = getattr(found, "mapper", None)
            if mapper is not None:
                return mapper
    return None


def _relationship_origin(natural_path, lazy: bool) -> tuple:
    loader = "lazy" if lazy else "eager"
    prop = natural_path[-1]
    if not hasattr(prop, "mapper"):
        return (loader, None, None, None, False, None, None, None)
    parent = prop.parent.class_.__name__
    start = getattr(natural_path[0], "class_", None)
    path = (start.__name__, *(getattr(step, "key", "?") for step in natural_path[1::2])) if start else None
    return (loader, f"{parent}.{prop.key}", parent, prop.mapper.class_.__name__, bool(prop.uselist), None, None, path)


_dynamic_by_target: dict = {}  # mapper -> [(relationship, its remote columns)] of dynamic relationships to it


def _column_key(column) -> tuple:
    table = getattr(column, "table", None)
    return getattr(table, "name", None), getattr(column, "name", None)


def _dynamic_relationship(statement, mapper):
    """The lazy="dynamic" (or "write_only") relationship whose per-parent query ``statement`` is, unfiltered:
    its WHERE is the relationship's own criterion (remote columns = bound parent values, and for a secondary
    table its join), nothing more. Such queries are top-level to the ORM, not lazy loads, so a loop over
    them is only an N+1 when recognised here."""
    known = _dynamic_by_target.get(mapper)
    # models defined later in a notebook join the registry: look again when it has grown
    if known is None or known[0] != len(mapper.registry.mappers):
        known = _dynamic_by_target[mapper] = (len(mapper.registry.mappers), [
            (prop, frozenset(_column_key(remote) for _, remote in prop.local_remote_pairs))
            for other in mapper.registry.mappers for prop in other.relationships
            if prop.lazy in ("dynamic", "write_only") and prop.mapper is mapper
        ])
    candidates = known[1]
    if not candidates:
        return None
    where = getattr(statement, "whereclause", None)
    if where is None:
        return None
    clauses = where.clauses if isinstance(where, BooleanClauseList) and where.operator is operators.and_ else [where]
    bound, joined = set(), set()
    for clause in clauses:
        if not isinstance(clause, BinaryExpression) or clause.operator is not operators.eq:
            return None
        left, right = clause.left, clause.right
        if isinstance(left, BindParameter) or isinstance(right, BindParameter):
            column = right if isinstance(left, BindParameter) else left
            if isinstance(column, BindParameter):
                return None
            bound.add(_column_key(column))
        else:
            joined.update((_column_key(left), _column_key(right)))
    for prop, remote in candidates:
        if bound and bound <= remote and remote <= bound | joined:
            return prop
    return None


def _joining_keys(prop) -> tuple[str, str] | None:
    if prop.secondary is not None or len(prop.local_remote_pairs) != 1:
        return None
    local, remote = prop.local_remote_pairs[0]
    try:
        return prop.parent.get_property_by_column(local).key, prop.mapper.get_property_by_column(remote).key
    except Exception:  # noqa: BLE001 - a column not mapped as an attribute: no batched query to suggest
        return None


def _key_lookup(statement, mapper) -> tuple[str, ...] | None:
    """The primary-key attribute names when ``statement`` selects ``mapper``'s entity by its whole primary key
    (``pk = :param`` for every key column and nothing else), as ``session.get()`` does; else None. Only
    top-level queries come here, so the lazy N+1 path pays nothing for it."""
    descriptions = statement.column_descriptions if hasattr(statement, "column_descriptions") else ()
    if not descriptions or descriptions[0].get("expr") is not mapper.class_:
        return None  # a column or expression query, not an entity load
    where = getattr(statement, "whereclause", None)
    if where is None:
        return None
    clauses = where.clauses if isinstance(where, BooleanClauseList) and where.operator is operators.and_ else [where]
    keys = {}
    for clause in clauses:
        if not isinstance(clause, BinaryExpression) or clause.operator is not operators.eq:
            return None
        column, value = clause.left, clause.right
        if isinstance(column, BindParameter):
            column, value = value, column
        if not isinstance(value, BindParameter):
            return None
        owner = next((key for key in mapper.primary_key if key.shares_lineage(column)), None)
        if owner is None:
            return None
        keys[owner.key] = owner
    if len(keys) != len(mapper.primary_key):
        return None
    return tuple(mapper.get_property_by_column(column).key for column in mapper.primary_key)


__all__ = ["QueryCapture", "StatementRecord", "user_source_line"]
