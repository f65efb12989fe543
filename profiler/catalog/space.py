"""Where a user's models live: their own database space next to the read-only built-in one.

- **PostgreSQL** (what the hub hands over in ``WORKBENCH_DATA_URL`` / ``WORKBENCH_DATA_SCHEMA``): the user's
  own role, which owns one schema, and the shared ``builtin`` schema it may only read.
- **SQLite** (embedded default): the user's own file (mode 0600, in a folder only they can enter, 0700) with
  the built-in file ATTACHed read-only (``mode=ro``) as schema ``builtin``. Local mode's separation between
  users is the operating system's: it holds only when the spawner runs each user's server as their own system
  user (``WORKBENCH_SPAWNER=system-users``); with one system user for everybody, files modes cannot keep one
  user's notebook from opening another's file.

Both give the same names: the user's tables in ``space.schema`` (None on SQLite: the main database) and the
built-ins in schema ``builtin``. DDL runs in transactions on both (pysqlite's own transaction handling is
replaced by explicit BEGIN, as SQLAlchemy's documentation recommends), so a failed change leaves nothing.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from profiler.playground import BUILTIN_DATA_URL, DATA_SCHEMA, DATA_URL

from profiler.playground import BUILTIN_SCHEMA

LOCAL_FOLDER = Path.home() / ".workbench"
USER_FILE = "models.sqlite"
BUILTIN_FILE = "builtin.sqlite"


class SpaceError(RuntimeError):
    """The user's data space cannot be opened; the message says what is missing."""


@dataclass(frozen=True)
class DataSpace:
    engine: Engine
    schema: str | None  # the user's schema (PostgreSQL) or None (SQLite's main database)
    builtin_schema: str = BUILTIN_SCHEMA

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def make_read_only(self) -> None:
        """From now on every connection of this space is read-only in the database itself (PostgreSQL's
        ``default_transaction_read_only``, SQLite's ``query_only``), so a shared view cannot write even if a
        check in Python were missed. Connections already pooled are closed."""

        @event.listens_for(self.engine, "connect")
        def _read_only(dbapi_connection, _record):
            if self.dialect == "postgresql":
                # outside a transaction, or the rollback that ends it would undo the setting
                autocommit, dbapi_connection.autocommit = dbapi_connection.autocommit, True
                dbapi_connection.execute("SET SESSION default_transaction_read_only = on")
                dbapi_connection.autocommit = autocommit
            else:
                dbapi_connection.execute("PRAGMA query_only = ON")

        self.engine.dispose()

    def describe(self) -> str:
        url = self.engine.url.render_as_string(hide_password=True)
        return f"{url} (schema {self.schema})" if self.schema else url


def _private_file(path: Path) -> None:
    """Make the user's folder 0700 and their database file 0600 before SQLite ever opens it."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    os.chmod(path, 0o600)


def sqlite_space(path: str | Path, builtin_path: str | Path | None) -> DataSpace:
    """The user's SQLite file at ``path`` with ``builtin_path`` (if given) attached read-only."""
    path = Path(path).expanduser().resolve()
    _private_file(path)
    builtin_uri = None
    if builtin_path is not None:
        builtin_path = Path(builtin_path).expanduser().resolve()
        if not builtin_path.is_file():
            raise SpaceError(f"the built-in models file {builtin_path} does not exist: the hub creates it with "
                             "`python -m profiler.datagen.builtins sqlite:///PATH`")
        builtin_uri = builtin_path.as_uri() + "?mode=ro"

    def connect():
        connection = sqlite3.connect(path.as_uri() + "?mode=rw", uri=True, check_same_thread=False)
        connection.isolation_level = None  # BEGIN is ours (see the "begin" listener): DDL is transactional
        connection.execute("PRAGMA foreign_keys = ON")
        if builtin_uri:
            connection.execute("ATTACH DATABASE ? AS " + BUILTIN_SCHEMA, (builtin_uri,))
        return connection

    engine = create_engine("sqlite://", creator=connect)

    @event.listens_for(engine, "begin")
    def _begin(connection):
        connection.exec_driver_sql("BEGIN")

    return DataSpace(engine, None)


def postgresql_space(url: str, schema: str) -> DataSpace:
    if not schema:
        raise SpaceError(f"{DATA_SCHEMA} is not set: a PostgreSQL data URL needs the user's schema")
    return DataSpace(create_engine(url, pool_pre_ping=True), schema)


def open_space(url: str | None = None, schema: str | None = None, builtin_url: str | None = None,
               environ: Mapping[str, str] | None = None) -> DataSpace:
    """The space named by the arguments, else by the hub's environment variables, else a local SQLite one
    in ``~/.workbench`` (with the built-in file beside it, made on first use)."""
    environ = os.environ if environ is None else environ
    url = url or environ.get(DATA_URL) or None
    schema = schema or environ.get(DATA_SCHEMA) or None
    builtin_url = builtin_url or environ.get(BUILTIN_DATA_URL) or None
    if url is None:
        return local_space(LOCAL_FOLDER)
    backend = make_url(url).get_backend_name()
    if backend == "postgresql":
        return postgresql_space(url, schema)
    if backend == "sqlite":
        database = make_url(url).database
        if not database or database == ":memory:":
            raise SpaceError(f"{DATA_URL} must name a SQLite file, got {url!r}")
        builtin = make_url(builtin_url).database if builtin_url else None
        return sqlite_space(database, builtin)
    raise SpaceError(f"{DATA_URL}: the workbench stores models in PostgreSQL or SQLite, not {backend!r}")


def local_space(folder: str | Path, builtin_scale: int = 20) -> DataSpace:
    """A space in ``folder`` for use without the hub: the user's file and a built-in file made on first use."""
    folder = Path(folder).expanduser()
    builtin_path = folder / BUILTIN_FILE
    if not builtin_path.exists():
        from profiler.datagen.builtins import install_builtins

        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        install_builtins(f"sqlite:///{builtin_path}", scale=builtin_scale)
    return sqlite_space(folder / USER_FILE, builtin_path)
