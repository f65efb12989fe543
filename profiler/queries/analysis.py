"""What the captured statements mean: relationship paths walked, N+1 findings, duplicate and similar groups."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from .capture import StatementRecord
from .plans import Path, relationship_code

# placeholders of the DBAPIs we meet: ?, %s, %(name)s, :name, $1
_PLACEHOLDER = r"(?:\?|%s|%\([^)]+\)s|:\w+|\$\d+)"
_LONG_IN_LIST = re.compile(rf"IN \(\s*{_PLACEHOLDER}(?:\s*,\s*{_PLACEHOLDER}){{3,}}\s*\)", re.IGNORECASE)


def collapse_in_lists(sql: str) -> str:
    """Shorten ``IN (?, ?, ?, ... 500 times)`` to ``IN (?, ? … 500 values)`` for display."""

    def shorten(match: re.Match) -> str:
        count = match.group(0).count(",") + 1
        first = re.findall(_PLACEHOLDER, match.group(0))[:2]
        return f"IN ({', '.join(first)} … {count} values)"

    return _LONG_IN_LIST.sub(shorten, sql)


@dataclass
class RelationshipEdge:
    parent: str
    key: str
    target: str
    collection: bool

    @property
    def name(self) -> str:
        return f"{self.parent}.{self.key}"


@dataclass
class RelationshipTree:
    """Relationship paths from the root entities of top-level queries, as walked by a workload."""

    paths: dict[str, list[Path]] = field(default_factory=dict)  # root -> paths of relationship keys
    edges: dict[str, RelationshipEdge] = field(default_factory=dict)  # "Book.stores" -> edge
    located: dict[str, tuple[str, Path]] = field(default_factory=dict)  # "Book.stores" -> (root, path)

    def display_path(self, relationship: str) -> str:
        """``Author.books → Book.stores`` for a relationship reached from a root, else the relationship."""
        if relationship not in self.located:
            return relationship
        root, path = self.located[relationship]
        names, current = [], root
        for key in path:
            names.append(f"{current}.{key}")
            edge = self.edges.get(f"{current}.{key}")
            current = edge.target if edge else key
        return " → ".join(names)

    def fix_hint(self, relationship: str) -> str:
        """The option that removes the N+1 on ``relationship``: select-in for collections, joined for
        many-to-one, chained from the root entity the workload queried."""
        edge = self.edges[relationship]
        if relationship not in self.located:
            return relationship_code(edge.parent, edge.key, _fix_kind(edge))
        root, path = self.located[relationship]
        parts, current = [], root
        for key in path:
            step = self.edges[f"{current}.{key}"]
            parts.append(relationship_code(current, key, _fix_kind(step)))
            current = step.target
        return ".".join(parts)


def _fix_kind(edge: RelationshipEdge) -> str:
    return "selectin" if edge.collection else "joined"


def relationship_tree(statements: list[StatementRecord]) -> RelationshipTree:
    """Rebuild root-relative paths from relationship loads.

    Lazy loads carry only their own relationship (a lazily loaded Book knows nothing of the Author it came
    from), so paths are rebuilt as a graph walk: from each root entity queried at top level, follow the
    relationships that were loaded, never visiting a class twice on one path; the shortest path wins.
    """
    tree = RelationshipTree()
    roots: list[str] = []
    for record in statements:
        if record.loader == "query" and record.entity and record.entity not in roots:
            roots.append(record.entity)
        if record.relationship and record.relationship not in tree.edges:
            tree.edges[record.relationship] = RelationshipEdge(
                record.parent, record.relationship.split(".", 1)[1], record.target, record.collection
            )
    by_parent: dict[str, list[RelationshipEdge]] = defaultdict(list)
    for edge in tree.edges.values():
        by_parent[edge.parent].append(edge)
    for root in roots:
        frontier: list[tuple[str, Path, frozenset]] = [(root, (), frozenset({root}))]
        root_paths: list[Path] = []
        while frontier:
            next_frontier = []
            for current, path, visited in frontier:
                for edge in by_parent.get(current, []):
                    if edge.target in visited and edge.target != current:
                        continue
                    new_path = path + (edge.key,)
                    if edge.name in tree.located:
                        continue
                    tree.located[edge.name] = (root, new_path)
                    root_paths.append(new_path)
                    if edge.target not in visited:
                        next_frontier.append((edge.target, new_path, visited | {edge.target}))
            frontier = next_frontier
        if root_paths:
            tree.paths[root] = root_paths
    return tree


@dataclass
class NPlusOneFinding:
    """Many statements issued one per parent object for the same relationship."""

    relationship: str  # "Book.stores"
    path: str  # "Author.books → Book.stores"
    statements: int
    execute_s: float
    fetch_s: float
    rows: int
    example_sql: str
    fix: str  # "selectinload(Author.books).selectinload(Book.stores)"
    sources: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        return (
            f"N+1 on {self.path}: {self.statements} lazy loads ({self.execute_s * 1000:.1f} ms in the database). "
            f"Fix: add .options({self.fix}) to the query."
        )


def find_nplusone(
    statements: list[StatementRecord], tree: RelationshipTree | None = None, threshold: int = 2
) -> list[NPlusOneFinding]:
    """Lazy loads grouped by relationship; ``threshold`` or more for one relationship is an N+1.

    Only lazy loads count: select-in and subquery loads are one statement per batch, never per object.
    """
    tree = tree or relationship_tree(statements)
    groups: dict[str, list[StatementRecord]] = defaultdict(list)
    for record in statements:
        if record.loader == "lazy" and record.relationship:
            groups[record.relationship].append(record)
    findings = []
    for relationship, records in groups.items():
        if len(records) < threshold:
            continue
        sources = sorted({record.source for record in records if record.source})
        findings.append(
            NPlusOneFinding(
                relationship=relationship,
                path=tree.display_path(relationship),
                statements=len(records),
                execute_s=sum(record.execute_s for record in records),
                fetch_s=sum(record.fetch_s for record in records),
                rows=sum(record.rows for record in records),
                example_sql=collapse_in_lists(records[0].sql),
                fix=tree.fix_hint(relationship),
                sources=sources[:5],
            )
        )
    return sorted(findings, key=lambda finding: -finding.statements)


@dataclass
class StatementGroup:
    """Statements with the same SQL (similar) or the same SQL and parameters (duplicate)."""

    kind: str  # "duplicate" or "similar"
    sql: str  # display form, long IN lists collapsed
    count: int
    distinct_params: int
    execute_s: float
    fetch_s: float
    rows: int
    loader: str
    relationship: str | None
    first_index: int


def _params_key(params) -> str:
    return repr(params)


def statement_groups(statements: list[StatementRecord], kind: str) -> list[StatementGroup]:
    """``kind="similar"``: every distinct SQL text (all of them, for EXPLAIN); ``kind="duplicate"``: SQL and
    parameters repeated, i.e. the same rows fetched again. Only groups of two or more are duplicates."""
    if kind not in {"similar", "duplicate"}:
        raise ValueError(f"kind must be 'similar' or 'duplicate', not {kind!r}")
    groups: dict[object, list[StatementRecord]] = defaultdict(list)
    for record in statements:
        key = record.sql if kind == "similar" else (record.sql, _params_key(record.params))
        groups[key].append(record)
    result = []
    for records in groups.values():
        if kind == "duplicate" and len(records) < 2:
            continue
        first = records[0]
        result.append(
            StatementGroup(
                kind=kind,
                sql=collapse_in_lists(first.sql),
                count=len(records),
                distinct_params=len({_params_key(record.params) for record in records}),
                execute_s=sum(record.execute_s for record in records),
                fetch_s=sum(record.fetch_s for record in records),
                rows=sum(record.rows for record in records),
                loader=first.loader,
                relationship=first.relationship,
                first_index=first.index,
            )
        )
    return sorted(result, key=lambda group: (-group.execute_s - group.fetch_s, group.first_index))
