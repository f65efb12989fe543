"""What a user's model is: a name, typed columns, a primary key and relationships. Pure: no database.

Everything a user types is checked here before any SQL exists: names against a strict pattern and the
reserved words of both supported databases, types against a small allowed set, defaults against the
column's type. Identifiers reach the database only through SQLAlchemy's quoting and defaults only as
literals rendered by the dialect, so no text a user types is ever formatted into SQL.
"""

from __future__ import annotations

import hashlib
import json
import keyword
import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from sqlalchemy import BigInteger, Boolean, Date, DateTime, Float, Integer, Numeric, Text
from sqlalchemy.dialects.postgresql.base import RESERVED_WORDS as _POSTGRESQL_RESERVED
from sqlalchemy.dialects.sqlite.base import SQLiteIdentifierPreparer

from profiler.inputs import InputError, shown
from profiler.playground import BUILTIN_SCHEMA

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_COLUMNS = 50

TYPES = {
    "integer": Integer,
    "bigint": BigInteger,
    "float": Float,
    "decimal": lambda: Numeric(12, 2, asdecimal=False),
    "text": Text,
    "boolean": Boolean,
    "date": Date,
    "datetime": DateTime,
}
KEY_TYPES = ("integer", "bigint", "text")  # what a primary key may be
_DEFAULT_CHECKS = {
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool) and -(2**31) <= v < 2**31,
    "bigint": lambda v: isinstance(v, int) and not isinstance(v, bool) and -(2**63) <= v < 2**63,
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v),
    "decimal": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) < 10**10,
    "text": lambda v: isinstance(v, str) and "\x00" not in v and len(v) <= 1000,
    "boolean": lambda v: isinstance(v, bool),
}
RESERVED_NAMES = frozenset(
    set(_POSTGRESQL_RESERVED)
    | set(SQLiteIdentifierPreparer.reserved_words)
    | set(keyword.kwlist)
    | {"builtin", "metadata", "registry", "mapper", "public", "main", "temp", "oid", "ctid", "rowid", "xmin", "xmax"}
)
RESERVED_PREFIXES = ("sqlite_", "pg_", "workbench")


class ModelError(InputError):
    """A model definition or operation that cannot be done; the message says why and what to do instead."""


def check_name(name: Any, what: str) -> str:
    """``name`` if it is a valid model/column/relationship name, else a :class:`ModelError` that says why."""
    if not isinstance(name, str):
        raise ModelError(f"{what} name must be a string, got {name!r}")
    if not NAME_PATTERN.match(name):
        raise ModelError(
            f"{what} name {name!r} is not allowed: use 1-40 lowercase letters, digits and underscores, "
            "starting with a letter (e.g. 'order_items')"
        )
    if name in RESERVED_NAMES:
        raise ModelError(f"{what} name {name!r} is a reserved word in SQL or Python: choose another")
    if name.startswith(RESERVED_PREFIXES):
        raise ModelError(f"{what} name {name!r} starts with a reserved prefix ({', '.join(RESERVED_PREFIXES)})")
    return name


@dataclass(frozen=True)
class Field:
    """One column. ``type`` is one of :data:`TYPES`; ``default`` a plain value of that type (or None)."""

    name: str
    type: str
    nullable: bool = True
    default: Any = None

    def __post_init__(self):
        check_name(self.name, "column")
        if not isinstance(self.nullable, bool):  # "no" is a non-empty string: it would make the column nullable
            raise ModelError(f"column {self.name!r}: nullable must be True or False, got {shown(self.nullable)}")
        if not isinstance(self.type, str) or self.type not in TYPES:
            raise ModelError(
                f"column {self.name!r}: unknown type {shown(self.type)}; the types are {', '.join(TYPES)}"
            )
        if self.default is not None:
            check = _DEFAULT_CHECKS.get(self.type)
            if check is None:
                raise ModelError(f"column {self.name!r}: defaults are supported for {', '.join(_DEFAULT_CHECKS)} "
                                 f"columns, not {self.type}")
            if not check(self.default):
                raise ModelError(f"column {self.name!r}: default {shown(self.default)} is not a valid "
                                 f"{self.type} value")

    def sqlalchemy_type(self):
        return TYPES[self.type]()

    def to_json(self) -> dict:
        return {"name": self.name, "type": self.type, "nullable": self.nullable, "default": self.default}


def _as_field(name: str, value: str | Field | Mapping) -> Field:
    if isinstance(value, Field):
        if value.name != name:
            raise ModelError(f"column {name!r} is given a Field named {value.name!r}")
        return value
    if isinstance(value, str):
        return Field(name, value)
    if isinstance(value, Mapping):
        return Field(name, **value)
    raise ModelError(f"column {name!r}: expected a type name such as 'text', or a Field, got {value!r}")


