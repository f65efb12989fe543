"""Load the conversations dataset into a PostgreSQL schema or a SQLite file: resumable and idempotent.

Two bookkeeping tables live next to the data: ``datagen_dataset`` (which dataset the target holds: format,
corpus digest, seed, size; when it was completed) and ``datagen_batches`` (one row per batch loaded). Each
batch's rows and its bookkeeping row are committed in one transaction, so a batch is either wholly in the
database or not at all. Loading again skips the batches already there: an interrupted load resumes where it
stopped and a finished one is a no-op. Foreign keys and secondary indexes are added once all batches are in
(one validating pass is much cheaper than a check per row), so they also prove the finished data consistent.
"""

from __future__ import annotations

import multiprocessing
import re
import time
from collections import deque
from contextlib import closing, contextmanager
from itertools import islice
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Iterator

from sqlalchemy import (
    Column, Connection, DateTime, Engine, ForeignKeyConstraint, Integer, MetaData, String, Table, create_engine,
    func, insert, inspect, select, text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.schema import AddConstraint, CreateIndex, CreateTable

from profiler.inputs import InputError, flag, shown
from profiler.models.conversations import ConversationsBase

from .generator import (
    COLUMNS, SETUP_TABLES, Batch, CopyBatch, DatasetSpec, generate_batch, generate_copy_batch, setup_rows,
)
from .writers import qualified_name, write_batches, write_rows

SUPPORTED = ("postgresql", "sqlite")
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

bookkeeping = MetaData()
dataset_table = Table(
    "datagen_dataset", bookkeeping,
    Column("id", Integer, primary_key=True),  # always 1: a target holds one dataset
    Column("format", Integer, nullable=False),
    Column("corpus", String(64), nullable=False),
    Column("seed", Integer, nullable=False),
    Column("messages", Integer, nullable=False),
    Column("completed_at", DateTime),
)
batches_table = Table(
    "datagen_batches", bookkeeping,
    Column("batch", Integer, primary_key=True),
    Column("rows", Integer, nullable=False),
    Column("loaded_at", DateTime, nullable=False),
)
DATA_TABLES = {table.name: table for table in ConversationsBase.metadata.sorted_tables}
assert all(tuple(DATA_TABLES[name].columns.keys()) == columns for name, columns in COLUMNS.items()), (
    "generator.COLUMNS must list each model's columns in declaration order"
)


class DatasetLoadError(RuntimeError):
    """The database refused the load (not a database file, no right to write there...): its words, said once."""


class DatasetMismatch(RuntimeError):
    """The target already holds another dataset (other seed, size, format or corpus)."""


@dataclass(frozen=True)
class LoadProgress:
    """Pushed to the ``progress`` callback after each committed batch (and once before the first)."""

    messages_done: int
    messages_total: int
    batches_done: int
    batches_total: int
    rows_written: int  # by this call, all tables
    elapsed_s: float

    @property
    def fraction(self) -> float:
        return self.messages_done / self.messages_total


@dataclass(frozen=True)
class LoadReport:
    spec: DatasetSpec
    batches_loaded: int  # by this call
    batches_skipped: int  # already there
    rows_written: int
    seconds: float


def dataset_engine(target: str | Engine, schema: str | None = None) -> Engine:
    """An engine whose ORM queries and Core statements on the conversations models reach ``schema``
    (PostgreSQL) or the given file (SQLite)."""
    if isinstance(target, str):
        try:
            dialect = make_url(target).get_backend_name()
        except ArgumentError:
            raise InputError(f"target must be a database URL such as sqlite:////path/file.db or "
                             f"postgresql+psycopg://user@host/db, got {shown(target)}", "target") from None
    elif isinstance(target, Engine):
        dialect = target.dialect.name
    else:
        raise InputError(f"target must be a database URL or an Engine, got {shown(target)}", "target")
    _check_target(dialect, schema)
    engine = create_engine(target) if isinstance(target, str) else target
    return engine.execution_options(schema_translate_map={None: schema}) if schema else engine


def load(
    target: str | Engine,
    messages: int,
    seed: int = 0,
    *,
    schema: str | None = None,
    progress: Callable[[LoadProgress], None] | None = None,
    replace: bool = False,
    workers: int | None = None,
    batches_per_commit: int = 4,
) -> LoadReport:
    """Make sure ``target`` holds the dataset of ``messages`` messages generated from ``seed``.

    ``target`` is a database URL or an Engine: PostgreSQL (then ``schema`` is where the tables go; it is
    created if missing) or SQLite (the database file is the space; no schema). ``progress`` is called after
    every committed batch; an exception from it stops the load and the next call resumes after the last
    committed batch. ``replace=True`` drops a different dataset found in the target instead of refusing.
    ``workers`` processes generate batches ahead while this one writes (None: a thread of this process does,
    which costs no process start; 0: generate here, in turn with writing). Each transaction holds
    ``batches_per_commit`` batches of 5,000 messages: fewer round trips to the server (they cost most on a
    busy machine) against less work lost when a load is interrupted. Scripts that pass workers need the
    ``if __name__ == "__main__":`` guard (worker processes are spawned, and import the main module).
    """
    spec = DatasetSpec(messages, seed)
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or not 0 <= workers <= 64):
        raise InputError(f"workers must be a whole number of processes (0 or more, at most 64), got {shown(workers)}",
                         "workers")
    if isinstance(batches_per_commit, bool) or not isinstance(batches_per_commit, int) or batches_per_commit < 1:
        raise InputError(f"batches_per_commit must be a whole number, 1 or more, got {shown(batches_per_commit)}",
                         "batches_per_commit")
    flag("replace", replace)
    if progress is not None and not callable(progress):
        raise InputError(f"progress must be a function progress(LoadProgress) or None, got {shown(progress)}",
                         "progress")
    owned = isinstance(target, str)
    engine = dataset_engine(target, schema)
    try:
        return _load(engine, spec, schema, progress, replace, workers, batches_per_commit)
    except DBAPIError as error:
        said = (str(error.orig).strip().splitlines() or [type(error.orig).__name__])[0]
        raise DatasetLoadError(f"target: the database refused the load ({said}); batches committed before stay, "
                               "and loading again resumes after them") from None
    finally:
        if owned:
            engine.dispose()


