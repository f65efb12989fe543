"""Bad model definitions, fills and changes, on SQLite and PostgreSQL: one message naming the field before any
table is made; a model whose reverse collection would clash with a built-in's column is refused before anything
is created; a model already broken that way never stops the data-models dashboard from opening; long generated
index names work on PostgreSQL too."""

from __future__ import annotations

from html import unescape

import pytest
from sqlalchemy import inspect

from dashboards.data_models import DataModelsDashboard
from profiler.catalog.catalog import Catalog
from profiler.catalog.journal import JOURNAL_TABLE
from profiler.catalog.spec import Field, Model, ModelError
from profiler.inputs import InputError
from tests.dashboards.test_data_models import catalog, sqlite_builtin, workbench_database  # noqa: F401 - fixtures


@pytest.fixture
def space(catalog) -> Catalog:  # noqa: F811 - the fixture imported above
    """A fresh user's catalog on SQLite and on PostgreSQL (a role the hub side provisions, in a database of this
    module's own on the shared server)."""
    return catalog

FIELDS = [
    ({"nullable": "no"}, "column 'note': nullable must be True or False, got 'no'"),
    ({"nullable": "yes"}, "column 'note': nullable must be True or False, got 'yes'"),
    ({"nullable": 0}, "column 'note': nullable must be True or False, got 0"),
    ({"nullable": None}, "column 'note': nullable must be True or False, got None"),
    ({"type": 5}, "column 'note': unknown type 5; the types are integer, bigint, float"),
    ({"type": None}, "column 'note': unknown type None"),
    ({"type": "Text"}, "column 'note': unknown type 'Text'"),
    ({"type": "varchar(20)"}, "column 'note': unknown type 'varchar(20)'"),
    ({"type": "integer", "default": 2**40}, "column 'note': default 1099511627776 is not a valid integer value"),
    ({"type": "bigint", "default": 2**70}, "is not a valid bigint value"),
    ({"type": "integer", "default": True}, "column 'note': default True is not a valid integer value"),
    ({"type": "text", "default": "a\x00b"}, "is not a valid text value"),
    ({"type": "text", "default": "x" * 1001}, "is not a valid text value"),
    ({"type": "float", "default": float("inf")}, "column 'note': default inf is not a valid float value"),
    ({"type": "decimal", "default": 10**11}, "is not a valid decimal value"),
    ({"type": "boolean", "default": "true"}, "column 'note': default 'true' is not a valid boolean value"),
    ({"type": "datetime", "default": "now"}, "defaults are supported for integer, bigint, float, decimal, text"),
]


@pytest.mark.parametrize("arguments, message", FIELDS, ids=[repr(a)[:60] for a, _ in FIELDS])
def test_a_bad_column_is_refused_naming_it(arguments, message):
    with pytest.raises(ModelError) as refused:
        Field("note", **{"type": "text", **arguments})
    assert message in str(refused.value) and isinstance(refused.value, InputError)


MODELS = [
    (lambda: Model("t", {"id": "integer"}, primary_key="nope"), "primary key 'nope' is not one of its columns (id)"),
    (lambda: Model("t", {f"c{i}": "integer" for i in range(51)}, primary_key="c0"), "has 51 columns; at most 50"),
    (lambda: Model("t", [Field("id", "integer"), Field("id", "text")]), "model 't' names a column twice"),
    (lambda: Model("t", ["id", "name"]), "columns are a dict of name -> type, or a list of Field"),
    (lambda: Model("t", {"id": "integer", "n": {"type": "text", "nullable": "no"}}),
     "column 'n': nullable must be True or False, got 'no'"),
    (lambda: Model("t", {"id": "integer", "n": Field("m", "text")}), "column 'n' is given a Field named 'm'"),
    (lambda: Model("t", {"id": "integer"}, relationships={"owner": None}), "relationship 'owner' must name a model"),
    (lambda: Model("t", {"id": "integer"}, relationships={"Owner": "users"}),
     "relationship name 'Owner' is not allowed"),
    (lambda: Model("t", {"id": "integer"}, relationships={"owner": "builtin.Books"}),
     "relationship target name 'Books' is not allowed"),
    (lambda: Model("t", {"id": "integer"}, relationships={"owner": "builtin."}), "relationship target name '' is"),
    (lambda: Model("t", {"id": "float"}), "a primary key must be integer, bigint, text, not float"),
    (lambda: Model("t" * 41, {"id": "integer"}), "use 1-40 lowercase letters"),
    (lambda: Model("user", {"id": "integer"}), "model name 'user' is a reserved word in SQL or Python"),
    (lambda: Model("t", {"id": "integer", "import": "text"}), "column name 'import' is a reserved word"),
]


