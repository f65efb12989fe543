"""A deadline for one workload run: cancel the database statement and interrupt the Python code.

Python cannot kill a thread, so at the deadline a watchdog thread (1) cancels the statement in flight through
the driver (psycopg ``cancel``, sqlite3 ``interrupt``) and (2) raises ``WorkloadTimeout`` asynchronously in
the thread running the workload (``PyThreadState_SetAsyncExc``), which interrupts pure-Python loops at the
next bytecode. A workload blocked in a C call that is neither (e.g. ``time.sleep``) ends when that call
returns; the run is then still reported as timed out.
"""

from __future__ import annotations

import ctypes
import threading


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
        self._thread_id = threading.get_ident()
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
