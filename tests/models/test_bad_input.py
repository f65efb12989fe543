"""Bad model definitions get a clear error and leave nothing half-made, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select, text

from profiler.catalog.journal import JOURNAL_TABLE
from profiler.catalog.spec import Field, Model, ModelError

INJECTION = "x'); DROP TABLE customers; --"


@pytest.mark.parametrize("name, reason", [
    ("Orders", "not allowed"),
    ("1orders", "not allowed"),
    ("order-items", "not allowed"),
    ("o" * 41, "not allowed"),
    ("", "not allowed"),
    ('x"; DROP TABLE y; --', "not allowed"),
    ("orders;drop", "not allowed"),
    ("ordérs", "not allowed"),
    ("select", "reserved word"),
    ("class", "reserved word"),
    ("builtin", "reserved word"),
    ("sqlite_master", "reserved prefix"),
    ("pg_class", "reserved prefix"),
    ("workbench_models", "reserved prefix"),
    (None, "must be a string"),
])
def test_invalid_and_reserved_names_are_refused_for_models_columns_and_relationships(name, reason):
    with pytest.raises(ModelError, match=reason):
        Model(name, {"id": "integer"})
    with pytest.raises(ModelError, match=reason):
        Model("things", {"id": "integer", name: "text"})
    with pytest.raises(ModelError, match=reason):
        Model("things", {"id": "integer"}, relationships={name: "books"})


@pytest.mark.parametrize("definition, message", [
    (lambda: Model("t", {"id": "varchar"}), r"unknown type 'varchar'; the types are integer, bigint"),
    (lambda: Model("t", {"id": "integer", "x": "text; DROP TABLE t"}), "unknown type"),
    (lambda: Model("t", {"id": 42}), "expected a type name"),
    (lambda: Model("t", {"name": "text"}), r"primary key 'id' is not one of its columns \(name\)"),
    (lambda: Model("t", {"id": "boolean"}), "a primary key must be integer, bigint, text"),
    (lambda: Model("t", {}), "at least one column"),
    (lambda: Model("t", {"id": "integer", "n": Field("n", "integer", default="1; DROP TABLE t")}),
     "not a valid integer value"),
    (lambda: Model("t", {"id": "integer", "n": Field("n", "float", default=float("nan"))}), "not a valid float"),
    (lambda: Model("t", {"id": "integer", "n": Field("n", "boolean", default=1)}), "not a valid boolean"),
    (lambda: Model("t", {"id": "integer", "d": Field("d", "date", default="2020-01-01")}),
     "defaults are supported for"),
    (lambda: Model("t", {"id": "integer", "a_id": "integer"}, relationships={"a": "books"}),
     "relationship 'a' clashes with 'a_id'"),
    (lambda: Model("t", {"id": "integer"}, relationships={"b": 7}), "must name a model"),
    (lambda: Model("t", {"id": "integer"}, relationships={"a": "books", "a_id": "authors"}),
     "relationship 'a_id' clashes with 'a_id'"),
])
def test_bad_definitions_say_what_is_wrong(definition, message):
    with pytest.raises(ModelError, match=message):
        definition()


def _tables(catalog) -> set[str]:
    """The tables of models: the journal of changes in flight is made before the first change, and stays."""
    with catalog.engine.connect() as connection:
        return set(inspect(connection).get_table_names(schema=catalog.space.schema)) - {JOURNAL_TABLE}


def test_a_built_in_name_cannot_be_taken(catalog):
    with pytest.raises(ModelError, match="'books' is the name of a built-in model: choose another name"):
        catalog.create(Model("books", {"id": "integer"}))
    assert catalog.names() == []


BAD_MODEL_SETS = [
    ((Model("a", {"id": "integer"}, relationships={"b": "b"}), Model("b", {"id": "integer"}, relationships={"a": "a"})),
     r"circular relationships: a -> b -> a"),
    ((Model("a", {"id": "integer"}, relationships={"parent": "a"}),), r"circular relationships: a -> a"),
    ((Model("a", {"id": "integer"}, relationships={"x": "nowhere"}),), r"a.x: there is no model 'nowhere'"),
    ((Model("a", {"id": "integer"}), Model("a", {"id": "integer"})), "two models with the same name"),
    ((Model("a", {"id": "integer", "b": "text"}), Model("b", {"id": "integer"}, relationships={"a": "a"})),
     r"would add 'b' to 'a', which already has that name"),
]


def test_bad_model_sets_create_nothing(catalog):
    for models, message in BAD_MODEL_SETS:
        with pytest.raises(ModelError, match=message):
            catalog.create(*models)
        assert catalog.names() == [] and _tables(catalog) == set()


def test_a_failure_inside_the_database_rolls_back_every_table(catalog):
    """The catalog does not pre-check for a table made outside it: the database's refusal must undo all."""
    qualified = f"{catalog.space.schema}.orders" if catalog.space.schema else "orders"
    with catalog.engine.begin() as connection:
        connection.execute(text(f"CREATE TABLE {qualified} (id INTEGER PRIMARY KEY)"))
    with pytest.raises(ModelError, match=r"could not create customers, orders; nothing was created\. "
                                         r"The database said: .*(already exists)"):
        catalog.create(Model("customers", {"id": "integer"}),
                       Model("orders", {"id": "integer"}, relationships={"customer": "customers"}))
    assert catalog.names() == [] and _tables(catalog) == {"orders"}  # customers is gone with the transaction


def test_injection_in_a_text_default_is_stored_as_plain_text(catalog):
    catalog.create(Model("customers", {"id": "integer", "note": Field("note", "text", default=INJECTION)}))
    m = catalog.classes()
    with catalog.session() as session, session.begin():
        session.execute(m.customers.__table__.insert().values(id=1))
    with catalog.session() as session:
        assert session.scalars(select(m.customers.note)).all() == [INJECTION]
    assert catalog.names() == ["customers"]


def test_filling_needs_the_related_rows_first(catalog):
    catalog.create(Model("customers", {"id": "integer"}),
                   Model("orders", {"id": "integer"}, relationships={"customer": "customers"}))
    with pytest.raises(ModelError, match=r"fill 'customers' first: orders.customer needs rows"):
        catalog.fill("orders", 3)
    for rows in (0, -1, 2.5, True, 10**7):
        with pytest.raises(ModelError, match="rows must be a whole number"):
            catalog.fill("customers", rows)
    with pytest.raises(ModelError, match="you have no model 'nobody'"):
        catalog.fill("nobody", 1)