@dataclass(frozen=True)
class Model:
    """A user's model: ``Model("orders", {"id": "integer", "total": "decimal"}, relationships={"customer":
    "customers"})``.

    Each relationship ``rel -> target`` is many-to-one: a column ``<rel>_id`` holding the target's primary key
    (a foreign key when the target is the user's own model) and, on the target, a collection named after this
    model. Targets are the user's own models or built-in ones (``"books"`` or ``"builtin.books"``).
    """

    name: str
    columns: Mapping[str, str | Field | Mapping] | Iterable[Field]
    primary_key: str = "id"
    relationships: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self):
        check_name(self.name, "model")
        raw = self.columns
        if isinstance(raw, Mapping):
            fields = tuple(_as_field(check_name(name, "column"), value) for name, value in raw.items())
        else:
            fields = tuple(raw)
            if not all(isinstance(item, Field) for item in fields):
                raise ModelError(f"model {self.name!r}: columns are a dict of name -> type, or a list of Field")
        if not fields:
            raise ModelError(f"model {self.name!r} needs at least one column")
        if len(fields) > MAX_COLUMNS:
            raise ModelError(f"model {self.name!r} has {len(fields)} columns; at most {MAX_COLUMNS}")
        object.__setattr__(self, "columns", fields)
        names = [f.name for f in fields]
        if len(set(names)) != len(names):
            raise ModelError(f"model {self.name!r} names a column twice")
        key = next((f for f in fields if f.name == self.primary_key), None)
        if key is None:
            raise ModelError(f"model {self.name!r}: primary key {self.primary_key!r} is not one of its columns "
                             f"({', '.join(names)})")
        if key.type not in KEY_TYPES:
            raise ModelError(f"model {self.name!r}: a primary key must be {', '.join(KEY_TYPES)}, not {key.type}")
        relationships = {}
        for rel, target in dict(self.relationships).items():
            check_name(rel, "relationship")
            if not isinstance(target, str):
                raise ModelError(f"relationship {rel!r} must name a model, got {target!r}")
            builtin = target.startswith(BUILTIN_SCHEMA + ".")
            target_name = check_name(target.split(".", 1)[1] if builtin else target, "relationship target")
            for taken in (rel, foreign_key_column(rel)):
                if taken in names:
                    raise ModelError(f"model {self.name!r}: relationship {rel!r} clashes with {taken!r}")
                names.append(taken)
            relationships[rel] = target_name
        object.__setattr__(self, "relationships", relationships)

    @property
    def key(self) -> Field:
        return next(f for f in self.columns if f.name == self.primary_key)

    def column_names(self) -> list[str]:
        return [f.name for f in self.columns] + [foreign_key_column(rel) for rel in self.relationships]

    def to_json(self) -> str:
        return json.dumps({
            "name": self.name,
            "columns": [f.to_json() for f in self.columns],
            "primary_key": self.primary_key,
            "relationships": self.relationships,
        })

    @classmethod
    def from_json(cls, text: str) -> Model:
        data = json.loads(text)
        return cls(data["name"], [Field(**column) for column in data["columns"]], data["primary_key"],
                   data["relationships"])

    def with_column(self, column: Field) -> Model:
        if column.name in self.column_names() or column.name in self.relationships:
            raise ModelError(f"model {self.name!r} already has {column.name!r}")
        return Model(self.name, [*self.columns, column], self.primary_key, self.relationships)

    def without_column(self, name: str) -> Model:
        if name == self.primary_key:
            raise ModelError(f"{name!r} is the primary key of {self.name!r}: it cannot be dropped")
        for rel in self.relationships:
            if name == foreign_key_column(rel):
                raise ModelError(f"{name!r} holds the relationship {self.name}.{rel}: relationships cannot be "
                                 "dropped; drop and re-create the model")
        if name not in [f.name for f in self.columns]:
            raise ModelError(f"model {self.name!r} has no column {name!r}; its columns: "
                             f"{', '.join(self.column_names())}")
        return Model(self.name, [f for f in self.columns if f.name != name], self.primary_key, self.relationships)


def foreign_key_column(relationship: str) -> str:
    return f"{relationship}_id"


# PostgreSQL's identifiers are at most 63 bytes (NAMEDATALEN - 1) and SQLAlchemy refuses longer ones before
# sending them; a model and a relationship of 40 characters each would make an index name of 87.
MAX_IDENTIFIER = 63


def index_name(model: str, column: str) -> str:
    """``ix_<model>_<column>``; when that passes 63 characters, its first 54 and 8 hex digits of its hash, so
    that it stays the same on every database and distinct from its neighbours'."""
    name = f"ix_{model}_{column}"
    if len(name) <= MAX_IDENTIFIER:
        return name
    return f"{name[:MAX_IDENTIFIER - 9]}_{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def reverse_name(model: Model, relationship: str) -> str:
    """The collection on the target: the model's name, or ``<model>_as_<rel>`` when several of the model's
    relationships point at the same target."""
    target = model.relationships[relationship]
    same_target = [rel for rel, other in model.relationships.items() if other == target]
    return model.name if len(same_target) == 1 else f"{model.name}_as_{relationship}"


def find_cycle(models: Mapping[str, Model]) -> list[str] | None:
    """A relationship cycle among ``models`` (``["a", "b", "a"]``), or None. Targets outside are ignored."""
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> list[str] | None:
        state[name] = "visiting"
        for target in models[name].relationships.values():
            if target not in models:
                continue
            if state.get(target) == "visiting":
                return path[path.index(target):] + [target] if target in path else [name, target]
            if target not in state:
                found = visit(target, path + [target])
                if found:
                    return found
        state[name] = "done"
        return None

    for name in sorted(models):
        if name not in state:
            found = visit(name, [name])
            if found:
                return found
    return None

