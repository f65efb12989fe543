"""How rows reach each database: COPY on PostgreSQL, batched executemany on SQLite.

A writer appends rows to one table inside the caller's transaction; the loader commits. Rows are tuples in
the generator's ``COLUMNS`` order.
"""

from __future__ import annotations

from typing import Callable, Iterable

from sqlalchemy import Connection, Table

from .generator import COLUMNS

Writer = Callable[[Connection, Table, list[tuple]], None]


def qualified_name(connection: Connection, table: Table) -> str:
    """The table's quoted name, schema included when the connection maps tables into one."""
    preparer = connection.dialect.identifier_preparer
    schema = (connection.get_execution_options().get("schema_translate_map") or {}).get(None)
    name = preparer.quote(table.name)
    return f"{preparer.quote_schema(schema)}.{name}" if schema else name


def copy_rows(connection: Connection, table: Table, rows: list[tuple]) -> None:
    """PostgreSQL: stream the rows through ``COPY ... FROM STDIN`` (psycopg 3 adapts each value)."""
    if not rows:
        return
    columns = ", ".join(connection.dialect.identifier_preparer.quote(name) for name in COLUMNS[table.name])
    driver = connection.connection.driver_connection
    with driver.cursor() as cursor:
        with cursor.copy(f"COPY {qualified_name(connection, table)} ({columns}) FROM STDIN") as copy:
            write_row = copy.write_row
            for row in rows:
                write_row(row)


def insert_rows(connection: Connection, table: Table, rows: list[tuple]) -> None:
    """SQLite (and any other database): one executemany of plain tuples, values converted the way
    SQLAlchemy itself stores them (e.g. datetimes as its SQLite text format), so the ORM reads them back."""
    if not rows:
        return
    names = COLUMNS[table.name]
    processors = [table.c[name].type._cached_bind_processor(connection.dialect) for name in names]
    if any(processors):
        rows = _converted(rows, processors)
    preparer = connection.dialect.identifier_preparer
    placeholders = ", ".join("?" if connection.dialect.paramstyle == "qmark" else "%s" for _ in names)
    statement = (
        f"INSERT INTO {qualified_name(connection, table)} ({', '.join(preparer.quote(name) for name in names)}) "
        f"VALUES ({placeholders})"
    )
    connection.exec_driver_sql(statement, rows)


def _converted(rows: list[tuple], processors: list) -> list[tuple]:
    indexed = [(index, processor) for index, processor in enumerate(processors) if processor is not None]

    def convert(row: tuple) -> tuple:
        values = list(row)
        for index, processor in indexed:
            if values[index] is not None:
                values[index] = processor(values[index])
        return tuple(values)

    return [convert(row) for row in rows]


def writer_for(dialect_name: str) -> Writer:
    return copy_rows if dialect_name == "postgresql" else insert_rows


def write_all(connection: Connection, tables: dict[str, Table], rows: dict[str, list[tuple]],
              order: Iterable[str]) -> int:
    """Write every table's rows in ``order`` (parents before children); return how many rows."""
    write = writer_for(connection.dialect.name)
    written = 0
    for name in order:
        write(connection, tables[name], rows[name])
        written += len(rows[name])
    return written