def _load(engine, spec, schema, progress, replace, workers, batches_per_commit) -> LoadReport:
    started = time.perf_counter()
    with engine.connect() as connection, _exclusive(connection, schema):
        _prepare(connection, spec, schema, replace)
        with connection.begin():
            done = set(connection.scalars(select(batches_table.c.batch)))
        messages_done = sum(len(spec.message_ids(index)) for index in done)
        rows_written = 0

        def notify() -> None:
            if progress is not None:
                progress(LoadProgress(messages_done, spec.messages, len(done), spec.batches, rows_written,
                                      time.perf_counter() - started))

        notify()
        missing = [index for index in range(spec.batches) if index not in done]
        encode = connection.dialect.name == "postgresql"
        # closing(): a stopped load shuts its workers down now, not when the traceback is forgotten
        with closing(_generated(spec, missing, workers, encode, batches_per_commit)) as batches:
            while group := list(islice(batches, batches_per_commit)):
                with connection.begin():
                    if encode:
                        # The commit need not wait for its WAL to reach the disk: a crash may lose the last
                        # commits, but each takes its bookkeeping rows with it, so loading again redoes them.
                        connection.exec_driver_sql("SET LOCAL synchronous_commit = off")
                    written = write_batches(connection, DATA_TABLES, group)
                    connection.execute(insert(batches_table), [
                        {"batch": batch.index, "rows": batch.row_count, "loaded_at": _now()} for batch in group
                    ])
                done.update(batch.index for batch in group)
                messages_done += sum(batch.message_count for batch in group)
                rows_written += written
                notify()
        if len(done) != spec.batches:  # never expected: finishing would mark a partial dataset complete
            raise RuntimeError(f"only {len(done)} of {spec.batches} batches were loaded; load again to resume")
        _finish(connection)
    return LoadReport(spec, len(missing), spec.batches - len(missing), rows_written, time.perf_counter() - started)


