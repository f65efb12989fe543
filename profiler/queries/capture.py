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

The ORM information comes from ``do_orm_execute`` (``is_relationship_load``, ``lazy_loaded_from``,
``loader_strategy_path``); it fires just before its statement reaches the cursor, so its state is parked in
one slot and claimed by the next executed statement. The facts are read right away (cached per
relationship) rather than keeping the state for later: keeping ~1,000 states alive made Python's garbage
collector traverse their object graphs over and over, which cost the workload far more (+40% CPU on the
lazy benchmark) than reading the properties (~3 µs per statement).

The hot path appends to flat columns (lists of the SQL strings and parameters, ``array`` columns of
numbers) rather than making an object per statement, for the same reason: objects that outlive a statement
are what the garbage collector keeps re-visiting. ``statements`` turns the columns into ``StatementRecord``s.

Source lines keep only the user's code object and instruction offset per statement; the line and the text are
made when records are built. Counted with callgrind on benchmarks/query_capture.py (4 runs of 1,221 statements),
capture with source lines added 86k instructions per statement while the walk tested three strings per frame,
read ``f_lineno`` and formatted a string; with the walk cached per file and the line looked up afterwards, 63k.
An empty ``do_orm_execute`` listener alone adds 5k (SQLAlchemy builds an ORMExecuteState for it).
"""

from __future__ import annotations

import os
import sys
from array import array
from dataclasses import dataclass
from time import perf_counter
from typing import Any, Callable

import sqlalchemy
from sqlalchemy import event
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

    __slots__ = ("_cursor", "_capture", "_index")

    def __init__(self, cursor, capture: QueryCapture, index: int):
        self._cursor = cursor
        self._capture = capture
        self._index = index

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

    # read on every statement by SQLAlchemy: explicit, so they skip the slower __getattr__ fallback
    @property
    def description(self):
        return self._cursor.description

    @property
    def rowcount(self):
        return self._cursor.rowcount

    def close(self):
        return self._cursor.close()

    def __getattr__(self, name):
        return getattr(self._cursor, name)


# file name -> whether code in it is the user's. Keyed by the file's name because a str caches its hash, where a
# code object hashes its whole content on every lookup (measured 4.6 µs for an 8-frame walk keyed by id(code)).
_user_code: dict = {}
_USER_CODE_CACHE_LIMIT = 20_000  # notebooks make a file name per cell run: start over past this many


def _is_user_code(filename: str) -> bool:
    return not (filename in _MACHINERY or filename.startswith(_SQLALCHEMY_DIR) or filename.startswith(_STDLIB_DIR))


def _user_frame(frame):
    """The innermost frame from ``frame`` outwards that runs the user's code, or None.

    Whether a file is the user's is decided once per file: the walk then costs a dict lookup per frame instead of
    three string tests (about 8 frames lie between a lazy load's statement and the attribute access that caused
    it)."""
    known = _user_code
    while frame is not None:
        filename = frame.f_code.co_filename
        user = known.get(filename)
        if user is None:
            if len(known) >= _USER_CODE_CACHE_LIMIT:
                known.clear()
            user = known[filename] = _is_user_code(filename)
        if user:
            return frame
        frame = frame.f_back
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
        self._records: list[StatementRecord] | None = None  # built once the capture is detached
        self._pending: tuple | None = None  # ORM facts of the next statement (see _NO_ORIGIN)
        self._pending_code = None  # the user's code object and instruction offset of the next statement
        self._pending_offset = 0
        self._connection = None
        self._started = perf_counter()
        self._targets: list[tuple[Any, str, Callable]] = []
        self._origins: dict = {}

    # -- wiring -------------------------------------------------------------------------------------------
    def attach(self, bind, session=None) -> QueryCapture:
        """Capture statements of ``bind`` (a Connection: only its statements; an Engine: all of them) and,
        if given, the ORM context of ``session``'s executions."""
        engine = getattr(bind, "engine", bind)
        self._connection = bind if bind is not engine else None
        self._records = None
        self._listen(engine, "do_execute", self._do_execute)
        self._listen(engine, "do_execute_no_params", self._do_execute_no_params)
        self._listen(engine, "do_executemany", self._do_executemany)
        if session is not None:
            self._listen(session, "do_orm_execute", self._do_orm_execute)
        return self

    def detach(self) -> None:
        for target, name, fn in self._targets:
            if event.contains(target, name, fn):
                event.remove(target, name, fn)
        self._targets.clear()
        self._records = self._build_records()

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
        """The captured statements (built fresh while attached, fixed once detached)."""
        return self._records if self._records is not None else self._build_records()

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
        if self._records is not None:
            return self._records
        sources: dict = {}
        records = []
        for index in range(len(self._sql)):
            where = (self._source_code[index], self._source_offset[index])
            source = sources.get(where)
            if source is None:
                source = sources[where] = _source_text(*where)
            records.append(StatementRecord(
                index, self._sql[index], self._params[index], self._start[index] - self._started,
                self._execute[index], self._fetch[index], self._rows[index], *self._origin[index],
                source, self._errors.get(index),
            ))
        return records

    # -- listeners: they run once per statement, so they stay small and repeat themselves on purpose ---------
    def _do_orm_execute(self, state) -> None:
        path = state.loader_strategy_path
        relationship_load = False
        if path is not None and not path.is_root:
            lazy = state.lazy_loaded_from is not None
            # a lazy load is never a column load (SQLAlchemy sets _lazy_loaded_from only for lazy loads and
            # _for_refresh_state only for refreshes), so the lazy N+1 path asks one property fewer
            relationship_load = lazy or not state.is_column_load
        if relationship_load:
            origin = self._origins.get((path, lazy))
            if origin is None:
                origin = self._origins[(path, lazy)] = _relationship_origin(path.natural_path, lazy)
        else:
            entity = lookup = dynamic = None
            if state.is_column_load:
                mappers = state.all_mappers
                if mappers and mappers[0].inherits is not None and (
                        mappers[0].local_table is not mappers[0].inherits.local_table):
                    # a subclass's own columns, loaded per object (joined-table inheritance)
                    entity, lookup = mappers[0].class_.__name__, (mappers[0].base_mapper.class_.__name__,)
            elif state.is_select:
                mappers = state.all_mappers
                if mappers:
                    entity = mappers[0].class_.__name__
                    lookup = _key_lookup(state.statement, mappers[0])
                    if lookup is None:
                        dynamic = _dynamic_relationship(state.statement, mappers[0])
            if dynamic is not None:
                origin = self._origins.get(dynamic)
                if origin is None:
                    origin = self._origins[dynamic] = (
                        "dynamic", *_relationship_origin((dynamic.parent, dynamic), True)[1:5], entity,
                        _joining_keys(dynamic), (dynamic.parent.class_.__name__, dynamic.key))
            else:
                columns = state.is_column_load
                origin = self._origins.get((entity, lookup, columns))
                if origin is None:
                    loader = "columns" if columns and lookup else "get" if lookup else "query"
                    origin = self._origins[(entity, lookup, columns)] = (
                        loader, None, None, None, False, entity, lookup, None)
        self._pending = origin
        if self.source_lines:
            frame = _user_frame(sys._getframe(1))
            if frame is not None:
                self._pending_code, self._pending_offset = frame.f_code, frame.f_lasti
            else:
                self._pending_code, self._pending_offset = None, 0

    def _new_entry(self, statement, parameters, started: float) -> int:
        origin = self._pending
        if origin is not None:
            self._pending = None
            code, offset = self._pending_code, self._pending_offset
        elif self.source_lines:
            origin = _NO_ORIGIN
            frame = _user_frame(sys._getframe(2))
            code, offset = (frame.f_code, frame.f_lasti) if frame is not None else (None, 0)
        else:
            origin, code, offset = _NO_ORIGIN, None, 0
        index = len(self._sql)
        self._sql.append(statement)
        self._params.append(parameters)
        self._origin.append(origin)
        self._source_code.append(code)
        self._source_offset.append(offset)
        self._start.append(started)
        self._execute.append(0.0)
        self._fetch.append(0.0)
        self._rows.append(0)
        return index

    def _failed(self, index: int, started: float, error: BaseException) -> None:
        self._execute[index] = perf_counter() - started
        self._errors[index] = str(error).splitlines()[0][:300] if str(error) else type(error).__name__

    def _notify(self) -> None:
        if len(self._sql) % self.notify_every == 0:
            self.on_statement(len(self._sql))

    # The three dialect hooks below are written out on purpose: they run once per statement, and folding them
    # into one helper measured 2-5 µs more CPU per statement (benchmarks/query_capture.py --quick).
    def _do_execute(self, cursor, statement, parameters, context) -> bool:
        if self._connection is not None and context.root_connection is not self._connection:
            return False
        started = perf_counter()
        index = self._new_entry(statement, parameters, started)
        try:
            context.dialect.do_execute(cursor, statement, parameters, context)
        except BaseException as error:
            self._failed(index, started, error)
            raise
        self._execute[index] = perf_counter() - started
        context.cursor = _TimedCursor(cursor, self, index)
        if self.on_statement is not None:
            self._notify()
        return True

    def _do_execute_no_params(self, cursor, statement, context) -> bool:
        if self._connection is not None and context.root_connection is not self._connection:
            return False
        started = perf_counter()
        index = self._new_entry(statement, None, started)
        try:
            context.dialect.do_execute_no_params(cursor, statement, context)
        except BaseException as error:
            self._failed(index, started, error)
            raise
        self._execute[index] = perf_counter() - started
        context.cursor = _TimedCursor(cursor, self, index)
        if self.on_statement is not None:
            self._notify()
        return True

    def _do_executemany(self, cursor, statement, parameters, context) -> bool:
        if self._connection is not None and context.root_connection is not self._connection:
            return False
        started = perf_counter()
        index = self._new_entry(statement, parameters, started)
        try:
            context.dialect.do_executemany(cursor, statement, parameters, context)
        except BaseException as error:
            self._failed(index, started, error)
            raise
        self._execute[index] = perf_counter() - started
        if self.on_statement is not None:
            self._notify()
        return True


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
