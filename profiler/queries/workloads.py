"""Workloads: user code that queries and walks relationships. Built-in ones walk the bookstore models.

A workload is a function ``fn(session)`` that returns what it walked (plain data is best: tuples, lists,
dicts of column values). Write your own in a notebook cell and pass the function to ``profile``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import Engine, create_engine, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from profiler.models.bookstore import Author, Publisher, Store, create_bookstore


@dataclass(frozen=True)
class Workload:
    name: str
    run: Callable[[Session], Any]
    description: str = ""


def as_workload(workload: Workload | Callable) -> Workload:
    if isinstance(workload, Workload):
        return workload
    if callable(workload):
        return Workload(getattr(workload, "__name__", "workload"), workload, (workload.__doc__ or "").strip())
    raise TypeError(f"a workload is a Workload or a function fn(session), not {type(workload).__name__}")


def authors_books_publisher_stores(session: Session):
    """Authors → their books → each book's publisher and stores (one-to-many, many-to-one, many-to-many)."""
    return [
        (
            author.name,
            [
                (book.title, book.price, book.publisher.name, [store.name for store in book.stores])
                for book in author.books
            ],
        )
        for author in session.scalars(select(Author).order_by(Author.id))
    ]


def stores_books_author(session: Session):
    """Stores → their books → each book's author (the reverses: many-to-many back, many-to-one)."""
    return [
        (store.name, [(book.title, book.author.name) for book in store.books])
        for store in session.scalars(select(Store).order_by(Store.id))
    ]


def publishers_books(session: Session):
    """Publishers → their books (one-to-many, the reverse of Book.publisher)."""
    return [
        (publisher.name, [book.title for book in publisher.books])
        for publisher in session.scalars(select(Publisher).order_by(Publisher.id))
    ]


BUILTIN_WORKLOADS: dict[str, Workload] = {
    workload.name: workload
    for workload in (
        Workload("authors → books → publisher, stores", authors_books_publisher_stores,
                 authors_books_publisher_stores.__doc__),
        Workload("stores → books → author", stores_books_author, stores_books_author.__doc__),
        Workload("publishers → books", publishers_books, publishers_books.__doc__),
    )
}
AUTHORS_BOOKS = BUILTIN_WORKLOADS["authors → books → publisher, stores"]


@functools.cache
def default_engine(scale: int = 200) -> Engine:
    """An in-memory SQLite database holding the bookstore at ``scale`` authors (made once per process)."""
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    create_bookstore(engine, scale)
    return engine