@contextmanager
def _exclusive(connection: Connection, schema: str | None) -> Iterator[None]:
    """On PostgreSQL, one load per schema at a time: a second one waits, then finds the batches done.
    (SQLite serialises writers on the file itself.)"""
    if connection.dialect.name != "postgresql":
        yield
        return
    key = {"key": f"profiler.datagen:{schema}"}
    connection.execute(text("SELECT pg_advisory_lock(hashtext(:key))"), key)
    connection.commit()
    try:
        yield
    finally:
        if not connection.closed and not connection.invalidated:
            connection.rollback()
            connection.execute(text("SELECT pg_advisory_unlock(hashtext(:key))"), key)
            connection.commit()


def _produce(spec: DatasetSpec, index: int, encode: bool) -> Batch | CopyBatch:
    return generate_copy_batch(spec, index) if encode else generate_batch(spec, index)


def _generated(
    spec: DatasetSpec, indexes: list[int], workers: int | None, encode: bool, group: int
) -> Iterator[Batch | CopyBatch]:
    """The batches at ``indexes`` in order (encoded for COPY if ``encode``); with workers (a thread when
    ``workers`` is None), a commit group plus one per worker are made ahead (bounded memory), and closing the
    iterator cancels the rest.

    A thread is enough to overlap generating with writing: the writer mostly waits for the server (psycopg
    waits on the socket without the GIL), and a process would cost its start, an interpreter and its imports
    (measured: 0.4 CPU-s to import profiler.datagen alone, where generating 200,000 messages takes 0.6)."""
    if workers == 0 or len(indexes) < 2:
        for index in indexes:
            yield _produce(spec, index, encode)
        return
    if workers is None:
        pool, workers = ThreadPoolExecutor(1, thread_name_prefix="datagen"), 1
    else:
        # spawn, not fork: forking a Jupyter kernel (threads, sockets) is not safe
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        waiting = iter(indexes)
        ahead = deque(pool.submit(_produce, spec, index, encode) for index in islice(waiting, group + workers))
        while ahead:
            batch = ahead.popleft().result()
            following = next(waiting, None)
            if following is not None:
                ahead.append(pool.submit(_produce, spec, following, encode))
            yield batch
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _prepare(connection: Connection, spec: DatasetSpec, schema: str | None, replace: bool) -> None:
    """Create the schema, tables and setup rows of a new target, or check an existing one holds ``spec``."""
    with connection.begin():
        # Only when missing: PostgreSQL checks the right to create schemas even for IF NOT EXISTS, so a user
        # naming their own schema (which they may not create) would be refused.
        if schema and not inspect(connection).has_schema(schema):
            quoted = connection.dialect.identifier_preparer.quote_schema(schema)
            connection.execute(text(f"CREATE SCHEMA {quoted}"))
        present = set(inspect(connection).get_table_names(schema=schema))
        held = connection.execute(select(dataset_table)).mappings().first() if dataset_table.name in present else None
        wanted = spec.identity
        if held is not None and {key: held[key] for key in wanted} == wanted:
            return
        if held is not None or present & set(DATA_TABLES):
            if not replace:
                what = (f"holds {_describe(held)}" if held is not None
                        else "holds conversations tables that this loader did not make")
                raise DatasetMismatch(
                    f"{_where(connection, schema)} already {what}; wanted {_describe(wanted)}. Load into "
                    "another schema or file, or pass replace=True to drop what is there."
                )
            _drop(connection)
        create_tables(connection)
        for table in bookkeeping.sorted_tables:
            connection.execute(CreateTable(table))
        write_rows(connection, DATA_TABLES, setup_rows(spec), SETUP_TABLES)
        connection.execute(insert(dataset_table), {"id": 1, **wanted})


