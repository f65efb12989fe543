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
``loader_strategy_path``); it fires just before its statement reaches the cursor, so it is parked in one
slot and claimed by the next executed statement.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from time import perf_counter
from typing import Any, Callable

import sqlalchemy
from sqlalchemy import event

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
    loader: str = "query"  # "query" (top level or Core), "lazy", "eager" (selectin/subquery/immediate...)
    relationship: str | None = None  # e.g. "Book.stores"
    parent: str | None = None  # class owning the relationship, e.g. "Book"
    target: str | None = None  # class the relationship loads, e.g. "Store"
    collection: bool = False  # one-to-many / many-to-many (True) or many-to-one (False)
    entity: str | None = None  # root entity of a top-level ORM query, e.g. "Author"
    source: str | None = None  # "file.py:12 in func" of the user's code, when source lines are on
    error: str | None = None

    @property
    def is_write(self) -> bool:
        words = self.sql.split(None, 1)
        return bool(words) and words[0].upper() in _WRITE_VERBS


class _TimedCursor:
    """Delegates to a DBAPI cursor, timing the calls that consume rows (see the module docstring)."""

    __slots__ = ("_cursor", "_record")

    def __init__(self, cursor, record: StatementRecord):
        self._cursor = cursor
        self._record = record

    def fetchall(self):
        started = perf_counter()
        rows = self._cursor.fetchall()
        self._record.fetch_s += perf_counter() - started
        self._record.rows += len(rows)
        return rows

    def fetchmany(self, *args):
        started = perf_counter()
        rows = self._cursor.fetchmany(*args)
        self._record.fetch_s += perf_counter() - started
        self._record.rows += len(rows)
        return rows

    def fetchone(self):
        started = perf_counter()
        row = self._cursor.fetchone()
        self._record.fetch_s += perf_counter() - started
        if row is not None:
            self._record.rows += 1
        return row

    def __iter__(self):
        return iter(self.fetchall())

    def __getattr__(self, name):
        return getattr(self._cursor, name)


def user_source_line() -> str | None:
    """The innermost frame outside SQLAlchemy, the profiler and the standard library: "file:line in func"."""
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not (filename in _MACHINERY or filename.startswith(_SQLALCHEMY_DIR) or filename.startswith(_STDLIB_DIR)):
            return f"{filename}:{frame.f_lineno} in {frame.f_code.co_name}"
        frame = frame.f_back
    return None


# what do_orm_execute learned about the next statement, in StatementRecord's field order from `loader` on:
# (loader, relationship, parent, target, collection, entity, source)
_NO_ORIGIN = ("query", None, None, None, False, None, None)


