"""The model catalog as a user sees it, on SQLite and on PostgreSQL: define, fill, list, alter, drop, use."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import select, text

from profiler.catalog.catalog import BuiltinModelError
from profiler.catalog.spec import Field, Model, ModelError
from tests.models.conftest import BUILTIN_SCALE
from testing.support import REPO_ROOT

SHOP = (
    Model("customers", {"id": "integer", "name": "text", "vip": Field("vip", "boolean", default=False)}),
    Model("orders", {"id": "integer", "total": "decimal", "placed": "datetime"},
          relationships={"customer": "customers", "book": "books"}),
)


def test_define_fill_and_walk_relationships_to_own_and_built_in_models(catalog):
    assert catalog.create(*SHOP) == ["customers", "orders"]
    assert catalog.fill("customers", 10) == 10
    catalog.fill("orders", 40, seed=1)
    m = catalog.classes()
    with catalog.session() as session:
        orders = session.scalars(select(m.orders).order_by(m.orders.id)).all()
        assert [order.id for order in orders] == list(range(1, 41))
        first = orders[0]
        assert first in first.customer.orders
        assert 1 <= first.book.id <= BUILTIN_SCALE * 5 and first in first.book.orders
        assert {c.vip for c in session.scalars(select(m.customers))} <= {True, False}
    catalog.fill("orders", 5)  # more rows continue the keys
    with catalog.engine.connect() as connection:
        table = catalog.space.schema + ".orders" if catalog.space.schema else "orders"
        assert connection.execute(text(f"SELECT max(id), count(*) FROM {table}")).one() == (45, 45)


def test_list_shows_own_models_with_rows_and_the_built_ins(catalog):
    catalog.create(*SHOP)
    catalog.fill("customers", 3)
    infos = {info.name: info for info in catalog.list()}
    assert infos["customers"].rows == 3 and not infos["customers"].builtin
    assert set(infos["orders"].columns) == {"id", "total", "placed", "customer_id", "book_id"}
    assert infos["orders"].relationships == {"customer": "customers", "book": "books"}
    assert infos["books"].builtin and infos["books"].rows == BUILTIN_SCALE * 5
    assert "_workbench_models" not in infos
    assert [info.name for info in catalog.list(builtins=False)] == ["customers", "orders"]


def test_alter_adds_and_drops_columns_keeping_the_rows(catalog):
    catalog.create(SHOP[0])
    catalog.fill("customers", 4)
    catalog.add_column("customers", "tier", "integer", nullable=False, default=3)
    catalog.add_column("customers", "email", "text")
    catalog.drop_column("customers", "vip")
    m = catalog.classes()
    with catalog.session() as session:
        assert [(c.tier, c.email) for c in session.scalars(select(m.customers))] == [(3, None)] * 4
    assert [f.name for f in catalog.model("customers").columns] == ["id", "name", "tier", "email"]
    assert "vip" not in catalog.list(builtins=False)[0].columns
    with pytest.raises(ModelError, match="primary key"):
        catalog.drop_column("customers", "id")
    with pytest.raises(ModelError, match="needs a default"):
        catalog.add_column("customers", "score", "float", nullable=False)
    with pytest.raises(ModelError, match="already has 'email'"):
        catalog.add_column("customers", "email", "text")


def test_drop_removes_the_table_and_the_catalog_entry_but_not_what_others_point_at(catalog):
    catalog.create(*SHOP)
    with pytest.raises(ModelError, match=r"'customers' is pointed at by orders.customer: drop 'orders' first"):
        catalog.drop("customers")
    catalog.drop("orders", "customers")
    assert catalog.names() == [] and catalog.list(builtins=False) == []
    catalog.create(*SHOP)  # the names are free again
    assert catalog.names() == ["customers", "orders"]


def test_built_ins_refuse_changes_in_a_message_naming_the_model(catalog):
    for attempt, verb in ((lambda: catalog.drop("books"), "drop"),
                          (lambda: catalog.fill("authors", 2), "write"),
                          (lambda: catalog.add_column("books", "rating", "integer"), "alter"),
                          (lambda: catalog.drop_column("stores", "city"), "alter")):
        with pytest.raises(BuiltinModelError, match=rf"built-in model: everyone can read it and nobody can {verb} "
                                                     r"it\. The database refused: \w"):
            attempt()
    assert next(i for i in catalog.list() if i.name == "books").rows == BUILTIN_SCALE * 5


def test_raw_sql_on_a_built_in_is_refused_by_the_database(catalog):
    for statement in ("DROP TABLE builtin.books", "DELETE FROM builtin.authors",
                      "ALTER TABLE builtin.books ADD COLUMN x INTEGER", "CREATE TABLE builtin.planted (id INTEGER)"):
        with pytest.raises(Exception, match="readonly database|permission denied|must be owner"):
            with catalog.engine.begin() as connection:
                connection.execute(text(statement))
    assert next(i for i in catalog.list() if i.name == "books").rows == BUILTIN_SCALE * 5


def test_a_fresh_kernel_sees_the_models_from_the_database(catalog):
    """What exists is read from the database: a new process, given only the hub's variables, sees it all."""
    catalog.create(*SHOP)
    catalog.fill("customers", 2)
    if catalog.space.dialect == "sqlite":  # the engine is made by a creator: name the files the hub would
        raw = catalog.engine.raw_connection()
        try:
            files = {name: file for _, name, file in raw.driver_connection.execute("PRAGMA database_list")}
        finally:
            raw.close()
        env = {"WORKBENCH_DATA_URL": f"sqlite:///{files['main']}",
               "WORKBENCH_BUILTIN_DATA_URL": f"sqlite:///{files['builtin']}"}
    else:
        env = {"WORKBENCH_DATA_URL": catalog.engine.url.render_as_string(hide_password=False),
               "WORKBENCH_DATA_SCHEMA": catalog.space.schema}
    script = ("from profiler.catalog.catalog import Catalog; c = Catalog.connect(); "
              "print(c.names(), [(i.name, i.rows) for i in c.list(builtins=False)], c.classes().orders.__name__)")
    out = subprocess.run([sys.executable, "-c", script], env=env, cwd=REPO_ROOT, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['customers', 'orders'] [('customers', 2), ('orders', 0)] Orders"


def test_asking_for_a_models_definition_names_what_exists(catalog):
    catalog.create(SHOP[0])
    assert catalog.model("customers") == SHOP[0]
    with pytest.raises(ModelError, match="'books' is a built-in model, not one of yours"):
        catalog.model("books")
    with pytest.raises(ModelError, match="you have no model 'orders'; yours: customers"):
        catalog.model("orders")
    assert {i.name: i.rows for i in catalog.list(count_rows=False)}["books"] == -1