@pytest.mark.parametrize("make, message", MODELS, ids=[message[:40] for _, message in MODELS])
def test_a_bad_model_is_refused_naming_what_to_change(make, message):
    with pytest.raises(ModelError) as refused:
        make()
    assert message in str(refused.value)


def _tables(space: Catalog) -> set[str]:
    """The tables of models: the journal of changes in flight is made before the first change, and stays."""
    return set(inspect(space.engine).get_table_names(schema=space.space.schema)) - {JOURNAL_TABLE}


BUILTIN_CLASHES = [
    (Model("title", {"id": "integer"}, relationships={"book": "books"}),
     "relationship title.book would add 'title' to 'books', which already has that name"),
    (Model("price", {"id": "integer"}, relationships={"book": "books"}),
     "relationship price.book would add 'price' to 'books', which already has that name"),
    (Model("author_id", {"id": "integer"}, relationships={"book": "books"}),
     "relationship author_id.book would add 'author_id' to 'books'"),
    (Model("name", {"id": "integer"}, relationships={"writer": "authors"}),
     "relationship name.writer would add 'name' to 'authors'"),
]


@pytest.mark.parametrize("model, message", BUILTIN_CLASHES, ids=[m.name for m, _ in BUILTIN_CLASHES])
def test_a_collection_clashing_with_a_built_in_column_is_refused_before_anything_is_made(space, model, message):
    with pytest.raises(ModelError) as refused:
        space.create(model)
    assert message in str(refused.value)
    assert space.names() == [] and _tables(space) == set()
    space.classes()  # still maps: nothing broken was kept


def test_a_new_column_clashing_with_a_collection_is_refused_and_the_models_still_map(space):
    space.create(Model("customers", {"id": "integer"}),
                   Model("orders", {"id": "integer"}, relationships={"customer": "customers"}))
    with pytest.raises(ModelError, match="relationship orders.customer would add 'orders' to 'customers', which "
                                         "already has that name"):
        space.add_column("customers", "orders", "text")
    assert "orders" not in {c["name"] for c in inspect(space.engine).get_columns("customers",
                                                                                   schema=space.space.schema)}
    assert set(space.classes()) == {"customers", "orders"}


def test_the_longest_names_make_an_index_name_postgresql_accepts(space):
    parent, child, link = "p" * 40, "c" * 40, "l" * 40
    space.create(Model(parent, {"id": "integer"}), Model(child, {"id": "integer"}, relationships={link: parent}))
    indexes = inspect(space.engine).get_indexes(child, schema=space.space.schema)
    assert [len(index["name"]) <= 63 for index in indexes] == [True]
    space.fill(parent, 3)
    assert space.fill(child, 5) == 5
    assert set(space.classes()) == {parent, child}


FILLS = [
    ({"rows": 0}, "rows must be a whole number from 1 to 1,000,000, got 0"),
    ({"rows": -5}, "rows must be a whole number from 1 to 1,000,000, got -5"),
    ({"rows": 10**7}, "rows must be a whole number from 1 to 1,000,000, got 10000000"),
    ({"rows": "10"}, "rows must be a whole number from 1 to 1,000,000, got '10'"),
    ({"rows": 2.5}, "rows must be a whole number from 1 to 1,000,000, got 2.5"),
    ({"seed": "abc"}, "seed must be a whole number, got 'abc'"),
    ({"seed": 1.5}, "seed must be a whole number, got 1.5"),
    ({"progress": "print"}, "progress must be a function progress(done, rows) or None, got 'print'"),
]


@pytest.mark.parametrize("arguments, message", FILLS, ids=[repr(a) for a, _ in FILLS])
def test_a_bad_fill_is_refused_and_adds_nothing(space, arguments, message):
    space.create(Model("customers", {"id": "integer", "name": "text"}))
    with pytest.raises(ModelError) as refused:
        space.fill("customers", **{"rows": 3, **arguments})
    assert message in str(refused.value)
    assert space.rows("customers") == []