class QueryCapture:
    """Records every statement run on one connection (and the ORM context of one session).

    Use ``attach(connection, session)`` / ``detach()``, or ``with QueryCapture().attach(...)``.
    ``on_statement(count)`` is called every ``notify_every`` statements, so a UI can show progress live.

    Statements are timed in the dialect-level ``do_execute`` events (public, documented: a handler may run
    the cursor execution itself and return True). They cost far less per statement than the connection's
    ``before/after_cursor_execute`` pair, which switches the whole execution onto SQLAlchemy's event path
    (measured here: ~10 µs per statement for two empty listeners). Dialect events belong to the engine, so
    statements of other connections of the same engine are skipped by identity.
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
        self.statements: list[StatementRecord] = []
        self._pending: tuple | None = None
        self._connection = None
        self._started = perf_counter()
        self._targets: list[tuple[Any, str, Callable]] = []
        self._origins: dict[tuple, tuple] = {}

    # -- wiring -------------------------------------------------------------------------------------------
    def attach(self, bind, session=None) -> QueryCapture:
        """Capture statements of ``bind`` (a Connection: only its statements; an Engine: all of them) and,
        if given, the ORM context of ``session``'s executions."""
        engine = getattr(bind, "engine", bind)
        self._connection = bind if bind is not engine else None
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

    def _listen(self, target, name, fn):
        event.listen(target, name, fn)
        self._targets.append((target, name, fn))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.detach()

    # -- listeners (hot path: keep them lean) ----------------------------------------------------------------
    def _do_orm_execute(self, state) -> None:
        path = state.loader_strategy_path
        if path is not None and not path.is_root:
            lazy = state.lazy_loaded_from is not None
            prop = path.natural_path[-1]
            origin = self._origins.get((prop, lazy))
            if origin is None:
                origin = self._origins[(prop, lazy)] = _relationship_origin(prop, lazy)
        else:
            entity = None
            if state.is_select and not state.is_column_load:
                mappers = state.all_mappers
                entity = mappers[0].class_.__name__ if mappers else None
            origin = ("query", None, None, None, False, entity, None)
        if self.source_lines:
            origin = origin[:6] + (user_source_line(),)
        self._pending = origin

    def _new_record(self, statement, parameters) -> StatementRecord:
        origin = self._pending
        self._pending = None
        if origin is None:
            origin = _NO_ORIGIN if not self.source_lines else _NO_ORIGIN[:6] + (user_source_line(),)
        record = StatementRecord(
            len(self.statements), statement, parameters, perf_counter() - self._started, 0.0, 0.0, 0, *origin
        )
        self.statements.append(record)
        return record

    def _failed(self, record: StatementRecord, started: float, error: BaseException) -> None:
        record.execute_s = perf_counter() - started
        record.error = str(error).splitlines()[0][:300] if str(error) else type(error).__name__

    def _executed(self, record: StatementRecord, started: float) -> None:
        record.execute_s = perf_counter() - started
        if self.on_statement is not None and len(self.statements) % self.notify_every == 0:
            self.on_statement(len(self.statements))

    def _do_execute(self, cursor, statement, parameters, context) -> bool:
        if self._connection is not None and context.root_connection is not self._connection:
            return False
        record = self._new_record(statement, parameters)
        started = perf_counter()
        try:
            context.dialect.do_execute(cursor, statement, parameters, context)
        except BaseException as error:
            self._failed(record, started, error)
            raise
        self._executed(record, started)
        context.cursor = _TimedCursor(cursor, record)
        return True

    def _do_execute_no_params(self, cursor, statement, context) -> bool:
        if self._connection is not None and context.root_connection is not self._connection:
            return False
        record = self._new_record(statement, None)
        started = perf_counter()
        try:
            context.dialect.do_execute_no_params(cursor, statement, context)
        except BaseException as error:
            self._failed(record, started, error)
            raise
        self._executed(record, started)
        context.cursor = _TimedCursor(cursor, record)
        return True

    def _do_executemany(self, cursor, statement, parameters, context) -> bool:
        if self._connection is not None and context.root_connection is not self._connection:
            return False
        record = self._new_record(statement, parameters)
        started = perf_counter()
        try:
            context.dialect.do_executemany(cursor, statement, parameters, context)
        except BaseException as error:
            self._failed(record, started, error)
            raise
        self._executed(record, started)
        return True

    # -- totals ------------------------------------------------------------------------------------------------
    @property
    def execute_s(self) -> float:
        return sum(record.execute_s for record in self.statements)

    @property
    def fetch_s(self) -> float:
        return sum(record.fetch_s for record in self.statements)

    @property
    def rows(self) -> int:
        return sum(record.rows for record in self.statements)


def _relationship_origin(prop, lazy: bool) -> tuple:
    loader = "lazy" if lazy else "eager"
    if not hasattr(prop, "mapper"):
        return (loader, None, None, None, False, None, None)
    parent = prop.parent.class_.__name__
    return (loader, f"{parent}.{prop.key}", parent, prop.mapper.class_.__name__, bool(prop.uselist), None, None)


__all__ = ["QueryCapture", "StatementRecord", "user_source_line"]
