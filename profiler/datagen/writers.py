"""How rows reach each database: COPY on PostgreSQL, batched executemany on SQLite.

For PostgreSQL a batch is encoded for COPY where it was generated (``generator.generate_copy_batch``: COPY's
binary format for the tables in ``BINARY_TABLES``, its text format for the others), so what crosses between
threads or processes is a few byte strings, not ten thousand tuples, and the writing thread only streams
bytes. Writers work inside the caller's transaction; the loader commits.
"""

from __future__ import annotations

from typing import Iterable

from sqlalchemy import Connection, Table

from .generator import BATCH_TABLES, BINARY_TABLES, COLUMNS, Batch, CopyBatch


def qualified_name(connection: Connection, table: Table) -> str:
    """The table's quoted name, schema included when the connection maps tables into one."""
    preparer = connection.dialect.identifier_preparer
    schema = (connection.get_execution_options().get("schema_translate_map") or {}).get(None)
    name = preparer.quote(table.name)
    return f"{preparer.quote_schema(schema)}.{name}" if schema else name


def _copy_statement(connection: Connection, table: Table, binary: bool = False) -> str:
    columns = ", ".join(connection.dialect.identifier_preparer.quote(name) for name in COLUMNS[table.name])
    return f"COPY {qualified_name(connection, table)} ({columns}) FROM STDIN" + (" (FORMAT binary)" if binary else "")


# The binary format's frame around its rows: signature, flags and header extension length, then a -1 field count.
BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
BINARY_TRAILER = b"\xff\xff"


NULL = "\\N"


def _escape(value: str) -> str:
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        value = value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def _careful_text(rows: list[tuple]) -> str:
    """COPY text with every value escaped (backslash, tab, newline, carriage return) and None as \\N."""
    return "".join(
        "\t".join([NULL if value is None else _escape(str(value)) for value in row]) + "\n" for row in rows
    )


def rows_as_copy_text(rows: list[tuple], columns: int) -> str:
    """COPY text of ``rows``: ``str()`` of each value (a datetime prints as PostgreSQL reads it), None as
    \\N. Generated text never holds a backslash, tab or line break, so the rows are formatted without
    escaping and the result is checked by counting those characters (at C speed); should a value ever
    hold one, the batch is formatted again with escaping."""
    nulls, formatted = 0, rows
    if any(None in row for row in rows):
        formatted = []
        for row in rows:
            if None in row:
                nulls += row.count(None)
                row = tuple(NULL if value is None else value for value in row)
            formatted.append(row)
    line = "\t".join(["%s"] * columns)
    text = "\n".join([line % row for row in formatted]) + "\n"
    if (text.count("\t") != len(rows) * (columns - 1) or text.count("\n") != len(rows)
            or text.count("\\") != nulls or "\r" in text):
        text = _careful_text(rows)
    return text


def copy_rows(connection: Connection, table: Table, rows: list[tuple]) -> None:
    """PostgreSQL: stream tuples through COPY, psycopg adapting each value (for the small setup tables)."""
    if not rows:
        return
    driver = connection.connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(_copy_statement(connection, table)) as copy:
        for row in rows:
            copy.write_row(row)


def copy_encoded(connection: Connection, table: Table, parts: Iterable[bytes], binary: bool = False) -> None:
    """PostgreSQL: one COPY of rows already encoded in COPY's text format, or its binary format (rows only:
    the header and trailer are added here), given in parts (one per batch: not joined, which would copy
    them once more)."""
    parts = [part for part in parts if part]
    if not parts:
        return
    driver = connection.connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(_copy_statement(connection, table, binary)) as copy:
        if binary:
            copy.write(BINARY_HEADER)
        for part in parts:
            copy.write(part)
        if binary:
            copy.write(BINARY_TRAILER)


def insert_rows(connection: Connection, table: Table, rows: list[tuple]) -> None:
    """SQLite: one executemany of plain tuples, values converted the way SQLAlchemy itself stores them
    (e.g. datetimes in its SQLite text format), so the ORM reads them back."""
    if not rows:
        return
    names = COLUMNS[table.name]
    dialect = connection.dialect
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names]
    if any(processors):
        rows = _converted(rows, processors)
    preparer = connection.dialect.identifier_preparer
    statement = (
        f"INSERT INTO {qualified_name(connection, table)} ({', '.join(preparer.quote(name) for name in names)}) "
        f"VALUES ({', '.join('?' for _ in names)})"
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


def write_rows(connection: Connection, tables: dict[str, Table], rows: dict[str, list[tuple]],
               order: Iterable[str]) -> int:
    """Write every table's rows in ``order`` (parents before children); return how many rows."""
    write = copy_rows if connection.dialect.name == "postgresql" else insert_rows
    for name in order:
        write(connection, tables[name], rows[name])
    return sum(len(rows[name]) for name in order)


def write_batches(connection: Connection, tables: dict[str, Table], batches: list[Batch] | list[CopyBatch]) -> int:
    """Write generated batches (as tuples, or encoded for COPY), one statement per table; return how many
    rows."""
    if all(isinstance(batch, CopyBatch) for batch in batches):
        for name in BATCH_TABLES:
            copy_encoded(connection, tables[name], [batch.data[name] for batch in batches], name in BINARY_TABLES)
    else:
        rows = {name: [row for batch in batches for row in batch.rows[name]] for name in BATCH_TABLES}
        write_rows(connection, tables, rows, BATCH_TABLES)
    return sum(batch.row_count for batch in batches)
