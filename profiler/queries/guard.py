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
transaction, attaching another database file, changing a setting with a PRAGMA. On PostgreSQL,
:class:`PostgresGuard` makes the server itself refuse to commit the run's transaction, however the workload
asks (``TransactionGuard`` only gives the clearer message for what passes through SQLAlchemy).
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


# PostgreSQL ends the run's transaction on COMMIT however it is sent (SQL text through SQLAlchemy or through the
# driver's own cursor, the driver's commit()), and Python cannot see every road, so the refusal comes from the
# server: a row inserted when the run begins into a table whose deferred constraint trigger raises makes every
# commit of that transaction (and PREPARE TRANSACTION, and SET CONSTRAINTS ... IMMEDIATE) fail, and PostgreSQL
# rolls the transaction back. The row is the run's first write, so no savepoint of the workload's can undo it,
# and while its trigger event is pending PostgreSQL refuses to drop, truncate or alter the table. The
# profiler's own rollback fires nothing.
GUARD_TABLE = "_workbench_run_guard"
GUARD_FUNCTION = "_workbench_refuse_commit"
REFUSED_COMMIT = "the profiler rolls back every run: a workload may not commit"
_GUARD_OBJECTS = f"""
CREATE OR REPLACE FUNCTION {{schema}}.{GUARD_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING MESSAGE = '{REFUSED_COMMIT}', ERRCODE = 'invalid_transaction_termination';
END $$;
CREATE {{kind}} TABLE IF NOT EXISTS {{schema}}.{GUARD_TABLE} (run_at timestamptz NOT NULL DEFAULT now());
DROP TRIGGER IF EXISTS {GUARD_FUNCTION} ON {{schema}}.{GUARD_TABLE};
CREATE CONSTRAINT TRIGGER {GUARD_FUNCTION} AFTER INSERT ON {{schema}}.{GUARD_TABLE}
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {{schema}}.{GUARD_FUNCTION}()
"""
# The guard table this connection can use, if any: its own temporary one first, else one in its first schema.
_FIND_GUARD = f"""
SELECT current_setting('default_transaction_read_only'),
       (SELECT c.oid::regclass::text FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
         WHERE t.tgname = '{GUARD_FUNCTION}' AND c.relname = '{GUARD_TABLE}'
           AND c.relnamespace IN (pg_my_temp_schema(), to_regnamespace(quote_ident(current_schema())))
         ORDER BY c.relnamespace = pg_my_temp_schema() DESC LIMIT 1)
"""
_SQLSTATE_READ_ONLY = "25006"


class PostgresGuard:
    """Around one workload run on a PostgreSQL DB-API connection (psycopg), before any statement of the run's
    transaction: :meth:`enter` makes PostgreSQL refuse to commit the run's transaction (see above) and makes
    every later transaction of the session read-only, so a workload that swallows the refusal and carries on in
    a new transaction cannot write either; :meth:`refusal` names what happened; :meth:`leave`, after the
    rollback, gives the session its setting back.

    The guard's statements go through the driver, under SQLAlchemy's events: the capture never sees them and
    they count in no statement total. A role may lack the TEMP privilege (the hub's user roles do), so the
    guard table is then made once in the role's own schema, where the catalog's bookkeeping lives too."""

    def __init__(self, dbapi_connection):
        self.dbapi_connection = dbapi_connection
        self.active = False
        self._xid: int | None = None

    def _execute(self, statement: str):
        cursor = self.dbapi_connection.cursor()
        try:
            cursor.execute(statement)
            return cursor.fetchone() if cursor.description else None
        finally:
            cursor.close()

    def _autocommit(self, statement: str):
        self.dbapi_connection.autocommit = True
        try:
            return self._execute(statement)
        finally:
            self.dbapi_connection.autocommit = False

    def _create(self) -> str:
        try:
            self._autocommit(_GUARD_OBJECTS.format(schema="pg_temp", kind="TEMPORARY"))
            return f"pg_temp.{GUARD_TABLE}"
        except Exception as temporary_refused:  # e.g. no TEMP privilege (hub users): the role's own schema
            schema = self._execute("SELECT quote_ident(current_schema())")[0]
            self.dbapi_connection.rollback()
            if schema is None:
                raise PermissionError(
                    "the profiler cannot make PostgreSQL refuse a workload's commit on this connection: it may not "
                    "create temporary tables and has no schema of its own; nothing was run") from temporary_refused
            try:
                # One at a time, and only if no other connection of the role made them meanwhile: remaking the
                # trigger would wait for every run in progress on the table to end.
                self._execute(f"SELECT pg_advisory_xact_lock(hashtext('{GUARD_TABLE}'))")
                if self._execute(_FIND_GUARD)[1] is None:
                    self._execute(_GUARD_OBJECTS.format(schema=schema, kind="UNLOGGED"))
                self.dbapi_connection.commit()
            except Exception as error:  # said as one refusal, naming both attempts
                self.dbapi_connection.rollback()
                raise PermissionError(
                    "the profiler cannot make PostgreSQL refuse a workload's commit on this connection: it may "
                    f"neither create temporary tables nor a table in schema {schema} ({str(error).strip()}); "
                    "nothing was run") from error
            return f"{schema}.{GUARD_TABLE}"

    def enter(self) -> None:
        read_only, table = self._autocommit(_FIND_GUARD)
        if read_only == "on":
            return  # the run's transaction cannot write, so committing it changes nothing
        table = table or self._create()
        self._autocommit("SET SESSION default_transaction_read_only = on")
        self.active = True
        self._execute("SET TRANSACTION READ WRITE")
        self._execute(f"INSERT INTO {table} DEFAULT VALUES")
        # the count reads the table's page, which prunes the rows earlier runs inserted and rolled back
        self._xid = self._execute(f"SELECT txid_current(), (SELECT count(*) FROM {table})")[0]

    def transaction_ended(self) -> bool:
        """Whether the run's transaction is over (the workload ended it), asked before the rollback."""
        if not self.active:
            return False
        try:
            return self._execute("SELECT txid_current_if_assigned()")[0] != self._xid
        except Exception:  # noqa: BLE001 - a transaction in error cannot say; the workload's own error stands
            return False

    def refusal(self, error: BaseException | None) -> str | None:
        """What to tell the user when the workload tried to end the run's transaction: ``error`` is what the
        workload raised (None if it returned)."""
        if not self.active:
            return None
        seen: set[int] = set()
        while error is not None and id(error) not in seen:
            seen.add(id(error))
            original = getattr(error, "orig", None) or error
            if REFUSED_COMMIT in str(original):
                return (f"the workload tried to commit, which PostgreSQL refused and rolled back: "
                        f"{_ONE_TRANSACTION}")
            if (getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)) == _SQLSTATE_READ_ONLY:
                return (f"the workload ended the profiler's transaction, then wrote in a new one, which PostgreSQL "
                        f"refused (read-only): {_ONE_TRANSACTION}")
            error = error.__cause__ or error.__context__
        if self.transaction_ended():
            return (f"the workload ended the profiler's transaction (a commit, which PostgreSQL refused and rolled "
                    f"back, or a rollback): {_ONE_TRANSACTION}")
        return None

    def leave(self) -> bool:
        """After the rollback: the session's default back to read-write; False if the connection cannot be
        trusted with it (then it must not go back to the pool)."""
        if not self.active:
            return True
        try:
            self._autocommit("SET SESSION default_transaction_read_only = off")
        except Exception:  # noqa: BLE001 - e.g. closed: the caller invalidates it
            return False
        return True