CHANGES = [
    (lambda c: c.rows("customers", limit=0), "limit must be a whole number from 1 to 1,000, got 0"),
    (lambda c: c.rows("customers", limit=10**6), "limit must be a whole number from 1 to 1,000, got 1000000"),
    (lambda c: c.rows("customers", limit="5"), "limit must be a whole number from 1 to 1,000, got '5'"),
    (lambda c: c.add_column("customers", "age", "integer", nullable="no"),
     "column 'age': nullable must be True or False, got 'no'"),
    (lambda c: c.add_column("customers", "age", "integer", nullable=False),
     "new column 'age' is NOT NULL, so it needs a default for the existing rows"),
    (lambda c: c.add_column("customers", "Age", "integer"), "column name 'Age' is not allowed"),
    (lambda c: c.add_column("customers", "age", "smallint"), "column 'age': unknown type 'smallint'"),
    (lambda c: c.add_column("customers", "name", "text"), "model 'customers' already has 'name'"),
    (lambda c: c.drop_column("customers", "id"), "'id' is the primary key of 'customers': it cannot be dropped"),
    (lambda c: c.drop_column("customers", "nope"), "model 'customers' has no column 'nope'"),
    (lambda c: c.fill("nobody", 3), "you have no model 'nobody'; yours: customers"),
    (lambda c: c.drop("nobody"), "you have no model 'nobody'; yours: customers"),
    (lambda c: c.create(), "create() takes one or more Model(...) definitions"),
    (lambda c: c.create("customers"), "create() takes one or more Model(...) definitions"),
    (lambda c: c.drop(), "drop() takes the names of the models to drop"),
]


@pytest.mark.parametrize("change, message", CHANGES, ids=[message[:40] for _, message in CHANGES])
def test_a_bad_change_is_refused_and_changes_nothing(space, change, message):
    space.create(Model("customers", {"id": "integer", "name": "text"}))
    space.fill("customers", 2)
    before = ({c["name"] for c in inspect(space.engine).get_columns("customers", schema=space.space.schema)},
              space.rows("customers"))
    with pytest.raises(ModelError) as refused:
        change(space)
    assert message in str(refused.value)
    after = ({c["name"] for c in inspect(space.engine).get_columns("customers", schema=space.space.schema)},
             space.rows("customers"))
    assert after == before and space.names() == ["customers"]


def test_a_model_broken_before_the_clash_was_checked_does_not_stop_the_dashboard(space, monkeypatch):
    """A space holding such a model (made by an earlier version) still opens, says what is wrong, and can be
    mended by dropping the model."""
    with monkeypatch.context() as patched:
        patched.setattr(Catalog, "_check_collections", staticmethod(lambda *_args: None))
        space.create(Model("title", {"id": "integer"}, relationships={"book": "books"}))
    dashboard = DataModelsDashboard(space)
    assert {row["name"]: row["kind"] for row in dashboard.listing.rows}["title"] == "yours"
    assert dashboard.listing_message.kind == "error"
    assert "could not be mapped to classes, so they cannot be profiled" in dashboard.listing_message.value
    assert "drop the model named there" in dashboard.listing_message.value
    assert "title" in [value for _label, value in dashboard.model_choice.options]
    dashboard.model_choice.value = "title"
    assert not dashboard.drop_button.disabled
    dashboard.ask_drop()
    dashboard.confirm_drop()
    assert space.names() == [] and "title" not in [row["name"] for row in dashboard.listing.rows]
    assert dashboard.listing_message.kind == "" and "could not be mapped" not in dashboard.listing_message.value


FORM = [
    ({"name": "Orders"}, "model name 'Orders' is not allowed"),
    ({"name": "select"}, "model name 'select' is a reserved word"),
    ({"name": "books"}, None),  # the form is valid; creating it says the name is a built-in's
    ({"column": ("2fast", "text")}, "column name '2fast' is not allowed"),
    ({"column": ("note; drop", "text")}, "column name 'note; drop' is not allowed"),
    ({"column": ("id", "text")}, "names a column twice"),
    ({"relationship": ("owner", None)}, "relationship 'owner': choose the model it points to"),
    ({"relationship": ("Owner", "books")}, "relationship name 'Owner' is not allowed"),
]


@pytest.mark.parametrize("typed, message", FORM, ids=[repr(t)[:40] for t, _ in FORM])
def test_the_model_form_says_what_is_wrong_as_it_is_typed(space, typed, message):
    dashboard = DataModelsDashboard(space)
    form = dashboard.form
    form.name.value = typed.get("name", "customers")
    if "column" in typed:
        form.add_column(*typed["column"])
    if "relationship" in typed:
        form.add_relationship(*typed["relationship"])
    dashboard.validate()
    if message is None:
        assert dashboard.form_message.value == ""
        assert dashboard.create_model() is None
        assert "'books' is the name of a built-in model: choose another name" in unescape(dashboard.form_message.value)
    else:
        assert message in unescape(dashboard.form_message.value)
        assert dashboard.create_model() is None
    assert space.names() == []
