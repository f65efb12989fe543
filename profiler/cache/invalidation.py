"""Which cached queries a write makes stale, shown on the bookstore.

A few opted-in queries run twice (a miss that stores, then a hit). Then one table is written to in a
transaction that is rolled back: the data never changes, but the cache saw the write (it renews a table's
token when the statement runs, see ``orm``). The queries run once more: those whose statements read that table,
eager loads included, are stale and go to the database again; the others keep hitting.

The same is done for each cache strategy asked for (``CACHE_STRATEGIES``): the ORM ones cache each query's
objects, ``rows`` each query's plain rows. Each strategy also caches the whole bookstore walk (authors → books
→ publisher, stores under lazy loading, every lazy load cached by the ORM strategies), which shows how much of
it a write makes stale: the ORM strategies re-run only the statements that read the table, ``rows`` all of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import Engine, Select, event, func, select, update
from sqlalchemy.orm import Session, selectinload

from profiler.models.bookstore import Author, Book, Publisher, Store
from profiler.queries.workloads import authors_books_publisher_stores

from .orm import CACHE_OPTION, QueryCache
from .strategies import CACHE_STRATEGIES, checked_cache_strategies

# the table written to, and the column set to its own value (the transaction is rolled back anyway)
_WRITES = {"authors": Author.name, "books": Book.title, "publishers": Publisher.name, "stores": Store.name}
WRITABLE_TABLES = tuple(_WRITES)

DEMO_QUERIES: dict[str, Callable[[], Select]] = {
    "authors": lambda: select(Author).order_by(Author.id),
    "books with their author (select-in)": lambda: select(Book).order_by(Book.id).options(selectinload(Book.author)),
    "publishers": lambda: select(Publisher).order_by(Publisher.id),
    "stores": lambda: select(Store).order_by(Store.id),
}
# what the rows strategy keeps of each query: the values a page would show
DEMO_ROWS: dict[str, Callable[[Session], list]] = {
    "authors": lambda session: [(a.id, a.name) for a in session.scalars(DEMO_QUERIES["authors"]())],
    "books with their author (select-in)": lambda session: [
        (b.id, b.title, b.author.name) for b in session.scalars(DEMO_QUERIES["books with their author (select-in)"]())],
    "publishers": lambda session: [(p.id, p.name) for p in session.scalars(DEMO_QUERIES["publishers"]())],
    "stores": lambda session: [(s.id, s.name) for s in session.scalars(DEMO_QUERIES["stores"]())],
}
WALK = "authors → books → publisher, stores"
RUNS = ("first run", "second run", "after the write")


@dataclass
class InvalidationDemo:
    table: str  # the table written to
    outcomes: dict[str, tuple[str, ...]]  # query -> "hit" / "miss" / "stale" for each of RUNS (first strategy)
    # cache strategy -> query -> outcomes, as ``outcomes``
    by_strategy: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    # cache strategy -> what the walk did after the write: statements that went to the database, of how many
    walk_after_write: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def stale(self) -> list[str]:
        return [query for query, outcome in self.outcomes.items() if outcome[-1] == "stale"]

    @property
    def kept_hitting(self) -> list[str]:
        return [query for query, outcome in self.outcomes.items() if outcome[-1] == "hit"]

    def frame(self):
        import pandas as pd

        return pd.DataFrame.from_dict(self.outcomes, orient="index", columns=list(RUNS))

    def stale_for(self, cache_strategy: str) -> list[str]:
        return [query for query, outcome in self.by_strategy[cache_strategy].items() if outcome[-1] == "stale"]

    def walk_sentence(self, cache_strategy: str) -> str:
        """What the write cost the cached walk under ``cache_strategy``."""
        ran, total = self.walk_after_write[cache_strategy]
        if ran == 0:
            return "still served from the cache (it did not read the table)"
        if ran >= total:
            return f"stale as a whole: all {total:,} statements ran again"
        return f"{ran:,} of {total:,} statements ran again (those that read {self.table})"

    def strategy_rows(self) -> list[dict]:
        """One row per cache strategy: what the write made stale, and what it cost the cached walk."""
        return [{"cache_strategy": name, "title": CACHE_STRATEGIES[name].title,
                 "stale": ", ".join(self.stale_for(name)) or "none",
                 "walk": self.walk_sentence(name)} for name in self.by_strategy]

    def to_dict(self) -> dict:
        return {"table_written": self.table, "runs": list(RUNS),
                "outcomes": {query: list(outcome) for query, outcome in self.outcomes.items()},
                "stale": self.stale, "kept_hitting": self.kept_hitting,
                "by_cache_strategy": {name: {"outcomes": {q: list(o) for q, o in outcomes.items()},
                                             "walk_statements_after_write": list(self.walk_after_write[name])}
                                      for name, outcomes in self.by_strategy.items()}}


def _outcome(counters) -> str:
    return "hit" if counters.hits else "stale" if counters.stale else "miss"


def _run_queries(engine: Engine, cache: QueryCache, cache_strategy: str = "orm") -> dict[str, str]:
    outcome = {}
    with Session(engine) as session:
        if cache_strategy == "rows":
            for name, rows in DEMO_ROWS.items():
                with cache.counting() as counters:
                    cache.cached_result(session, rows, f"invalidation demo\x00{name}")
                outcome[name] = _outcome(counters)
            return outcome
        cache.attach(session, merge="objects" if cache_strategy == "merge" else "frozen")
        for name, query in DEMO_QUERIES.items():
            with cache.counting() as counters:
                session.scalars(query().execution_options(**{CACHE_OPTION: True})).all()
            outcome[name] = _outcome(counters)
    return outcome


def _walk(engine: Engine, cache: QueryCache, cache_strategy: str) -> int:
    """The bookstore walk, cached; returns how many statements went to the database."""
    ran = [0]

    def count(*_args):
        ran[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        with Session(engine) as session:
            if cache_strategy == "rows":
                cache.cached_result(session, authors_books_publisher_stores, f"invalidation demo\x00{WALK}")
            else:
                cache.attach(session, every_query=True, relationship_loads=True,
                             merge="objects" if cache_strategy == "merge" else "frozen")
                authors_books_publisher_stores(session)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return ran[0]


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


def demonstrate_invalidation(engine: Engine, cache: QueryCache, table: str = "authors",
                             cache_strategies: str | tuple[str, ...] = "orm") -> InvalidationDemo:
    """Run the demo queries, write to ``table`` (rolled back), run them again, under each of ``cache_strategies``.
    Empties ``cache``'s namespace first."""
    if table not in _WRITES:
        raise ValueError(f"unknown table {table!r}; write to one of {', '.join(WRITABLE_TABLES)}")
    kept = checked_cache_strategies(cache_strategies)
    by_strategy, walks = {}, {}
    # the walk's first query is the "authors" query: in one namespace, each would find the other's entries
    walk_cache = QueryCache(engine, cache.store.url or "memory://", prefix=cache.store.prefix,
                            namespace=f"{cache.namespace}-walk", expiration_time=600)
    try:
        for name in kept:
            cache.clear()
            walk_cache.clear()
            first, second = _run_queries(engine, cache, name), _run_queries(engine, cache, name)
            total = _walk(engine, walk_cache, name)  # cold: every statement runs
            write_rolled_back(engine, table)
            after = _run_queries(engine, cache, name)
            walks[name] = (_walk(engine, walk_cache, name), total)
            by_strategy[name] = {query: (first[query], second[query], after[query]) for query in DEMO_QUERIES}
    finally:
        walk_cache.clear()
        walk_cache.close()
    return InvalidationDemo(table, by_strategy[kept[0]], by_strategy, walks)
