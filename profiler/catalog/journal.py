"""Model changes in flight, so that one cut short by the kernel's death is told to the user when they come back.

A change is one transaction, so a kernel killed mid-change leaves nothing of it: the database rolls it back
when the connection drops. But nothing would tell the user. So before a change starts, an entry naming it is
committed to a small bookkeeping table beside the catalog's (``_workbench_changes``, in the user's own space:
it outlives the kernel and every kernel of the user reads it), and the change's own transaction deletes the
entry: it is gone exactly when the change is applied. A change that fails normally (the user saw its error)
clears its entry after its rollback. What is left is a change that never finished.

An entry whose change may still be running is not one of those: each entry names the connection (PostgreSQL:
its server process and that process's start) or the process (SQLite: host, pid and the process's start) that
runs the change, and is reported only once that is gone. Reading the journal only reads, so a dashboard can
show it as it opens; the user dismisses what was shown.
"""

from __future__ import annotations

import os
import socket
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from sqlalchemy import (Column, Connection, DateTime, Engine, Integer, MetaData, String, Table, Text, delete, insert,
                        inspect, select, text)

JOURNAL_TABLE = "_workbench_changes"

# PostgreSQL: the server process serving this connection, and when it started (a pid alone is reused).
_THIS_BACKEND = ("SELECT pid::text || '@' || extract(epoch FROM backend_start)::text FROM pg_stat_activity "
                 "WHERE pid = pg_backend_pid()")
_LIVE_BACKENDS = ("SELECT pid::text || '@' || extract(epoch FROM backend_start)::text FROM pg_stat_activity "
                  "WHERE usename = current_user")


@dataclass(frozen=True)
class InterruptedChange:
    """A change of ``model`` that started at ``started_at`` (UTC) and never finished: nothing of it was
    applied. ``rows`` is what a fill was asked to add (None for other changes)."""

    id: int
    kind: str
    model: str
    description: str
    started_at: datetime
    rows: int | None = None

    def message(self, now: datetime | None = None) -> str:
        """What to tell the user, e.g. "Your change 'add column note to orders', started 10:42 UTC, was
        interrupted (the kernel stopped) and rolled back: nothing of it was applied. You can run it again." """
        started = self.started_at.replace(tzinfo=timezone.utc).astimezone()
        today = (now or datetime.now(timezone.utc)).astimezone(started.tzinfo).date()
        when = started.strftime("%H:%M %Z") if started.date() == today else started.strftime("%Y-%m-%d %H:%M %Z")
        if self.kind == "fill":
            return (f"Your fill of {self.model!r} with {self.rows:,} rows, started {when}, was interrupted (the "
                    "kernel stopped) and rolled back: none of its rows were kept (a fill is one transaction). "
                    "You can run it again.")
        return (f"Your change '{self.description}', started {when}, was interrupted (the kernel stopped) and "
                "rolled back: nothing of it was applied. You can run it again.")


def _process_stat(pid: int) -> list[str]:
    """/proc/<pid>/stat's fields after the command name (which may hold spaces); empty where /proc does not say."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
    except OSError:
        return []


def _process_start(pid: int) -> str:
    """When process ``pid`` started, in clock ticks since boot (Linux), so that a reused pid is not taken for
    the process that wrote the entry."""
    fields = _process_stat(pid)
    return fields[19] if len(fields) > 19 else ""


def _this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{_process_start(os.getpid())}"


def _process_alive(owner: str) -> bool:
    host, _, rest = owner.partition(":")
    pid_text, _, started = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False  # only this host's processes write a local space
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process holds the pid: it exists
    fields = _process_stat(int(pid_text))
    if fields and fields[0] in ("Z", "X"):
        return False  # killed, not yet reaped by its parent (the kernel's manager)
    return not started or (fields[19] if len(fields) > 19 else "") == started


class Journal:
    """The journal of model changes in one data space (``schema`` None: SQLite's main database)."""

    def __init__(self, engine: Engine, schema: str | None):
        self.engine = engine
        self.schema = schema
        self.table = Table(
            JOURNAL_TABLE, MetaData(),
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("kind", String(20), nullable=False),
            Column("model", Text, nullable=False),
            Column("description", Text, nullable=False),
            Column("started_at", DateTime, nullable=False),
            Column("rows", Integer),
            Column("owner", Text, nullable=False),
            schema=schema,
        )

    def _owner(self, connection: Connection) -> str:
        if connection.dialect.name == "postgresql":
            return connection.execute(text(_THIS_BACKEND)).scalar_one()
        return _this_process()

    @contextmanager
    def change(self, kind: str, model: str, description: str, rows: int | None = None) -> Iterator[Connection]:
        """``with journal.change("add_column", "orders", "add column note to orders") as connection:`` the
        change, in a transaction on ``connection`` that commits when the block ends (rolls back if it raises).
        The entry is committed before the block starts and leaves with the change's commit."""
        with self.engine.connect() as connection:
            self.table.create(connection, checkfirst=True)
            started = datetime.now(timezone.utc).replace(tzinfo=None)
            entry = connection.execute(insert(self.table).values(
                kind=kind, model=model, description=description, started_at=started, rows=rows,
                owner=self._owner(connection))).inserted_primary_key[0]
            connection.commit()
            try:
                with connection.begin():
                    connection.execute(delete(self.table).where(self.table.c.id == entry))
                    yield connection
            except BaseException:
                self._clear(connection, [entry])  # it failed where the user saw it: nothing to tell later
                raise

    def _clear(self, connection: Connection, entries: list[int]) -> None:
        try:
            if connection.in_transaction():
                connection.rollback()
            with connection.begin():
                connection.execute(delete(self.table).where(self.table.c.id.in_(entries)))
        except Exception:  # noqa: BLE001 - the connection is gone: the entry is then told as interrupted, which it was
            pass

    def interrupted(self) -> list[InterruptedChange]:
        """The changes that never finished, oldest first. Only reads."""
        with self.engine.connect() as connection:
            if not inspect(connection).has_table(JOURNAL_TABLE, schema=self.schema):
                return []
            table = self.table
            rows = connection.execute(select(table).order_by(table.c.id)).all()
            if not rows:
                return []
            if connection.dialect.name == "postgresql":
                live = set(connection.scalars(text(_LIVE_BACKENDS)))
                running = lambda owner: owner in live  # noqa: E731
            else:
                running = _process_alive
        return [InterruptedChange(row.id, row.kind, row.model, row.description, row.started_at, row.rows)
                for row in rows if not running(row.owner)]

    def dismiss(self, changes: list[InterruptedChange]) -> None:
        """Forget ``changes`` (once the user has been told)."""
        if not changes:
            return
        with self.engine.begin() as connection:
            connection.execute(delete(self.table).where(self.table.c.id.in_([change.id for change in changes])))
