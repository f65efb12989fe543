"""Loading plans: which loader each relationship path gets, as SQLAlchemy options and as paste-able code.

A plan maps a root entity name to ``{("books", "stores"): "selectin", ...}``: relationship keys walked from
the root, each with a loader kind. Plans are plain data so they can be shown, compared, edited one path at a
time (the unused-eager-load search swaps one path for ``raise``) and turned into code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from sqlalchemy import inspect
from sqlalchemy.orm import Load, class_mapper

# loader kind -> name of the sqlalchemy.orm function and Load method
LOADER_FUNCTIONS = {
    "joined": "joinedload",
    "selectin": "selectinload",
    "subquery": "subqueryload",
    "immediate": "immediateload",
    "lazy": "lazyload",
    "raise": "raiseload",
    "default": "defaultload",
}
EAGER_KINDS = frozenset({"joined", "selectin", "subquery", "immediate"})


class UnknownRelationshipError(ValueError):
    """A plan names a relationship its entity does not have."""


Path = tuple[str, ...]


@dataclass(frozen=True)
class LoadPlan:
    """Loader kind per relationship path, per root entity (by class name)."""

    loaders: Mapping[str, Mapping[Path, str]] = field(default_factory=dict)

    def __post_init__(self):
        for root, paths in self.loaders.items():
            for path, kind in paths.items():
                if kind not in LOADER_FUNCTIONS:
                    raise ValueError(
                        f"unknown loader {kind!r} for {root}.{'.'.join(path)}; use one of {sorted(LOADER_FUNCTIONS)}"
                    )

    @classmethod
    def uniform(cls, paths: Mapping[str, list[Path]], kind: str) -> LoadPlan:
        return cls({root: {path: kind for path in root_paths} for root, root_paths in paths.items()})

    @classmethod
    def from_spec(cls, root: type, spec: Mapping[str, str]) -> LoadPlan:
        """``{"books": "selectin", "books.stores": "joined"}`` for root class ``root``; checked against the
        mappings so a misspelt relationship fails here with the list of real ones."""
        plan = cls({root.__name__: {tuple(key.split(".")): kind for key, kind in spec.items()}})
        plan.resolve(root)
        return plan

    def with_loader(self, root: str, path: Path, kind: str) -> LoadPlan:
        loaders = {name: dict(paths) for name, paths in self.loaders.items()}
        loaders.setdefault(root, {})[path] = kind
        return LoadPlan(loaders)

    def without(self, own_paths: Mapping[str, Mapping[Path, str]]) -> LoadPlan:
        """The plan less the paths the workload's queries load by options of their own (root -> {path: kind}),
        as it is applied to those queries."""
        return LoadPlan({root: {path: kind for path, kind in paths.items() if path not in own_paths.get(root, {})}
                         for root, paths in self.loaders.items()})

    def eager_paths(self) -> list[tuple[str, Path]]:
        return [
            (root, path) for root, paths in self.loaders.items() for path, kind in paths.items() if kind in EAGER_KINDS
        ]

    def paths_for(self, root: str) -> dict[Path, str]:
        return dict(self.loaders.get(root, {}))

    def __bool__(self) -> bool:
        return any(self.loaders.values())

    # -- to SQLAlchemy -------------------------------------------------------------------------------------
    def resolve(self, root: type) -> dict[Path, list]:
        """The relationship attributes of every path of ``root``'s plan, raising a clear error for bad names."""
        resolved = {}
        for path in self.loaders.get(root.__name__, {}):
            attributes, current = [], root
            for key in path:
                relationships = class_mapper(current).relationships
                if key not in relationships:
                    known = ", ".join(sorted(relationships.keys())) or "none"
                    raise UnknownRelationshipError(
                        f"{current.__name__} has no relationship {key!r} (in path {'.'.join(path)!r} from "
                        f"{root.__name__}); its relationships are: {known}"
                    )
                attributes.append(getattr(current, key))
                current = relationships[key].mapper.class_
            resolved[path] = attributes
        return resolved

    def options_for(
        self, root: type, *, raise_elsewhere: bool = False, own: frozenset = frozenset(), entity=None
    ) -> list:
        """Loader options for a query whose root entity is ``root``.

        With ``raise_elsewhere`` every relationship the plan does not cover raises when touching it would run
        SQL (``raiseload(..., sql_only=True)`` on the root and below each planned path): that is how the auto
        strategy discovers what is missing. A many-to-one whose object is already in the session costs nothing
        and does not raise, so a walk back along a relationship (book.author of an author's book) gets no
        loader it does not need.

        ``own`` are the paths the query loads by options of its own: the plan leaves them as they are (a second
        loader for one path is refused by SQLAlchemy) and reaches past them with ``defaultload``.

        ``entity`` is the query's entity when it is an alias of ``root`` (``aliased(User)``,
        ``with_polymorphic(Media, ...)``): options must start from the entity the query selects.
        """
        resolved = self.resolve(root)
        start = root if entity is None else entity

        def attribute(path: Path, depth: int):
            return getattr(start, path[0]) if depth == 1 and entity is not None else resolved[path][depth - 1]

        kinds = {path: kind for path, kind in self.loaders.get(root.__name__, {}).items() if path not in own}
        options = []
        # raiseload("*") must sit under every planned path, not only the leaves: below a leaf it covers the
        # leaf's class, below an inner path the siblings the plan has not reached yet
        for path in sorted(kinds) if raise_elsewhere else leaf_paths(kinds):
            option = Load(start)
            for depth in range(1, len(path) + 1):
                kind = kinds.get(path[:depth], "default")
                option = getattr(option, LOADER_FUNCTIONS[kind])(attribute(path, depth))
            if raise_elsewhere:
                option = option.raiseload("*", sql_only=True)
            options.append(option)
        if raise_elsewhere:
            options.append(Load(start).raiseload("*", sql_only=True))
            # below the query's own loaders too, or what it loads would walk on lazily, unseen
            for path in sorted(own):
                option = Load(start)
                for depth, step in enumerate(_attributes(root, path), start=1):
                    option = option.defaultload(getattr(start, path[0]) if depth == 1 and entity is not None else step)
                options.append(option.raiseload("*", sql_only=True))
        return options

    def needs_unique(self, root: type) -> bool:
        """Joined eager loading of a collection repeats parent rows; SQLAlchemy 2 then insists the result
        is uniqued, which workloads written for lazy loading do not do."""
        return any(kind == "joined" for kind in self.loaders.get(root.__name__, {}).values())

    # -- to code --------------------------------------------------------------------------------------------
    def to_code(self, models: Mapping[str, type] | None = None) -> str:
        """The plan as code a user can paste: imports plus one ``select(...).options(...)`` per root."""
        if not self:
            return "# no loader options: every relationship loads lazily (the model defaults)"
        functions = {LOADER_FUNCTIONS[kind] for paths in self.loaders.values() for kind in paths.values()}
        if any(path[:depth] not in kinds for kinds in self.loaders.values() for path in leaf_paths(kinds)
               for depth in range(1, len(path))):
            functions.add("defaultload")  # a step the plan leaves as it is, on the way to one it loads
        functions = sorted(functions)
        lines = [f"from sqlalchemy import select\nfrom sqlalchemy.orm import {', '.join(functions)}", ""]
        for root, kinds in self.loaders.items():
            if not kinds:
                continue
            lines.append(f"select({root}).options(")
            for path in leaf_paths(kinds):
                lines.append(f"    {self.option_code(root, path, models)},")
            lines.append(")")
        return "\n".join(lines)

    def option_code(self, root: str, path: Path, models: Mapping[str, type] | None = None) -> str:
        """One chained option as code, e.g. ``selectinload(Author.books).joinedload(Book.publisher)``."""
        kinds = self.loaders.get(root, {})
        owners = _owners(root, path, models)
        parts = []
        for depth in range(1, len(path) + 1):
            kind = kinds.get(path[:depth], "default")
            parts.append(f"{LOADER_FUNCTIONS[kind]}({owners[depth - 1]}.{path[depth - 1]})")
        return ".".join(parts)


def _attributes(root: type, path: Path) -> list:
    attributes, current = [], root
    for key in path:
        attributes.append(getattr(current, key))
        current = class_mapper(current).relationships[key].mapper.class_
    return attributes


def leaf_paths(kinds: Mapping[Path, str]) -> list[Path]:
    """Paths that are not a prefix of another path; each becomes one chained option."""
    paths = sorted(kinds)
    return [path for path in paths if not any(len(other) > len(path) and other[: len(path)] == path for other in paths)]


def _owners(root: str, path: Path, models: Mapping[str, type] | None) -> list[str]:
    """Class names owning each step of ``path`` (falls back to the key when the models are unknown)."""
    owners, current = [], (models or {}).get(root)
    name = root
    for key in path:
        owners.append(name)
        if current is not None and key in inspect(current).relationships:
            current = inspect(current).relationships[key].mapper.class_
            name = current.__name__
        else:
            current, name = None, key.capitalize()
    return owners


def relationship_code(parent: str, key: str, kind: str) -> str:
    return f"{LOADER_FUNCTIONS[kind]}({parent}.{key})"
