"""The JSON viewer's data side: nodes addressed by position, served one page at a time.

A node is addressed by its *position path*: the list of child positions from the root (``[0, 3, 1]`` is the
second child of the fourth child of the first child). The browser never holds more than the rows it has
expanded, and every answer here is flat (a list of rows, a list of paths), never a nested structure, so a
1,000-deep document never becomes a 1,000-deep message (Voila's server fails to decode those).

Cycles are cut where they close: a child that is one of its own ancestors becomes a ``circular`` placeholder
naming the ancestor's path.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from widgets.json_shapes import Container, Entry, Scalar, Shape, shape_of

PAGE_SIZE = 100  # children per range the browser fetches at once
MAX_ROW_TEXT = 1000  # characters of a scalar sent with its row; the full text comes with "copy value"
MAX_SEARCH_MATCHES = 1000
MAX_COPY_CHARS = 50_000_000


class PathError(LookupError):
    """A position path that does not lead to a node (stale after the data changed, or out of range)."""


@dataclass(frozen=True)
class Located:
    shape: Shape
    path: str  # Python source that reaches the node from the root, e.g. data["runs"][3]


class JsonTree:
    def __init__(self, data: Any, root_name: str = "data", dynamodb: bool = True):
        self.data = data
        self.root_name = root_name
        self.dynamodb = dynamodb

    def _shape(self, value: Any) -> Shape:
        return shape_of(value, self.dynamodb)

    def _child(self, entry: Entry, parent_path: str, ancestors: dict[int, tuple[str, Any]]) -> Located:
        shape = self._shape(entry.value)
        path = entry.path_from(parent_path)
        if isinstance(shape, Container) and id(shape.source) in ancestors:
            target = ancestors[id(shape.source)][0]
            shape = Scalar("circular", f"↻ circular reference to {target}", json.dumps(f"<circular: {target}>"))
        return Located(shape, path)

    def _walk(self, positions: Sequence[int]) -> Iterator[tuple[Located, dict[int, tuple[str, Any]]]]:
        """The nodes from the root down to ``positions``, each with its ancestors (itself included) by identity.

        The ancestors' objects are kept in the mapping so their ids cannot be reused by objects made on the way
        (a DataFrame row is a new Series each time), which would look like a cycle.
        """
        node = Located(self._shape(self.data), self.root_name)
        ancestors: dict[int, tuple[str, Any]] = {}
        for depth, position in enumerate(positions):
            shape = node.shape
            if not isinstance(shape, Container):
                raise PathError(f"position path {list(positions[: depth + 1])} goes below a {shape.kind} value")
            if not isinstance(position, int) or not 0 <= position < shape.length:
                raise PathError(f"position {position!r} is out of range 0..{shape.length - 1} at {node.path}")
            ancestors[id(shape.source)] = (node.path, shape.source)
            yield node, ancestors
            (entry,) = shape.entries(position, position + 1)
            node = self._child(entry, node.path, ancestors)
        if isinstance(node.shape, Container):
            ancestors[id(node.shape.source)] = (node.path, node.shape.source)
        yield node, ancestors

    def locate(self, positions: Sequence[int]) -> tuple[Located, dict[int, tuple[str, Any]]]:
        """The node at ``positions`` and its ancestors (itself included) by identity, with their paths."""
        *_, last = self._walk(positions)
        return last

    def row(self, key: str | int, accessor: str, wrapper: str, shape: Shape) -> dict:
        """What the browser needs to draw one row; short keys keep 100-row pages small.

        The row carries only its accessor ('["runs"]', '[3]'): the browser joins them into the copied path, so
        rows deep in a document do not each carry the whole path.
        """
        row: dict[str, Any] = {"k": key, "a": accessor, "t": shape.kind}
        if wrapper:
            row["w"] = wrapper
        if isinstance(shape, Container):
            row["n"] = shape.length
            row["l"] = shape.label
        else:
            row["v"] = shape.text[:MAX_ROW_TEXT]
            if len(shape.text) > MAX_ROW_TEXT:
                row["x"] = len(shape.text)  # truncated: the full length
            if shape.badge:
                row["b"] = shape.badge
        return row

    def root_row(self) -> dict:
        return self.row(self.root_name, self.root_name, "", self._shape(self.data))

    def _page(self, node: Located, ancestors: dict, start: int, stop: int) -> list[dict]:
        assert isinstance(node.shape, Container)
        return [
            self.row(entry.key, entry.accessor, entry.wrapper, self._child(entry, node.path, ancestors).shape)
            for entry in node.shape.entries(start, stop)
        ]

    def children(self, positions: Sequence[int], start: int, stop: int) -> list[dict]:
        """Rows for children ``start``..``stop - 1`` of the node at ``positions`` (at most one page)."""
        node, ancestors = self.locate(positions)
        if not isinstance(node.shape, Container):
            raise PathError(f"{node.path} is a {node.shape.kind} value and has no children")
        if start < 0 or stop < start:
            raise ValueError(f"bad range {start}..{stop}")
        return self._page(node, ancestors, start, min(stop, start + PAGE_SIZE, node.shape.length))

    def reveal(self, positions: Sequence[int]) -> list[dict]:
        """For each ancestor of the node at ``positions``, the page of its children that leads there.

        One answer for a whole search match, however deep, instead of one round trip per level. Pages are
        aligned on ``PAGE_SIZE`` like the browser's ranges: ``[{"start": 100, "rows": [...]}, ...]``.
        """
        pages = []
        for depth, (node, ancestors) in enumerate(self._walk(positions)):
            if depth == len(positions):
                break
            length = node.shape.length  # type: ignore[union-attr] - _walk checked it is a container
            start = 0 if length <= PAGE_SIZE else positions[depth] // PAGE_SIZE * PAGE_SIZE
            pages.append({"start": start, "rows": self._page(node, ancestors, start, min(start + PAGE_SIZE, length))})
        return pages

    def value_text(self, positions: Sequence[int]) -> str:
        """What "copy value" puts on the clipboard: a container as JSON text (exact numbers, cycles cut), a
        number, boolean or null as its JSON literal, bytes as base64, any other scalar as the text shown."""
        node, ancestors = self.locate(positions)
        shape = node.shape
        if isinstance(shape, Container):
            return "".join(self._encode(node, ancestors))
        if shape.kind in {"int", "float", "decimal", "bool", "null"}:
            return shape.json
        if shape.kind == "bytes":
            return json.loads(shape.json)
        return shape.text

    def _encode(self, root: Located, ancestors: dict[int, tuple[str, Any]]) -> Iterator[str]:
        """Iterative JSON encoder: depth is limited by memory, not by the recursion limit."""
        written = 0
        ancestors = dict(ancestors)
        stack: list[tuple[Container, str, Iterator[Entry], bool]] = []

        def open_container(located: Located) -> str:
            shape = located.shape
            assert isinstance(shape, Container)
            ancestors[id(shape.source)] = (located.path, shape.source)
            stack.append((shape, located.path, shape.iter_entries(), True))
            return "{" if shape.kind == "object" else "["

        yield open_container(root)
        while stack:
            shape, path, entries, first = stack[-1]
            entry = next(entries, None)
            if entry is None:
                stack.pop()
                ancestors.pop(id(shape.source), None)
                yield "}" if shape.kind == "object" else "]"
                continue
            if first:
                stack[-1] = (shape, path, entries, False)
            piece = "" if first else ","
            if shape.kind == "object":
                piece += json.dumps(str(entry.key), ensure_ascii=False) + ":"
            child = self._child(entry, path, ancestors)
            if isinstance(child.shape, Container):
                piece += open_container(child)
            else:
                piece += child.shape.json
            written += len(piece)
            if written > MAX_COPY_CHARS:
                raise ValueError(f"{root.path} is larger than {MAX_COPY_CHARS:,} characters of JSON: copy a part of it")
            yield piece

    def search(self, query: str, limit: int = MAX_SEARCH_MATCHES) -> dict:
        """Position paths of nodes whose key or shown value contains ``query`` (case-insensitive), in display order."""
        needle = query.casefold()
        paths: list[list[int]] = []
        total = 0
        if not needle:
            return {"paths": paths, "total": 0}
        root, ancestors = self.locate([])
        if isinstance(root.shape, Scalar):
            found = needle in root.shape.text.casefold()
            return {"paths": [[]] if found else [], "total": int(found)}
        # Depth-first in display order with an explicit stack: a 1,000-deep document must not recurse.
        stack: list[tuple[Container, str, Iterator[tuple[int, Entry]], list[int]]] = [
            (root.shape, root.path, enumerate(root.shape.iter_entries()), [])
        ]
        while stack:
            shape, path, entries, positions = stack[-1]
            item = next(entries, None)
            if item is None:
                stack.pop()
                ancestors.pop(id(shape.source), None)
                continue
            position, entry = item
            child = self._child(entry, path, ancestors)
            child_positions = positions + [position]
            shown = child.shape.text if isinstance(child.shape, Scalar) else ""
            if needle in str(entry.key).casefold() or needle in shown.casefold():
                total += 1
                if len(paths) < limit:
                    paths.append(child_positions)
            if isinstance(child.shape, Container):
                ancestors[id(child.shape.source)] = (child.path, child.shape.source)
                stack.append((child.shape, child.path, enumerate(child.shape.iter_entries()), child_positions))
        return {"paths": paths, "total": total}
