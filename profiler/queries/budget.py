"""``assert_max_queries``: a statement budget for a block of code, in a notebook or in pytest."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from profiler.inputs import whole_number

from .analysis import collapse_in_lists, find_nplusone
from .capture import QueryCapture


class TooManyQueries(AssertionError):
    """The block ran more statements than its budget."""


@contextmanager
def assert_max_queries(
    limit: int, bind: Engine | Connection | None = None, session: Session | None = None
) -> Iterator[QueryCapture]:
    """Fail when the block runs more than ``limit`` statements on ``bind`` (an Engine or Connection; by
    default the session's bind).

    Pass the ``session`` and the failure names the N+1 relationships with their fix and source line::

        with assert_max_queries(3, session=session):
            authors = session.scalars(select(Author)).all()
            titles = [book.title for author in authors for book in author.books]

    The capture is yielded, so ``captured.statements`` can be inspected after the block.
    """
    whole_number("limit", limit, 0, 10**9)
    if bind is None:
        if session is None:
            raise ValueError("give the engine (or connection) to watch, or the session")
        bind = session.get_bind()
    capture = QueryCapture(source_lines=True)
    capture.attach(bind, session)
    try:
        yield capture
    finally:
        capture.detach()
    count = capture.count
    if count > limit:
        lines = [f"{count} statements ran, the budget is {limit}."]
        for finding in find_nplusone(capture.statements):
            lines.append(finding.message)
            lines += [f"  caused at {source}" for source in finding.sources]
        lines.append("First statements:")
        lines += [f"  {collapse_in_lists(record.sql)[:160]}" for record in capture.statements[:5]]
        raise TooManyQueries("\n".join(lines))
