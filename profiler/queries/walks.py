"""Workloads that walk a model's relationships, for profiling any model without writing code.

A *path* is a sequence of relationship names from a root model (``("orders", "book")`` walks each customer's
orders and each order's book). :func:`relationship_paths` lists the paths a model offers and
:func:`walk_workload` turns one into a ``fn(session)`` workload for :func:`profiler.queries.profile`: it reads
the first ``limit`` roots in key order and returns the primary keys it walked (plain data, so every loading
strategy's result can be compared).

The built-in models keep their own declarative classes (:func:`builtin_classes`), whose tables have no schema:
on the hub the user's role searches its own schema and then ``builtin``, and a local SQLite space finds them in
the attached built-in file; the catalog never lets a user's model take a built-in's name, so the name is theirs.
"""

from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy import inspect, select
from sqlalchemy.orm import Mapper, RelationshipProperty, Session

from profiler.queries.workloads import Workload

from profiler.models.bookstore import BookstoreBase
from profiler.models.conversations import ConversationsBase

PATH_DEPTH = 3  # longer walks add little to an N+1 lesson and multiply the choices


def builtin_classes() -> dict[str, type]:
    """The built-in models' mapped classes by table name (association tables have none)."""
    return {mapper.local_table.name: mapper.class_
            for base in (BookstoreBase, ConversationsBase) for mapper in base.registry.mappers}


def _columns(relationship: RelationshipProperty) -> frozenset:
    return frozenset(column for pair in relationship.local_remote_pairs for column in pair)


def relationship_paths(cls: type, depth: int = PATH_DEPTH) -> list[tuple[str, ...]]:
    """Every relationship path from ``cls`` up to ``depth`` steps, never stepping straight back along the
    relationship it came by (customers → orders → customer is the customer again)."""
    paths: list[tuple[str, ...]] = []

    def visit(mapper: Mapper, prefix: tuple[str, ...], came_by: RelationshipProperty | None) -> None:
        for relationship in mapper.relationships:
            if came_by is not None and _columns(relationship) == _columns(came_by):
                continue
            path = (*prefix, relationship.key)
            paths.append(path)
            if len(path) < depth:
                visit(relationship.mapper, path, relationship)

    visit(inspect(cls), (), None)
    return paths


def path_label(root: str, path: Sequence[str]) -> str:
    return " → ".join((root, *path))


def _visit(obj: Any, steps: Sequence[str]) -> Any:
    key = inspect(obj).identity
    if not steps:
        return key
    value = getattr(obj, steps[0])
    if value is None:
        return key, None
    if isinstance(value, list):  # a collection
        return key, [_visit(item, steps[1:]) for item in value]
    return key, _visit(value, steps[1:])


def walk_workload(root: str, cls: type, path: Sequence[str], limit: int = 50) -> Workload:
    """A workload reading the first ``limit`` rows of ``cls`` by key and walking ``path`` from each."""
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ValueError(f"the number of rows to walk must be a whole number of at least 1, got {limit!r}")
    mapper = inspect(cls)
    for step in path:
        if step not in mapper.relationships:
            raise ValueError(f"{path_label(root, path)}: {mapper.class_.__name__} has no relationship {step!r}")
        mapper = mapper.relationships[step].mapper
    key = inspect(cls).primary_key
    steps = tuple(path)

    def walk(session: Session):
        return [_visit(obj, steps) for obj in session.scalars(select(cls).order_by(*key).limit(limit))]

    label = path_label(root, steps)
    return Workload(label, walk, f"The first {limit} {root} by key, walking {label}.")
