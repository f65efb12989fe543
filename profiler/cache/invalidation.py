"""Which cached queries a write makes stale, shown on the bookstore.

A few opted-in queries run twice (a miss that stores, then a hit). Then one table is written to in a
transaction that is rolled back: the data never changes, but the cache saw the write (it renews a table's
token when the statement runs, see ``orm``). The queries run once more: those whose statements read that table,
eager loads included, are stale and go to the database again; the others keep hitting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from sqlalchemy import Engine, Select, func, select, update
from sqlalchemy.orm import Session, selectinload

from profiler.models.bookstore import Author, Book, Publisher, Store

from .orm import CACHE_OPTION, QueryCache

# the table written to, and the column set to its own value (the transaction is rolled back anyway)
_WRITES = {"authors": Author.name, "books": Book.title, "publishers": Publisher.name, "stores": Store.name}
WRITABLE_TABLES = tuple(_WRITES)

DEMO_QUERIES: dict[str, Callable[[], Select]] = {
    "authors": lambda: select(Author).order_by(Author.id),
    "books with their author (select-in)": lambda: select(Book).order_by(Book.id).options(selectinload(Book.author)),
    "publishers": lambda: select(Publisher).order_by(Publisher.id),
    "stores": lambda: select(Store).order_by(Store.id),
}
RUNS = ("first run", "second run", "after the write")


@dataclass
class InvalidationDemo:
    table: str  # the table written to
    outcomes: dict[str, tuple[str, ...]]  # query -> "hit" / "miss" / "stale" for each of RUNS

    @property
    def stale(self) -> list[str]:
        return [query for query, outcome in self.outcomes.items() if outcome[-1] == "stale"]

    @property
    def kept_hitting(self) -> list[str]:
        return [query for query, outcome in self.outcomes.items() if outcome[-1] == "hit"]

    def frame(self):
        import pandas as pd

        return pd.DataFrame.from_dict(self.outcomes, orient="index", columns=list(RUNS))

    def to_dict(self) -> dict:
        return {"table_written": self.table, "runs": list(RUNS),
                "outcomes": {query: list(outcome) for query, outcome in self.outcomes.items()},
                "stale": self.stale, "kept_hitting": self.kept_hitting}


def _run_queries(engine: Engine, cache: QueryCache) -> dict[str, str]:
    outcome = {}
    with Session(engine) as session:
        cache.attach(session)
        for name, query in DEMO_QUERIES.items():
            with cache.counting() as counters:
                session.scalars(query().execution_options(**{CACHE_OPTION: True})).all()
            outcome[name] = "hit" if counters.hits else "stale" if counters.stale else "miss"
    return outcome


def write_rolled_back(engine: Engine, table: str) -> None:
    """Set one row's column of ``table`` to its own value, then roll back: nothing changes but the cache's view."""
    if table not in _WRITES:
        raise ValueError(f"unknown table {table!r}; write to one of {', '.join(WRITABLE_TABLES)}")
    column = _WRITES[table]
    model = column.class_
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            first = connection.scalar(select(func.min(model.id)))
            connection.execute(update(model).where(model.id == first).values({column: column}))
        finally:
            transaction.rollback()


def demonstrate_invalidation(engine: Engine, cache: QueryCache, table: str = "authors") -> InvalidationDemo:
    """Run the demo queries, write to ``table`` (rolled back), run them again. Empties ``cache``'s namespace first."""
    if table not in _WRITES:
        raise ValueError(f"unknown table {table!r}; write to one of {', '.join(WRITABLE_TABLES)}")
    cache.clear()
    first, second = _run_queries(engine, cache), _run_queries(engine, cache)
    write_rolled_back(engine, table)
    after = _run_queries(engine, cache)
    return InvalidationDemo(table, {name: (first[name], second[name], after[name]) for name in DEMO_QUERIES})
