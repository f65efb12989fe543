"""A deadline for one workload run, and the walls around it on SQLite.

Python cannot kill a thread, so at the deadline a watchdog thread (1) cancels the statement in flight through
the driver (psycopg ``cancel``, sqlite3 ``interrupt``) and (2) raises ``WorkloadTimeout`` asynchronously in
the thread running the workload (``PyThreadState_SetAsyncExc``), which interrupts pure-Python loops at the
next bytecode. A workload blocked in a C call that is neither (e.g. ``time.sleep``) would not notice either, so
the workload runs in a thread of its own (when its connection may be used from another thread) and is
abandoned ``ABANDON_GRACE_S`` after its deadline: its connection is closed, which ends its transaction and
releases its locks, and the thread ends when the C call returns.

SQLite's Python driver opens no transaction before DDL (``CREATE INDEX`` or ``DROP TABLE`` would stay after
the "rollback"), so :func:`sqlite_sandbox` begins the transaction itself, as SQLAlchemy documents for
transactional DDL on pysqlite, and refuses, through SQLite's authorizer, what would escape it: ending the
transaction, attaching another database file, changing a setting with a PRAGMA.
"""

from __future__ import annotations

import ctypes
import re
import sqlite3
import threading

from sqlalchemy import event

# After the deadline fires, how long a workload gets to notice the cancel and the exception before it is
# abandoned: the cancel reaches psycopg/sqlite in milliseconds and a Python loop stops at its next bytecode.
ABANDON_GRACE_S = 2.0


class WorkloadTimeout(Exception):
    """The workload ran past its deadline and was cancelled."""


def _set_async_exception(thread_id: int, exception: type[BaseException] | None) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exception) if exception is not None else None
    )


def cancel_database_call(dbapi_connection) -> None:
    for method in ("cancel_safe", "cancel", "interrupt"):
        cancel = getattr(dbapi_connection, method, None)
        if cancel is not None:
            try:
                cancel()
            except Exception:  # noqa: BLE001 - best effort: the async exception still stops Python code
                continue
            return


class Deadline:
    """``with Deadline(seconds, dbapi_connection):`` around a workload run; ``fired`` tells what happened."""

    def __init__(self, seconds: float | None, dbapi_connection=None):
        self.seconds = seconds
        self.dbapi_connection = dbapi_connection
        self.fired = False
        self._armed = False
        self._lock = threading.Lock()
        self._thread_id = threading.get_ident()  # the thread that makes the deadline is the one it interrupts
        self._timer: threading.Timer | None = None

    def __enter__(self) -> Deadline:
        if self.seconds is not None:
            self._armed = True
            self._timer = threading.Timer(self.seconds, self._fire)
            self._timer.daemon = True
            self._timer.start()
        return self

    def _fire(self) -> None:
        with self._lock:
            if not self._armed:
                return
            self.fired = True
            if self.dbapi_connection is not None:
                cancel_database_call(self.dbapi_connection)
            _set_async_exception(self._thread_id, WorkloadTimeout)

    def disarm(self) -> None:
        """Stop the watchdog; drop an exception it raised that has not been delivered yet."""
        if self._timer is not None:
            self._timer.cancel()
        with self._lock:
            self._armed = False
            if self.fired:
                _set_async_exception(self._thread_id, None)

    def __exit__(self, *exc) -> None:
        self.disarm()


# SQLite's authorizer action codes (sqlite3.h) of what a workload may not do inside the profiler's transaction.
_TRANSACTION, _ATTACH, _DETACH, _PRAGMA = 22, 24, 25, 19
# PRAGMAs that only read (with an argument naming what to read): everything else with a value changes a setting
# that outlives the transaction on the pooled connection, or the file itself (journal_mode, user_version...).
_READING_PRAGMAS = frozenset({
    "table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo", "foreign_key_list",
    "foreign_key_check", "integrity_check", "quick_check", "function_list", "pragma_list", "collation_list",
})
_REFUSALS = {_TRANSACTION: "end or restart the transaction (BEGIN, COMMIT, ROLLBACK)",
             _ATTACH: "attach another database file", _DETACH: "detach a database", _PRAGMA: "change a PRAGMA"}


class SqliteSandbox:
    """Around one workload run on a sqlite3 connection whose SQLAlchemy transaction has begun: :meth:`enter`
    opens the transaction (DDL included) and turns the refusals on; :meth:`leave` turns them off, before the
    caller rolls back; :meth:`restore` gives the driver its own transaction handling back, after the rollback.
    ``refused`` lists what the workload was refused."""

    def __init__(self, dbapi_connection):
        self.dbapi_connection = dbapi_connection
        self.refused: list[str] = []
        self._legacy = dbapi_connection.isolation_level

    def _authorize(self, action, first, second, _database, _trigger):
        if action in (_TRANSACTION, _ATTACH, _DETACH) or (
                action == _PRAGMA and second is not None and (first or "").lower() not in _READING_PRAGMAS):
            self.refused.append(_REFUSALS[action] + (f" {first}" if action == _PRAGMA else ""))
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    def enter(self) -> None:
        if not self.dbapi_connection.in_transaction:
            self.dbapi_connection.isolation_level = None  # nothing is open yet, so this commits nothing
            self.dbapi_connection.execute("BEGIN")
        self.dbapi_connection.set_authorizer(self._authorize)

    def leave(self) -> None:
        try:
            self.dbapi_connection.set_authorizer(None)
        except sqlite3.Error:
            pass  # closed: an abandoned workload's connection, its transaction gone with it

    def restore(self) -> None:
        try:
            if not self.dbapi_connection.in_transaction:
                self.dbapi_connection.isolation_level = self._legacy
        except sqlite3.Error:
            pass


_ENDS_TRANSACTION = re.compile(
    r"(?:^|;)\s*(?:(?:--[^\n]*\n|/\*.*?\*/)\s*)*"
    r"(COMMIT|END|ABORT|ROLLBACK(?!\s+TO\b)|BEGIN|START\s+TRANSACTION|PREPARE\s+TRANSACTION)\b",
    re.IGNORECASE | re.DOTALL,
)
_ONE_TRANSACTION = ("every run is one transaction that the profiler rolls back, so that nothing the workload "
                    "writes stays; profile read-only code")


class TransactionGuard:
    """Listeners on one SQLAlchemy Connection while a workload runs on it: refuse ending its transaction."""

    def __init__(self, connection):
        self.connection = connection

    def _commit(self, _connection) -> None:
        raise PermissionError(f"the workload tried to commit: {_ONE_TRANSACTION}")

    def _before_cursor_execute(self, _conn, _cursor, statement, _parameters, _context, _many) -> None:
        found = _ENDS_TRANSACTION.search(statement or "")
        if found:
            raise PermissionError(f"the workload tried to run {found.group(1).upper()}: {_ONE_TRANSACTION}")

    def __enter__(self) -> "TransactionGuard":
        event.listen(self.connection, "commit", self._commit)
        event.listen(self.connection, "before_cursor_execute", self._before_cursor_execute)
        return self

    def __exit__(self, *exc) -> None:
        event.remove(self.connection, "commit", self._commit)
        event.remove(self.connection, "before_cursor_execute", self._before_cursor_execute)
