"""The data-models dashboard driven the way its form is, on SQLite and on PostgreSQL (a user role the hub side
provisions, in a database of its own): opening it only reads; define, create, fill, alter and drop; bad input and
built-ins get the catalog's own messages; viewers cannot write; profiling finds the N+1."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from dashboards.data_models import INSPECT_TITLE, NO_MODELS, READ_ONLY_NOTE, DataModelsDashboard
from profiler.datagen.builtins import install_builtins
from profiler.catalog.catalog import Catalog
from profiler.catalog.space import sqlite_space
from profiler.catalog.spec import Model, ModelError

BUILTIN_SCALE = 4  # bookstore authors in the test built-ins (5 books each)
WRITES = ("INSERT", "UPDATE", "DELETE", "CREATE", "ALTER", "DROP", "REPLACE", "TRUNCATE", "GRANT", "REVOKE")
SHOP = (Model("customers", {"id": "integer", "name": "text"}),
        Model("orders", {"id": "integer", "total": "decimal"},
              relationships={"customer": "customers", "book": "books"}))


@pytest.fixture(scope="module")
def sqlite_builtin(tmp_path_factory):
    path = tmp_path_factory.mktemp("hub") / "builtin.sqlite"
    install_builtins(f"sqlite:///{path}", scale=BUILTIN_SCALE)
    return path


@pytest.fixture(scope="module")
def workbench_database(postgres_url):
    """A database of its own on the shared server, prepared as the hub prepares one (without touching the
    server's other databases), with small built-ins; dropped at the end."""
    from spawner.database import READERS, prepare_database

    name = f"wb_dashboard_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        readers_existed = connection.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": READERS}).first()
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    try:
        prepare_database(url, lock_other_databases=False)
        install_builtins(url, scale=BUILTIN_SCALE)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            if not readers_existed:
                connection.execute(text(f'DROP ROLE IF EXISTS "{READERS}"'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog(request, tmp_path):
    """A fresh user's catalog (PostgreSQL: their own role and schema, provisioned by the hub side)."""
    if request.param == "sqlite":
        yield Catalog(sqlite_space(tmp_path / "user" / "models.sqlite", request.getfixturevalue("sqlite_builtin")))
        return
    from spawner import database
    from spawner.names import for_user

    admin = request.getfixturevalue("workbench_database")
    names = for_user(f"dash{uuid.uuid4().hex[:8]}")
    access = database.provision_user(admin, names, lock_other_databases=False)
    user_catalog = Catalog.connect(environ=access.environment())
    yield user_catalog
    user_catalog.engine.dispose()
    database.deprovision_user(admin, names)


def define(dashboard, name, columns=(), relationships=()):
    """Fill the form: the starting columns (id integer, name text), then ``columns`` and ``relationships``."""
    dashboard.form.name.value = name
    for column, type_ in columns:
        dashboard.form.add_column(column, type_)
    for relationship, target in relationships:
        dashboard.form.add_relationship(relationship, target)


def listed(dashboard, name, kind, rows) -> bool:
    row = next((row for row in dashboard.listing.rows if row["name"] == name), None)
    return row is not None and (row["kind"], row["rows"]) == (kind, rows)


def builtin_rows(dashboard, name) -> int:
    return {info.name: info.rows for info in dashboard.catalog.list()}[name]


def test_opening_the_dashboard_only_reads(catalog):
    catalog.create(SHOP[0])
    catalog.fill("customers", 3)
    statements = []
    event.listen(catalog.engine, "before_cursor_execute",
                 lambda _conn, _cursor, sql, *_args: statements.append(sql.lstrip().split(None, 1)[0].upper()))
    dashboard = DataModelsDashboard(catalog)
    dashboard.widget()
    assert statements and "SELECT" in statements
    assert [verb for verb in statements if verb in WRITES] == []
    assert listed(dashboard, "customers", "yours", 3)
    assert listed(dashboard, "books", "built-in", builtin_rows(dashboard, "books"))  # counted, on one line
    assert dashboard.create_button.disabled and dashboard.create_button.tooltip == "Name the model, then create it."


def test_create_fill_alter_and_drop_through_the_form(catalog):
    dashboard = DataModelsDashboard(catalog)
    define(dashboard, "customers")
    assert dashboard.create_model() == "customers"
    assert "Created customers" in dashboard.form_message.value
    assert listed(dashboard, "customers", "yours", 0)
    assert dashboard.form_message.kind == "success"
    assert dashboard.form.name.value == ""  # ready for the next one

    define(dashboard, "orders", [("total", "decimal")], [("customer", "customers"), ("book", "books")])
    assert dashboard.create_model() == "orders"
    assert catalog.model("orders").relationships == {"customer": "customers", "book": "books"}
    assert next(row for row in dashboard.listing.rows if row["name"] == "orders")["relationships"] == (
        "customer → customers, book → books")

    dashboard.model_choice.value, dashboard.fill_rows.value = "customers", 10
    dashboard.fill_model()
    dashboard.wait()
    pushed = []
    dashboard.fill_progress.observe(lambda change: pushed.append(change["new"]), "value")
    dashboard.model_choice.value, dashboard.fill_rows.value = "orders", 2500
    dashboard.fill_model()
    dashboard.wait()
    assert dashboard.fill_progress.state == "success", dashboard.fill_progress.message
    assert dashboard.fill_progress.message == "Filled orders with 2,500 rows"
    assert pushed[-3:] == [1000, 2000, 2500]  # each inserted chunk moved the bar
    assert listed(dashboard, "orders", "yours", 2500)
    assert dashboard.viewer.data["model"] == "orders" and len(dashboard.viewer.data["first_rows"]) == 20

    dashboard.new_column.value, dashboard.new_column_type.value = "tier", "integer"
    dashboard.new_column_required.value, dashboard.new_column_default.value = True, "3"
    assert dashboard.add_column()
    assert "Added column tier (integer) to orders." in dashboard.change_message.value
    assert "tier" in dashboard.column_choice.options
    assert "tier integer" in next(row for row in dashboard.listing.rows if row["name"] == "orders")["columns"]
    dashboard.column_choice.value = "total"
    assert dashboard.drop_column()
    assert [f.name for f in catalog.model("orders").columns] == ["id", "name", "tier"]

    dashboard.model_choice.value = "customers"
    dashboard.ask_drop()  # customers are pointed at by orders: the catalog says to drop orders first
    assert dashboard.drop_question.value == "Drop customers and its 10 rows? This cannot be undone."
    assert not dashboard.confirm_drop()
    assert "pointed at by orders.customer: drop 'orders' first" in dashboard.change_message.value
    assert dashboard.change_message.kind == "error"
    dashboard.model_choice.value = "orders"
    dashboard.ask_drop()
    assert dashboard.confirmation.layout.display is None and catalog.names() == ["customers", "orders"]
    dashboard.cancel_drop()
    assert not dashboard.confirm_drop() and "then confirm" in dashboard.change_message.value
    assert catalog.names() == ["customers", "orders"]  # asking is not dropping
    dashboard.ask_drop()
    assert dashboard.confirm_drop()
    dashboard.model_choice.value = "customers"
    dashboard.ask_drop()
    assert dashboard.confirm_drop()
    assert catalog.names() == [] and [row["kind"] for row in dashboard.listing.rows] == ["built-in"] * len(
        dashboard.listing.rows)
    # nothing left to change: the actions are off and say why
    assert dashboard.fill_button.disabled and dashboard.fill_button.tooltip == NO_MODELS


@pytest.mark.parametrize("change, message", [
    (lambda form: setattr(form.name, "value", "Orders; DROP TABLE books"),
     "model name 'Orders; DROP TABLE books' is not allowed: use 1-40 lowercase letters"),
    (lambda form: (setattr(form.name, "value", "x"), setattr(form.column_rows[1].name, "value", "select")),
     "column name 'select' is a reserved word"),
    (lambda form: (setattr(form.name, "value", "x"), setattr(form.column_rows[0].type, "value", "float")),
     "a primary key must be integer, bigint, text, not float"),
    (lambda form: (setattr(form.name, "value", "x"), form.add_relationship("owner")),
     "relationship 'owner': choose the model it points to"),
])
def test_a_bad_definition_is_explained_as_it_is_typed_and_creates_nothing(catalog, change, message):
    dashboard = DataModelsDashboard(catalog)
    change(dashboard.form)
    assert dashboard.form_message.kind == "error" and message in dashboard.form_message.value
    assert dashboard.create_button.disabled and message in dashboard.create_button.tooltip
    assert dashboard.create_model() is None
    assert catalog.names() == []


def test_what_only_the_database_knows_is_refused_with_the_catalogs_message(catalog):
    dashboard = DataModelsDashboard(catalog)
    define(dashboard, "books")
    assert dashboard.form_message.value == ""  # a valid definition...
    assert dashboard.create_model() is None  # ...of a name the built-ins have
    assert "the name of a built-in model: choose another name" in dashboard.form_message.value
    define(dashboard, "customers")
    dashboard.create_model()
    dashboard.new_column.value, dashboard.new_column_required.value = "tier", True
    assert not dashboard.add_column()
    assert "NOT NULL, so it needs a default for the existing rows" in dashboard.change_message.value
    dashboard.new_column_type.value, dashboard.new_column_default.value = "integer", "three"
    assert not dashboard.add_column()
    assert "default 'three' is not a number (the column is integer)" in dashboard.change_message.value
    assert [f.name for f in catalog.model("customers").columns] == ["id", "name"]


def test_built_in_models_offer_no_fill_alter_or_drop(catalog):
    catalog.create(SHOP[0])
    dashboard = DataModelsDashboard(catalog)
    builtins = [row["name"] for row in dashboard.listing.rows if row["kind"] == "built-in"]
    assert "books" in builtins
    # only your own models can be chosen to fill, alter or drop; every model can be inspected
    assert [value for _label, value in dashboard.model_choice.options] == ["customers"]
    assert set(builtins) <= {value for _label, value in dashboard.inspect_choice.options}
    assert not dashboard.fill_button.disabled and not dashboard.drop_button.disabled


def test_without_models_of_your_own_fill_and_drop_are_off_with_the_reason(catalog):
    dashboard = DataModelsDashboard(catalog)
    books = builtin_rows(dashboard, "books")
    assert dashboard.model_choice.options == ()
    for button in (dashboard.fill_button, dashboard.add_column_button, dashboard.drop_column_button,
                   dashboard.drop_button):
        assert button.disabled and button.tooltip == NO_MODELS
    # a click message can still arrive: nothing is asked, nothing is filled
    assert dashboard.fill_model() is None and dashboard.change_message.value == NO_MODELS
    dashboard.ask_drop()
    assert dashboard.confirmation.layout.display == "none" and dashboard.drop_question.value == ""
    assert builtin_rows(dashboard, "books") == books


def test_a_built_in_name_is_refused_before_the_database_is_asked(catalog):
    dashboard = DataModelsDashboard(catalog)
    assert not dashboard._write(dashboard.change_message, lambda: "changed", "books")
    assert dashboard.change_message.kind == "error"
    assert dashboard.change_message.value.startswith("books is a built-in model: it is read-only.")


def test_a_viewer_lists_inspects_and_profiles_but_cannot_write(catalog):
    catalog.create(*SHOP)
    catalog.fill("customers", 5)
    catalog.fill("orders", 20)
    dashboard = DataModelsDashboard(catalog, environ={"WORKBENCH_DASHBOARD_VIEWER": "1"})
    dashboard.widget()
    assert "Read-only:" in dashboard.notice.value
    for button in (dashboard.create_button, dashboard.fill_button, dashboard.add_column_button,
                   dashboard.drop_column_button, dashboard.drop_button):
        assert button.disabled and button.tooltip == READ_ONLY_NOTE
    assert dashboard.form.name.disabled and dashboard.form.add_column_button.disabled
    # a click message can still arrive for a disabled button: each action refuses
    define(dashboard, "sneaky")
    assert dashboard.create_model() is None and dashboard.fill_model() is None
    dashboard.model_choice.value = "orders"
    assert not dashboard.add_column() and not dashboard.drop_column()
    dashboard.ask_drop()
    assert not dashboard.confirm_drop()
    assert READ_ONLY_NOTE in dashboard.change_message.value
    # and so does the database: the viewer's connections are read-only
    with pytest.raises(ModelError, match="read-only transaction|readonly database"):
        catalog.create(Model("sneaky", {"id": "integer"}))
    assert catalog.names() == ["customers", "orders"]
    assert listed(dashboard, "orders", "yours", 20)

    dashboard.inspect_choice.value = "orders"
    assert len(dashboard.show_rows()) == 20
    dashboard.profiler.root_choice.value = ("own", "orders")
    dashboard.profiler.path_choice.value = ("customer",)
    assert not dashboard.profiler.button.disabled
    dashboard.start_profile()
    dashboard.wait()
    assert dashboard.profiler.progress.state == "success", dashboard.profiler.progress.message


def test_profiling_a_walk_finds_the_n_plus_one_and_shows_the_fix(catalog):
    catalog.create(*SHOP)
    catalog.fill("customers", 8)
    catalog.fill("orders", 40)
    dashboard = DataModelsDashboard(catalog)
    dashboard.widget()
    profiler = dashboard.profiler
    profiler.root_choice.value = ("own", "customers")
    assert [label for label, _path in profiler.path_choice.options] == [
        "customers → orders", "customers → orders → book"]  # never straight back along the way it came
    profiler.path_choice.value = ("orders", "book")
    dashboard.start_profile()
    dashboard.wait()

    assert profiler.progress.state == "success", profiler.progress.message
    assert profiler.timer.elapsed and profiler.timer.elapsed > 0
    assert [row["strategy"] for row in profiler.table.rows] == ["lazy", "joined", "selectin", "subquery", "auto"]
    assert "<b>lazy</b>: N+1 on Customers.orders" in profiler.findings.value
    assert "selectinload(Customers.orders)" in profiler.findings.value
    assert "<b>selectin</b>: N+1" not in profiler.findings.value
    assert {trace["name"] for trace in profiler.figure.spec["data"]} >= {"database", "fetch", "Python / ORM"}
    data = dashboard.viewer.data
    assert data["model"] == "customers" and [row["id"] for row in data["first_rows"]] == list(range(1, 9))
    assert [entry["strategy"] for entry in data["comparison"]["strategies"]][0] == "lazy"
    assert dashboard.scroller._request["target"] == INSPECT_TITLE


def test_a_built_in_model_can_be_profiled_and_a_walk_is_needed(catalog):
    catalog.create(SHOP[0])
    dashboard = DataModelsDashboard(catalog)
    profiler = dashboard.profiler
    profiler.root_choice.value = ("own", "customers")
    assert profiler.path_choice.options == ()
    assert dashboard.start_profile() is None
    assert "customers has no relationship to walk" in profiler.message.value
    profiler.root_choice.value = ("builtin", "authors")
    profiler.path_choice.value = ("books", "publisher")
    for key, box in profiler.strategy_boxes.items():
        box.value = key in ("lazy", "selectin")
    dashboard.start_profile()
    dashboard.wait()
    assert profiler.progress.message.startswith("Compared 2 strategies")
    assert "<b>lazy</b>: N+1 on Author.books" in profiler.findings.value


def test_a_space_that_cannot_be_opened_is_named_and_every_action_is_off():
    dashboard = DataModelsDashboard(environ={"WORKBENCH_DATA_URL": "mysql://someone@db/workbench"})
    dashboard.widget()
    assert "Your data space cannot be opened." in dashboard.notice.value
    assert "PostgreSQL or SQLite, not 'mysql'" in dashboard.notice.value and dashboard.notice.kind == "error"
    assert dashboard.create_button.disabled and dashboard.profiler.button.disabled
    assert dashboard.create_model() is None and dashboard.start_profile() is None


def test_without_the_hub_models_live_in_a_scratch_space():
    dashboard = DataModelsDashboard(environ={})
    assert "Scratch space" in dashboard.notice.value
    assert listed(dashboard, "books", "built-in", builtin_rows(dashboard, "books"))


def test_rows_of_the_form_are_renumbered_and_the_primary_key_follows_the_columns(catalog):
    dashboard = DataModelsDashboard(catalog)
    form = dashboard.form
    form.add_column("code", "text")
    form.primary_key.value = "code"
    form.column_rows[1].remove.click()  # "name"
    assert [row.name.description for row in form.column_rows] == ["Column 1", "Column 2"]
    assert form.primary_key.options == ("id", "code") and form.primary_key.value == "code"
    form.column_rows[1].remove.click()  # the key itself: the first column takes its place
    assert form.primary_key.value == "id"


def test_the_dashboard_opens_the_space_the_hub_handed_over(sqlite_builtin, tmp_path):
    environ = {"WORKBENCH_DATA_URL": f"sqlite:///{tmp_path / 'data' / 'models.sqlite'}",
               "WORKBENCH_BUILTIN_DATA_URL": f"sqlite:///{sqlite_builtin}"}
    Catalog.connect(environ=environ).create(SHOP[0])
    dashboard = DataModelsDashboard(environ=environ)
    assert "Scratch space" not in dashboard.notice.value
    assert listed(dashboard, "customers", "yours", 0)
    assert listed(dashboard, "books", "built-in", builtin_rows(dashboard, "books"))