def _finish(connection: Connection) -> None:
    """Add foreign keys and indexes, analyze, and mark the dataset complete: once, in one transaction."""
    with connection.begin():
        if connection.execute(select(dataset_table.c.completed_at)).scalar_one() is not None:
            return
        add_keys_and_indexes(connection)
        for table in DATA_TABLES.values():
            connection.exec_driver_sql(f"ANALYZE {qualified_name(connection, table)}")
        connection.execute(dataset_table.update().values(completed_at=_now()))


def create_tables(connection: Connection) -> None:
    """The conversations tables with their primary keys only, ready for bulk rows. On SQLite the foreign
    keys are declared at once: it cannot add one to an existing table (nor enforces them by default)."""
    keep_keys = None if connection.dialect.name == "sqlite" else []
    for table in DATA_TABLES.values():
        connection.execute(CreateTable(table, include_foreign_key_constraints=keep_keys))


def add_keys_and_indexes(connection: Connection) -> None:
    """What ``create_tables`` left out: foreign keys (PostgreSQL validates every row once here) and the
    secondary indexes."""
    if connection.dialect.name == "postgresql":
        for table in DATA_TABLES.values():
            for constraint in table.constraints:
                if isinstance(constraint, ForeignKeyConstraint):
                    connection.execute(AddConstraint(constraint))
    for table in DATA_TABLES.values():
        for index in table.indexes:
            connection.execute(CreateIndex(index, if_not_exists=True))


def _drop(connection: Connection) -> None:
    ConversationsBase.metadata.drop_all(connection)
    bookkeeping.drop_all(connection)


def dataset_counts(target: str | Engine, schema: str | None = None) -> dict[str, int]:
    """Rows per conversations table in ``target``."""
    engine = dataset_engine(target, schema)
    try:
        with engine.connect() as connection:
            return {name: connection.execute(select(func.count()).select_from(table)).scalar_one()
                    for name, table in DATA_TABLES.items()}
    finally:
        if isinstance(target, str):
            engine.dispose()


def loaded_dataset(target: str | Engine, schema: str | None = None) -> DatasetSpec | None:
    """The dataset ``target`` holds completely, or None (none there, or its load has not finished): a cheap
    look at the bookkeeping row, for pages that must not count a large dataset only to know it is there."""
    engine = dataset_engine(target, schema)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table(dataset_table.name, schema=schema):
                return None
            held = connection.execute(select(dataset_table)).mappings().first()
    finally:
        if isinstance(target, str):
            engine.dispose()
    if held is None or held["completed_at"] is None:
        return None
    return DatasetSpec(held["messages"], held["seed"])


def loaded_batches(target: str | Engine, schema: str | None = None) -> int:
    """How many batches of its dataset ``target`` holds (a finished load holds ``spec.batches``)."""
    engine = dataset_engine(target, schema)
    try:
        with engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(batches_table)).scalar_one()
    finally:
        if isinstance(target, str):
            engine.dispose()


def _check_target(dialect: str, schema: str | None) -> None:
    if dialect not in SUPPORTED:
        raise InputError(f"target: the conversations dataset loads into PostgreSQL or SQLite, not {dialect}", "target")
    if schema is not None:
        if dialect != "postgresql":
            raise InputError(f"schema={shown(schema)}: only PostgreSQL has schemas; on SQLite the file is the space",
                             "schema")
        if not isinstance(schema, str) or not _SCHEMA_NAME.match(schema):
            raise InputError(
                f"schema must be a lower-case identifier (letters, digits, _; at most 63), got {shown(schema)}",
                "schema")


def _where(connection: Connection, schema: str | None) -> str:
    return f"schema {schema!r}" if schema else f"database {connection.engine.url.render_as_string()!r}"


def _describe(identity) -> str:
    return (f"seed={identity['seed']}, messages={identity['messages']:,} (format {identity['format']}, "
            f"corpus {identity['corpus'][:12]})")


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)

