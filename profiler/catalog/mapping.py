"""Mapped classes for a user's models, built from the tables as the database has them (reflected)."""

from __future__ import annotations

from typing import Mapping

from sqlalchemy import Table, inspect
from sqlalchemy.orm import registry, relationship

from .spec import Model, foreign_key_column, reverse_name


class ModelClasses(dict):
    """Mapped classes by model name; also attributes: ``m.orders``."""

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no model {name!r}; the models are: {', '.join(sorted(self))}") from None


def class_name(model: str) -> str:
    return "".join(part.capitalize() for part in model.split("_"))


def _repr(self) -> str:
    keys = ", ".join(f"{column.key}={getattr(self, column.key)!r}" for column in inspect(self).mapper.primary_key)
    return f"{type(self).__name__}({keys})"


def map_models(specs: Mapping[str, Model], tables: Mapping[str, Table]) -> ModelClasses:
    """One class per table in a fresh registry. Each relationship ``rel`` of a model is many-to-one; its
    target gets a collection ordered by key, so every loading strategy returns the same data. A relationship
    to a built-in has no foreign key in the database: its join is declared here, read-only on the built-in."""
    classes = {name: type(class_name(name), (), {"__repr__": _repr, "__module__": "workbench.models"})
               for name in tables}
    properties: dict[str, dict] = {name: {} for name in tables}
    for spec in specs.values():
        table = tables[spec.name]
        for rel, target in spec.relationships.items():
            fk = table.c[foreign_key_column(rel)]
            join = fk == next(iter(tables[target].primary_key.columns))
            collection = reverse_name(spec, rel)
            order = table.c[spec.primary_key]
            if target in specs:
                properties[spec.name][rel] = relationship(classes[target], primaryjoin=join, foreign_keys=[fk],
                                                          back_populates=collection)
                properties[target][collection] = relationship(classes[spec.name], primaryjoin=join,
                                                              foreign_keys=[fk], back_populates=rel, order_by=order)
            else:
                properties[spec.name][rel] = relationship(classes[target], primaryjoin=join, foreign_keys=[fk])
                properties[target][collection] = relationship(classes[spec.name], primaryjoin=join,
                                                              foreign_keys=[fk], viewonly=True, order_by=order)
    mapper_registry = registry()
    for name, cls in classes.items():
        mapper_registry.map_imperatively(cls, tables[name], properties=properties[name])
    mapper_registry.configure()
    return ModelClasses(classes)
