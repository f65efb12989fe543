"""Two users on a real PostgreSQL that checks passwords: each works with their own models, the database
itself refuses them each other's data and any change to the built-ins, and the hub's provisioning is
idempotent and removes exactly one user."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from psycopg import errors
from sqlalchemy import select
from sqlalchemy.engine import make_url

from profiler.models.bookstore import BookstoreBase
from profiler.catalog.catalog import Catalog
from profiler.catalog.spec import Model
from profiler.queries import profile
from spawner import database
from spawner.names import for_user
from tests.models.conftest import BUILTIN_MESSAGES, BUILTIN_SCALE


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def raw(url: str, statement: str):
    """Run one statement as the owner of ``url`` in autocommit, as a notebook cell with psycopg would."""
    with psycopg.connect(libpq(url), autocommit=True) as connection:
        cursor = connection.execute(statement)
        return cursor.fetchall() if cursor.description else None


def builtin_counts(admin_url: str) -> dict[str, int]:
    with psycopg.connect(libpq(admin_url)) as connection:
        return {
            table.name: connection.execute(f"SELECT count(*) FROM builtin.{table.name}").fetchone()[0]
            for table in BookstoreBase.metadata.sorted_tables
        }


@pytest.fixture(scope="module")
def workbench(pg_admin):
    admin = pg_admin
    alice, bob = for_user("alice"), for_user("bob")
    access = {"alice": database.provision_user(admin, alice), "bob": database.provision_user(admin, bob)}
    yield admin, access
    for names in (alice, bob):
        database.deprovision_user(admin, names)


def catalog_of(access: database.UserDatabase) -> Catalog:
    return Catalog.connect(environ=access.environment())


def test_the_user_is_handed_only_their_own_unprivileged_role(workbench):
    admin, access = workbench
    alice = access["alice"]
    assert alice.environment() == {"WORKBENCH_DATA_URL": alice.url, "WORKBENCH_DATA_SCHEMA": "profiler_alice"}
    assert make_url(alice.url).username == "profiler_alice" != make_url(admin).username
    assert "password" not in repr(alice) and make_url(alice.url).password not in repr(alice)
    flags = raw(admin, "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls FROM pg_roles "
                       "WHERE rolname = 'profiler_alice'")
    assert flags == [(False, False, False, False, False)]
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(libpq(alice.url).replace(make_url(alice.url).password, "guessed"))
    bob_with_alices_password = make_url(alice.url).set(username="profiler_bob")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(libpq(bob_with_alices_password.render_as_string(hide_password=False)))


def test_two_users_define_fill_and_profile_their_own_models(workbench):
    admin, access = workbench
    for user, size in (("alice", 12), ("bob", 7)):
        catalog = catalog_of(access[user])
        catalog.create(
            Model("customers", {"id": "integer", "name": "text"}),
            Model("orders", {"id": "integer", "total": "decimal"}, relationships={"customer": "customers",
                                                                                   "book": "builtin.books"}),
        )
        catalog.fill("customers", size)
        catalog.fill("orders", size * 3)
        rows = {info.name: info.rows for info in catalog.list(builtins=False)}
        assert rows == {"customers": size, "orders": size * 3}
        m = catalog.classes()

        def orders_with_customer_and_book(session, m=m):  # bound now, to this user's classes
            return [(o.id, o.customer.name, o.book.title)
                    for o in session.scalars(select(m.orders).order_by(m.orders.id))]

        comparison = profile(orders_with_customer_and_book, ["lazy", "selectin"], engine=catalog.engine,
                             repeats=1, explain_plans=False, measure_overhead=False)
        lazy, selectin = comparison.results
        assert lazy.status == selectin.status == "ok", (lazy.error, selectin.error)
        assert selectin.data_matches is not False
        assert len(lazy.statements) > len(selectin.statements)  # the N+1 shows on the user's own model
    # each sees exactly their own rows, in their own schema
    assert raw(access["alice"].url, "SELECT count(*) FROM customers") == [(12,)]
    assert raw(access["bob"].url, "SELECT count(*) FROM customers") == [(7,)]
    assert raw(admin, "SELECT schemaname FROM pg_tables WHERE tablename = 'orders' ORDER BY 1") == [
        ("profiler_alice",), ("profiler_bob",)]


@pytest.mark.parametrize("statement", [
    "SELECT * FROM profiler_bob.customers",
    "INSERT INTO profiler_bob.customers (id, name) VALUES (999, 'mallory')",
    "DROP TABLE profiler_bob.customers",
    "CREATE TABLE profiler_bob.planted (id int)",
    "ALTER TABLE profiler_bob.customers ADD COLUMN x int",
    "DROP SCHEMA profiler_bob CASCADE",
    "SET ROLE profiler_bob",
    "SET ROLE wbadmin",
])
def test_alice_is_refused_bobs_schema_by_postgresql(workbench, statement):
    _, access = workbench
    bob = catalog_of(access["bob"])
    if "customers" not in bob.names():  # when this test runs on its own
        bob.create(Model("customers", {"id": "integer", "name": "text"}))
    with pytest.raises(errors.InsufficientPrivilege):
        raw(access["alice"].url, statement)
    assert "customers" in bob.names()


@pytest.mark.parametrize("statement", [
    "DROP TABLE builtin.books",
    "DROP TABLE builtin.books CASCADE",
    "ALTER TABLE builtin.books ADD COLUMN x int",
    "ALTER TABLE builtin.books RENAME TO mine",
    "INSERT INTO builtin.authors (id, name, born) VALUES (9999, 'x', 1999)",
    "UPDATE builtin.books SET price = 0",
    "DELETE FROM builtin.book_stores",
    "TRUNCATE builtin.stores",
    "CREATE TABLE builtin.planted (id int)",
    "DROP SCHEMA builtin CASCADE",
    "CREATE TABLE public.planted (id int)",
    "CREATE TEMPORARY TABLE scratch (id int)",
    "CREATE INDEX planted ON builtin.books (title)",
])
def test_built_ins_and_everything_else_are_refused_by_postgresql(workbench, statement):
    admin, access = workbench
    before = builtin_counts(admin)
    for user in ("alice", "bob"):
        with pytest.raises(errors.InsufficientPrivilege):
            raw(access[user].url, statement)
    assert builtin_counts(admin) == before


def test_users_can_read_the_built_ins(workbench):
    admin, access = workbench
    books = BUILTIN_SCALE * 5
    assert raw(access["alice"].url, "SELECT count(*) FROM builtin.books") == [(books,)]
    assert raw(access["bob"].url, "SELECT count(*) FROM books") == [(books,)]  # search_path: own, builtin
    assert raw(access["bob"].url, "SELECT count(*) FROM builtin.messages") == [(BUILTIN_MESSAGES,)]
    with pytest.raises(errors.InsufficientPrivilege):
        raw(access["bob"].url, "DELETE FROM builtin.messages")


def test_provisioning_again_keeps_the_users_models_and_rotates_the_password(workbench):
    admin, access = workbench
    alice = for_user("alice")
    catalog_of(access["alice"]).create(Model("kept", {"id": "integer"}))
    again = database.provision_user(admin, alice)
    database.prepare_database(admin)
    assert again.schema == "profiler_alice"
    assert "kept" in catalog_of(again).names()
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(libpq(access["alice"].url))  # the old password is gone
    access["alice"] = again
    catalog_of(again).drop("kept")


def test_deprovisioning_removes_that_user_and_nothing_else(workbench, private_cluster):
    admin, access = workbench
    carol_names = for_user("carol")
    carol = database.provision_user(admin, carol_names)
    catalog_of(carol).create(Model("notes", {"id": "integer", "body": "text"}))
    catalog_of(carol).fill("notes", 3)
    alices_before = catalog_of(access["alice"]).names()
    builtins_before = builtin_counts(admin)

    assert database.deprovision_user(admin, carol_names) is True
    assert raw(admin, "SELECT count(*) FROM pg_roles WHERE rolname = 'profiler_carol'") == [(0,)]
    assert raw(admin, "SELECT count(*) FROM pg_namespace WHERE nspname = 'profiler_carol'") == [(0,)]
    assert catalog_of(access["alice"]).names() == alices_before
    assert builtin_counts(admin) == builtins_before
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(libpq(carol.url))
    assert database.deprovision_user(admin, carol_names) is False  # idempotent


def test_a_space_an_earlier_release_named_stays_its_users(workbench):
    from spawner import names

    admin, _ = workbench
    legacy, current = names.for_user("Dora Explorer", legacy=True), names.for_user("Dora Explorer")
    assert legacy.schema != current.schema
    assert database.names_in_use(admin, current, legacy) == current  # nothing made yet: the current names
    old = database.provision_user(admin, legacy)
    catalog_of(old).create(Model("kept", {"id": "integer"}))
    try:
        in_use = database.names_in_use(admin, current, legacy)
        assert in_use == legacy
        assert "kept" in catalog_of(database.provision_user(admin, in_use)).names()
        # another user's current space never passes for someone's old one
        assert database.names_in_use(admin, for_user("alice"), legacy) == for_user("alice")
    finally:
        database.deprovision_user(admin, legacy)


def test_provisioning_never_takes_over_or_drops_what_is_not_a_workbench_users(workbench):
    admin, _ = workbench
    raw(admin, "CREATE ROLE profiler_ops LOGIN CREATEDB PASSWORD 'ops-secret'")
    raw(admin, "CREATE SCHEMA profiler_ivy")  # owned by the admin, not by a user role
    try:
        with pytest.raises(database.ProvisioningError, match="'profiler_ops' already exists and is not a workbench"):
            database.provision_user(admin, for_user("ops"))
        with pytest.raises(database.ProvisioningError, match="schema 'profiler_ivy' already exists and belongs to"):
            database.provision_user(admin, for_user("ivy"))
        with pytest.raises(database.ProvisioningError, match="not a workbench user's role"):
            database.deprovision_user(admin, for_user("ops"))
        assert raw(admin, "SELECT rolcreatedb FROM pg_roles WHERE rolname = 'profiler_ops'") == [(True,)]
        assert raw(admin, "SELECT count(*) FROM pg_roles WHERE rolname = 'profiler_ivy'") == [(0,)]
    finally:
        raw(admin, "DROP ROLE profiler_ops")
        raw(admin, "DROP SCHEMA profiler_ivy")


def test_a_non_superuser_admin_can_provision_like_on_rds(private_cluster):
    """RDS/Aurora hand out a CREATEROLE master user, not a superuser."""
    superuser = private_cluster.url()
    raw(superuser, "CREATE ROLE rdsadmin LOGIN CREATEROLE PASSWORD 'rds-secret'")
    raw(superuser, "CREATE DATABASE rdsdata OWNER rdsadmin")
    admin = private_cluster.url("rdsadmin", "rds-secret", database="rdsdata")
    try:
        database.prepare_database(admin, lock_other_databases=False)
        dave = database.provision_user(admin, for_user("dave"))
        catalog = catalog_of(dave)
        catalog.create(Model("things", {"id": "integer"}))
        assert catalog.names() == ["things"]
        with pytest.raises(errors.InsufficientPrivilege):
            raw(dave.url, "CREATE TABLE builtin.planted (id int)")
        assert database.deprovision_user(admin, for_user("dave")) is True
    finally:
        raw(superuser, "DROP DATABASE IF EXISTS rdsdata WITH (FORCE)")
        raw(superuser, "DROP ROLE IF EXISTS profiler_dave")
        raw(superuser, "DROP ROLE IF EXISTS rdsadmin")


def test_users_cannot_connect_to_the_clusters_other_databases(workbench, private_cluster):
    _, access = workbench
    other = make_url(access["alice"].url).set(database="postgres").render_as_string(hide_password=False)
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(libpq(other))


def test_concurrent_spawns_provision_without_racing(pg_admin, tmp_path):
    """Hub processes may provision at the same moment (same user twice, other users): the advisory lock
    serialises them, so none fails with PostgreSQL's 'tuple concurrently updated'."""
    users = [for_user(name) for name in ("erin", "erin", "frank", "grace")]
    try:
        with ThreadPoolExecutor(len(users)) as pool:
            results = list(pool.map(
                lambda names: database.provision_user(pg_admin, names,
                                                      password=database.stored_password(tmp_path, names)), users))
        assert [r.role for r in results] == ["profiler_erin", "profiler_erin", "profiler_frank", "profiler_grace"]
        assert results[0].url == results[1].url != results[2].url  # the stored password is kept per user
        for result in results:
            assert raw(result.url, "SELECT current_user, current_schemas(false)") == [
                (result.role, [result.schema, "builtin"])]
        assert raw(pg_admin, "SELECT rolconnlimit FROM pg_roles WHERE rolname = 'profiler_erin'") == [(20,)]
    finally:
        for names in users[1:]:
            database.deprovision_user(pg_admin, names)
