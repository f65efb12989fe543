"""What the captured statements mean: relationship paths walked, N+1 findings, duplicate and similar groups."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import inspect as sa_inspect

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
    own: str | None = None  # the loader the workload's query gives this step by an option of its own
    dynamic: bool = False  # lazy="dynamic"/"write_only": queried per parent, never eager loaded, so no path runs on

    @property
    def name(self) -> str:
        return f"{self.parent}.{self.key}"


@dataclass
class RelationshipTree:
    """Relationship paths from the root entities of top-level queries, as walked by a workload."""

    paths: dict[str, list[Path]] = field(default_factory=dict)  # root -> paths of relationship keys
    edges: dict[str, RelationshipEdge] = field(default_factory=dict)  # "Book.stores" -> edge
    located: dict[str, tuple[str, Path]] = field(default_factory=dict)  # "Book.stores" -> (root, path), the first
    # "Book.publisher" -> every (root, path) SQLAlchemy reported it loaded along: one relationship may be walked
    # from several roots (authors' books' publishers and stores' books' publishers)
    placements: dict[str, list[tuple[str, Path]]] = field(default_factory=dict)
    roots: list[str] = field(default_factory=list)

    def place(self, relationship: str) -> tuple[str, Path] | None:
        return self.located.get(relationship)

    def display_path(self, relationship: str, place: tuple[str, Path] | None = None) -> str:
        """``Author.books → Book.stores`` for a relationship reached from a root, else the relationship."""
        place = place or self.place(relationship)
        if place is None:
            return relationship
        root, path = place
        names, current = [], root
        for key in path:
            names.append(f"{current}.{key}")
            edge = self.edges.get(f"{current}.{key}")
            current = edge.target if edge else key
        return " → ".join(names)

    def key(self, relationship: str, place: tuple[str, Path] | None = None) -> str:
        """The finding's key for ignore lists: the root entity and the relationship keys walked from it,
        ``Author.books.stores``; the relationship itself when no root reaches it."""
        place = place or self.place(relationship)
        return relationship if place is None else ".".join((place[0], *place[1]))

    def fix_hint(self, relationship: str, place: tuple[str, Path] | None = None) -> str:
        """The option that removes the N+1 on ``relationship``: select-in for collections, joined for
        many-to-one, chained from the root entity the workload queried."""
        edge = self.edges[relationship]
        place = place or self.place(relationship)
        if place is None:
            return relationship_code(edge.parent, edge.key, _fix_kind(edge))
        return ".".join(relationship_code(parent, key, kind) for parent, key, kind in self.fix_steps(place))

    def loaded_at(self, target: str) -> tuple[tuple[str, Path] | None, str | None]:
        """Where objects of class ``target`` were loaded along a relationship: (root, path) and the
        relationship, the shortest; (None, None) when only queries of it load them."""
        found = [(place, name) for name, edge in self.edges.items() if edge.target == target and not edge.dynamic
                 for place in self.placements.get(name, []) or ([self.located[name]] if name in self.located else [])]
        if not found:
            return None, None
        return min(found, key=lambda item: len(item[0][1]))

    def fix_steps(self, place: tuple[str, Path]) -> list[tuple[str, str, str]]:
        """(owner, key, loader kind) per step of the fix for the last step of ``place``."""
        root, path = place
        steps, current = [], root
        for depth, key in enumerate(path, start=1):
            step = self.edges[f"{current}.{key}"]
            # a step the query already loads keeps its loader: a second one for the same path is refused
            kind = step.own if step.own and depth < len(path) else _fix_kind(step)
            steps.append((current, key, kind))
            current = step.target
        return steps


def _fix_kind(edge: RelationshipEdge) -> str:
    return "selectin" if edge.collection else "joined"


def relationship_tree(
    statements: list[StatementRecord], own_paths: dict[str, dict] | None = None, models: dict[str, type] | None = None
) -> RelationshipTree:
    """Root-relative paths from relationship loads.

    When the objects were loaded with an option that propagates (the profiler's runs add one), SQLAlchemy
    reports each load's whole path from the query's root entity, and that is where it is placed. Otherwise a
    lazy load carries only its own relationship (a lazily loaded Book knows nothing of the Author it came from),
    and paths are rebuilt as a graph walk: from each root entity queried at top level, follow the relationships
    that were loaded, never visiting a class twice on one path; the shortest path wins.
    ``own_paths`` (root -> {path: kind}, with the ``models`` to resolve them) are the loads the workload's
    queries ask for by options of their own: a joined load runs no statement of its own, yet the walk goes
    through it.
    """
    tree = RelationshipTree()
    roots = tree.roots
    for root, paths in (own_paths or {}).items():
        if root in (models or {}):
            _own_edges(tree, models[root], paths)
    for record in statements:
        # a dynamic relationship's query is top-level to the ORM: a root for the loaders below it
        if record.loader in ("query", "get", "dynamic") and record.entity and record.entity not in roots:
            roots.append(record.entity)
        if record.relationship and record.relationship not in tree.edges:
            tree.edges[record.relationship] = RelationshipEdge(
                record.parent, record.relationship.split(".", 1)[1], record.target, record.collection,
                dynamic=record.loader == "dynamic",
            )
    for record in statements:
        if record.relationship and record.loader != "dynamic" and record.path and record.path[0] in roots:
            place = (record.path[0], tuple(record.path[1:]))
            placed = tree.placements.setdefault(record.relationship, [])
            if place not in placed and _walkable(tree, place, models):
                placed.append(place)
    for relationship, placed in tree.placements.items():
        placed.sort(key=lambda place: len(place[1]))
        if placed:
            tree.located[relationship] = placed[0]
            for root, path in placed:
                root_paths = tree.paths.setdefault(root, [])
                for depth in range(1, len(path) + 1):
                    if path[:depth] not in root_paths:
                        root_paths.append(path[:depth])
    by_parent: dict[str, list[RelationshipEdge]] = defaultdict(list)
    for edge in tree.edges.values():
        if not edge.dynamic:
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
                        if tree.located[edge.name] == (root, new_path) and edge.target not in visited:
                            next_frontier.append((edge.target, new_path, visited | {edge.target}))
                        continue
                    tree.located[edge.name] = (root, new_path)
                    root_paths.append(new_path)
                    if edge.target not in visited:
                        next_frontier.append((edge.target, new_path, visited | {edge.target}))
            frontier = next_frontier
        if root_paths:
            tree.paths.setdefault(root, []).extend(path for path in root_paths if path not in tree.paths[root])
    return tree


def _walkable(tree: RelationshipTree, place: tuple[str, Path], models: dict[str, type] | None) -> bool:
    """Whether every step of ``place`` is a known edge, adding from the mappings (``models``) the steps that
    ran no statement of their own (a joined eager load); False when a step cannot be known."""
    name, mapped = place[0], (models or {}).get(place[0])
    for key in place[1]:
        relationship = None
        if mapped is not None and key in sa_inspect(mapped).relationships:
            relationship = sa_inspect(mapped).relationships[key]
        edge = tree.edges.get(f"{name}.{key}")
        if edge is None:
            if relationship is None:
                return False
            edge = tree.edges[f"{name}.{key}"] = RelationshipEdge(
                name, key, relationship.mapper.class_.__name__, bool(relationship.uselist))
        name, mapped = edge.target, relationship.mapper.class_ if relationship is not None else None
    return True


def _own_edges(tree: RelationshipTree, root: type, paths: dict) -> None:
    for path, kind in paths.items():
        current = root
        for depth, key in enumerate(path, start=1):
            relationship = sa_inspect(current).relationships[key]
            name = f"{current.__name__}.{key}"
            edge = tree.edges.get(name)
            if edge is None:
                edge = tree.edges[name] = RelationshipEdge(
                    current.__name__, key, relationship.mapper.class_.__name__, bool(relationship.uselist))
            if depth == len(path):
                edge.own = kind
            current = relationship.mapper.class_


@dataclass
class NPlusOneFinding:
    """A loading pattern to fix. ``kind``: "lazy", one relationship loaded per parent object; "get", one entity
    loaded per primary key (``session.get()`` in a loop); "dynamic", a lazy="dynamic" relationship queried per
    parent; "unused", an eager load the workload asks for and never touches; "columns", a joined-table
    subclass's own columns loaded per object.

    ``key`` names it in an ignore list: the root entity and the relationship keys walked from it
    (``Author.books.stores``), the entity of a get loop (``Author``). An ignored finding keeps its place,
    with ``ignored`` holding the reason it was accepted."""

    relationship: str  # "Book.stores"; for a get loop the entity, "Author"
    path: str  # "Author.books → Book.stores"; for a get loop "Author by primary key"
    statements: int
    execute_s: float
    fetch_s: float
    rows: int
    example_sql: str
    fix: str  # "selectinload(Author.books).selectinload(Book.stores)"; for a get loop, the batched query's code
    sources: list[str] = field(default_factory=list)
    kind: str = "lazy"
    key: str = ""
    ignored: str | None = None
    place: tuple[str, Path] | None = field(default=None, repr=False)  # (root, path) of a lazy finding's fix
    # the fix checked by running the workload with it: the run's statements before and after, and whether the
    # pattern is gone (None when not checked, e.g. a get loop's fix is code to write)
    before: int | None = None
    after: int | None = None
    fixed: bool | None = None
    remaining_note: str = field(default="", repr=False)  # why a checked fix fell short

    @property
    def message(self) -> str:
        text = self._text()
        return f"IGNORED ({self.ignored}): {text}" if self.ignored else text

    def _text(self) -> str:
        database = f"{self.execute_s * 1000:.1f} ms in the database"
        if self.kind == "get":
            statement, use = self.fix.splitlines()[1:3]
            return (
                f"Get in a loop on {self.path}: {self.statements} statements, one {self.relationship} each "
                f"({database}). Fix: load them in one statement before the loop, {statement} ({use.lstrip('# ')})."
                f"{self._batched_check()}"
            )
        if self.kind == "dynamic":
            lines = self.fix.splitlines()
            if lines[0].startswith("#"):  # a secondary table: the read-only twin
                fix = (f"give {self.relationship.split('.')[0]} a read-only twin of it, not dynamic, "
                       f"{lines[1]}, and load that with selectinload")
            else:
                batched = lines[3].split(" in ", 1)[1].rstrip(":")  # the loop header of dynamic_fix_code's code
                fix = f"load the children of every parent in one statement, {batched}, grouped by parent"
            return (
                f"N+1 on {self.path}, a dynamic or write-only relationship (never eager loaded): {self.statements} "
                f"queries, one per parent ({database}). Fix: {fix} (the code is in the finding's fix)."
                f"{self._batched_check()}"
            )
        if self.kind == "columns":
            where = "" if self.path == self.relationship else f" loaded along {self.path}"
            return (f"Subclass columns loaded one object at a time: {self.statements} statements for the "
                    f"{self.relationship} objects{where} ({database}). Fix: add .options({self.fix}) to the query."
                    f"{self._checked()}")
        if self.kind == "unused":
            return f"Unused eager load {self.path}: loaded, never touched. Fix: {self.fix}."
        return (f"N+1 on {self.path}: {self.statements} lazy loads ({database}). "
                f"Fix: add .options({self.fix}) to the query.{self._checked()}")

    def _checked(self) -> str:
        if self.fixed is True:
            return f" Checked: with it the workload ran {self.before} → {self.after} statements, the same data."
        if self.fixed is False:
            return (f" Checked, and it is not enough: with it the workload ran {self.before} → {self.after} "
                    f"statements{self.remaining_note}; load it another way (see the strategies).")
        return ""

    def _batched_check(self) -> str:
        if self.fixed is True:
            return (f" Checked: with the loop's keys it is one statement fetching the same rows ({self.before} → "
                    f"{self.after} statements for the workload).")
        if self.fixed is False:
            return f" Checked, and it does not hold{self.remaining_note}."
        return ""


def find_nplusone(
    statements: list[StatementRecord], tree: RelationshipTree | None = None, threshold: int = 2
) -> list[NPlusOneFinding]:
    """Lazy loads grouped by relationship; ``threshold`` or more for one relationship is an N+1.

    Only lazy loads count: select-in and subquery loads are one statement per batch, never per object.
    """
    tree = tree or relationship_tree(statements)
    # by where the loads happened: one relationship reached from two roots is two findings with two fixes
    groups: dict[tuple, list[StatementRecord]] = defaultdict(list)
    for record in statements:
        if record.loader in ("lazy", "dynamic") and record.relationship:
            place = (record.path[0], tuple(record.path[1:])) if record.path else None
            if record.loader == "dynamic" or place not in tree.placements.get(record.relationship, ()):
                place = tree.place(record.relationship)
            groups[(record.relationship, place)].append(record)
    findings = find_get_loops(statements, threshold) + find_subclass_loads(statements, tree, threshold)
    for (relationship, place), records in groups.items():
        if len(records) < threshold:
            continue
        sources = sorted({record.source for record in records if record.source})
        dynamic = records[0].loader == "dynamic"
        findings.append(
            NPlusOneFinding(
                relationship=relationship,
                path=tree.display_path(relationship, place) if not dynamic else relationship,
                statements=len(records),
                execute_s=sum(record.execute_s for record in records),
                fetch_s=sum(record.fetch_s for record in records),
                rows=sum(record.rows for record in records),
                example_sql=collapse_in_lists(records[0].sql),
                fix=dynamic_fix_code(records[0]) if dynamic else tree.fix_hint(relationship, place),
                sources=sources[:5],
                kind="dynamic" if dynamic else "lazy",
                key=tree.key(relationship, place) if not dynamic else relationship,
                place=place if not dynamic else None,
            )
        )
    return sorted(findings, key=lambda finding: -finding.statements)


def find_get_loops(statements: list[StatementRecord], threshold: int = 2) -> list[NPlusOneFinding]:
    """Entities loaded one primary key at a time: ``threshold`` or more "get" statements of one entity with
    different keys. Asking for the same key again is a duplicate (see ``statement_groups``), not a loop."""
    groups: dict[str, list[StatementRecord]] = defaultdict(list)
    for record in statements:
        if record.loader == "get" and record.entity and record.lookup:
            groups[record.entity].append(record)
    findings = []
    for entity, records in groups.items():
        if len({_params_key(record.params) for record in records}) < threshold:
            continue
        findings.append(
            NPlusOneFinding(
                relationship=entity,
                path=f"{entity} by primary key",
                statements=len(records),
                execute_s=sum(record.execute_s for record in records),
                fetch_s=sum(record.fetch_s for record in records),
                rows=sum(record.rows for record in records),
                example_sql=collapse_in_lists(records[0].sql),
                fix=batched_get_code(entity, records[0].lookup),
                sources=sorted({record.source for record in records if record.source})[:5],
                kind="get",
                key=entity,
            )
        )
    return findings


def find_subclass_loads(statements: list[StatementRecord], tree: RelationshipTree,
                        threshold: int = 2) -> list[NPlusOneFinding]:
    """Joined-table subclasses whose own columns load one object at a time: objects loaded as their base class
    (a relationship or query of ``Media``) and then read for a subclass's column (``image.width``), at least
    ``threshold`` times for one subclass. The fix
    loads the subclasses' rows with the base rows, ``selectin_polymorphic``, where the base objects load."""
    groups: dict[str, list[StatementRecord]] = defaultdict(list)
    for record in statements:
        if record.loader == "columns" and record.lookup:
            groups[record.lookup[0]].append(record)
    findings = []
    for base, records in groups.items():
        # per subclass: one object of each of two subclasses is one statement each, not a loop
        counts = Counter(record.entity for record in records)
        subclasses = sorted(entity for entity, count in counts.items() if count >= threshold)
        if not subclasses:
            continue
        records = [record for record in records if record.entity in subclasses]
        place, edge = tree.loaded_at(base)
        if place is not None:
            chain = ".".join(relationship_code(owner, key, kind) for owner, key, kind in tree.fix_steps(place))
            fix = f"{chain}.selectin_polymorphic([{', '.join(subclasses)}])"
            path, key = tree.display_path(edge, place), f"{tree.key(edge, place)}.subclasses"
        else:
            fix = f"selectin_polymorphic({base}, [{', '.join(subclasses)}])"
            path, key = base, f"{base}.subclasses"
        findings.append(NPlusOneFinding(
            relationship=base, path=path, statements=len(records),
            execute_s=sum(record.execute_s for record in records), fetch_s=sum(record.fetch_s for record in records),
            rows=sum(record.rows for record in records), example_sql=collapse_in_lists(records[0].sql), fix=fix,
            sources=sorted({record.source for record in records if record.source})[:5], kind="columns", key=key,
            place=place,
        ))
    return findings


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def dynamic_fix_code(record: StatementRecord) -> str:
    """What replaces a loop over a lazy="dynamic" relationship: every parent's children in one statement,
    grouped by parent; or, when a secondary table joins them, a read-only twin that can be eager loaded."""
    parent, target, key = record.parent, record.target, record.relationship.split(".", 1)[1]
    child, owner = _snake(target), _snake(parent)
    if record.lookup is None:
        return (
            f"# in class {parent}, a read-only twin of {key} that can be eager loaded (the same arguments, "
            f"without lazy='dynamic' or 'write_only'):\n"
            f"{key}_list = relationship(..., viewonly=True)\n"
            f"# then add .options(selectinload({parent}.{key}_list)) to the query and read {owner}.{key}_list "
            f"in the loop"
        )
    parent_key, child_key = record.lookup
    return (
        "from collections import Counter, defaultdict\nfrom sqlalchemy import select\n"
        f"{child}s_by_{owner} = defaultdict(list)\n"
        f"for {child} in session.scalars(select({target}).where({target}.{child_key}.in_({owner}_keys))):\n"
        f"    {child}s_by_{owner}[{child}.{child_key}].append({child})\n"
        f"# {owner}_keys: the {parent_key} of every {parent} the loop visits; then {child}s_by_{owner}"
        f"[{owner}.{parent_key}] where it read {owner}.{key}"
    )


def apply_ignores(findings: list[NPlusOneFinding], ignore) -> set[str]:
    """Mark the findings whose key ``ignore`` (key -> reason) names; return the keys that matched."""
    matched = set()
    for finding in findings:
        reason = ignore.get(finding.key)
        if reason is not None:
            finding.ignored = reason
            matched.add(finding.key)
    return matched


def batched_get_code(entity: str, keys: tuple[str, ...]) -> str:
    """The one statement replacing ``session.get(entity, key)`` in a loop: every wanted key in one IN list,
    the rows in a dict by key for the loop to read."""
    name = _snake(entity)
    if len(keys) == 1:
        column, key = f"{entity}.{keys[0]}", f"{name}.{keys[0]}"
        imports = "from sqlalchemy import select"
    else:
        column = "tuple_(" + ", ".join(f"{entity}.{key}" for key in keys) + ")"
        key = "(" + ", ".join(f"{name}.{part}" for part in keys) + ")"
        imports = "from sqlalchemy import select, tuple_"
    return (
        f"{imports}\n"
        f"{name}_by_key = {{{key}: {name} for {name} in session.scalars(select({entity}).where({column}.in_(keys)))}}\n"
        f"# keys: every key the loop asks for; then {name}_by_key[key] where it called session.get({entity}, key)"
    )


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
