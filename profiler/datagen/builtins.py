"""Install the built-in models (the bookstore with its sample data, the conversations dataset) into the
shared read-only space. Run by the hub with its admin credentials, as a separate process (the hub side never
imports the user side)::

    WORKBENCH_BUILTIN_INSTALL_URL=postgresql+psycopg://admin:...@host/db python -m profiler.datagen.builtins
    python -m profiler.datagen.builtins sqlite:////srv/workbench/builtin.sqlite        # then made read-only

On PostgreSQL everything goes to schema ``builtin``, which must exist (``spawner.database.prepare_database``
makes it, with the default privileges that give users SELECT on what is installed here). An existing
bookstore is kept unless ``--force``; the conversations dataset is loaded by ``profiler.datagen.loader``
(resumable: an interrupted install picks up where it stopped) when ``--messages`` is given, replacing another
dataset found there.
"""

from __future__ import annotations

import argparse
import os
import stat
from pathlib import Path

from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

from profiler.models.bookstore import BookstoreBase, create_bookstore
from profiler.playground import BUILTIN_SCHEMA

# Set by the hub (spawner/database.py names the same; a test keeps them equal).
INSTALL_URL_VARIABLE = "WORKBENCH_BUILTIN_INSTALL_URL"


def install_builtins(url: str, *, scale: int = 200, messages: int = 0, force: bool = False) -> list[str]:
    """Create what is missing (the bookstore again with ``force``; the conversations dataset of ``messages``
    messages if not 0); return the tables now in the built-in space."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        path = Path(parsed.database or "")
        if not parsed.database or parsed.database == ":memory:":
            raise ValueError(f"the built-in SQLite database must be a file, got {url!r}")
        if path.exists():
            os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)  # writable for the install only
        engine = create_engine(url)
    elif backend == "postgresql":
        engine = create_engine(url, connect_args={"options": f"-csearch_path={BUILTIN_SCHEMA}"})
        with engine.connect() as connection:
            if BUILTIN_SCHEMA not in inspect(connection).get_schema_names():
                raise RuntimeError(f"schema {BUILTIN_SCHEMA!r} does not exist: run spawner.database."
                                   "prepare_database(admin_url) first")
    else:
        raise ValueError(f"built-in models go to PostgreSQL or SQLite, not {backend!r}")
    try:
        with engine.connect() as connection:
            present = set(inspect(connection).get_table_names())
        bookstore = {table.name for table in BookstoreBase.metadata.sorted_tables}
        if force or not bookstore <= present:
            create_bookstore(engine, scale)
        if messages:
            from profiler.datagen.loader import load

            # replace: the space is the hub's, so another dataset there (another size, or one made by an
            # earlier release whose generator drew other rows) gives way to the one asked for
            load(engine if backend == "sqlite" else url, messages,
                 schema=BUILTIN_SCHEMA if backend == "postgresql" else None, replace=True)
        with engine.connect() as connection:
            present = sorted(inspect(connection).get_table_names())
    finally:
        engine.dispose()
    if backend == "sqlite":
        os.chmod(path, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    return present


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", nargs="?", default=os.environ.get(INSTALL_URL_VARIABLE),
                        help="the admin's SQLAlchemy URL (PostgreSQL) or the built-in SQLite file's URL; default "
                        f"${INSTALL_URL_VARIABLE}, which keeps a password off the command line")
    parser.add_argument("--scale", type=int, default=200, help="bookstore authors (default 200)")
    parser.add_argument("--messages", type=int, default=0, help="conversations dataset size (default 0: none)")
    parser.add_argument("--force", action="store_true", help="re-create the bookstore even if it is there")
    args = parser.parse_args(argv)
    if not args.url:
        parser.error(f"name the database: a URL argument or ${INSTALL_URL_VARIABLE}")
    tables = install_builtins(args.url, scale=args.scale, messages=args.messages, force=args.force)
    print("built-in tables:", ", ".join(tables))


if __name__ == "__main__":
    main()
