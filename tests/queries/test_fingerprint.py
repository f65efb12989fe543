"""Data equality compares data: the same data fingerprints alike however Python lays it out in memory."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from profiler.queries.fingerprint import fingerprint


@dataclass
class Summary:
    author: str
    books: int


class Plain:
    def __init__(self, name: str, count: int):
        self.name, self.count = name, count


class Handle:
    """A result type whose repr names a memory address, as many library objects' reprs do."""

    def __init__(self, key: int):
        self.key = key

    def __repr__(self) -> str:
        return f"<Handle key={self.key} at 0x{id(self):x}>"


def test_plain_objects_and_dataclasses_compare_by_their_values_not_their_addresses():
    first = [Summary("Austen", 3), Plain("x", 1), Handle(7), (lambda row: row)]
    second = [Summary("Austen", 3), Plain("x", 1), Handle(7), (lambda row: row)]
    assert fingerprint(first).same_data(fingerprint(second))
    assert fingerprint(first).same_order(fingerprint(second))


def test_different_values_still_differ():
    assert not fingerprint([Summary("Austen", 3)]).same_data(fingerprint([Summary("Austen", 4)]))
    assert not fingerprint([Plain("x", 1)]).same_data(fingerprint([Plain("y", 1)]))
    assert not fingerprint([Handle(7)]).same_data(fingerprint([Handle(8)]))


def test_callables_count_by_what_they_are():
    assert fingerprint([len, functools.reduce]).same_data(fingerprint([len, functools.reduce]))
    assert not fingerprint([len]).same_data(fingerprint([sorted]))
