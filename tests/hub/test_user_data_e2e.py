"""Issue 5 through the real hub with PostgreSQL configured: two users each get their own role and schema,
define, fill and profile a model in it, cannot touch each other's or the built-ins, and deleting a user
drops their role and schema (and nothing else)."""

from __future__ import annotations

import uuid

import psutil
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import DBAPIError

from profiler.catalog.catalog import BuiltinModelError, Catalog
from profiler.catalog.spec import Model
from profiler.queries import profile

pytestmark = [pytest.mark.hub, pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def workbench_database(postgres_url):
    """A database of its own for the workbench (the hub revokes PUBLIC's rights on it), dropped after."""
    name = f"workbench_e2e_{uuid.uuid4().hex[:10]}"
    server = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with server.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        roles = connection.execute(text("SELECT rolname FROM pg_roles WHERE rolname LIKE 'profiler_%'")).scalars()
        for role in [r for r in roles if r.startswith("profiler_e2e")]:
            connection.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
    server.dispose()


def server_environment(hub, username: str) -> dict[str, str]:
    """What the user's server process was given, read from the process itself."""
    for process in hub.descendants():
        environ = process.environ()
        if environ.get("JUPYTERHUB_USER") == username and "jupyterhub.singleuser" in " ".join(process.cmdline()):
            return environ
    raise AssertionError(f"no server process for {username}")


def catalog_of(environ: dict[str, str]) -> Catalog:
    return Catalog.connect(environ["WORKBENCH_DATA_URL"], environ.get("WORKBENCH_DATA_SCHEMA"))


def test_two_users_own_models_isolated_by_postgresql_and_removed_with_the_user(start_hub, workbench_database):
    # The server here trusts local connections and ignores the password; the hub must still never show it.
    secret = "not-shown-anywhere-7f3a"
    admin_url = make_url(workbench_database).set(password=secret).render_as_string(hide_password=False)
    hub = start_hub(
        WORKBENCH_DATA_ADMIN_URL=admin_url,
        WORKBENCH_PLAYGROUND="false",
        WORKBENCH_ADMIN_USERS="boss",
        WORKBENCH_BUILTIN_MESSAGES="0",
    )
    sessions = {}
    for name in ("alice", "bob"):
        sessions[name] = hub.signup_and_login(name)
        assert hub.start_server(sessions[name], name).ready
    env = {name: server_environment(hub, name) for name in ("alice", "bob")}
    assert env["alice"]["WORKBENCH_DATA_SCHEMA"] != env["bob"]["WORKBENCH_DATA_SCHEMA"]
    assert "postgres@" not in env["alice"]["WORKBENCH_DATA_URL"], "the server must not get the admin role"
    # no secret on a command line (every account can read those through ps) nor in the log
    for process in hub.descendants():
        assert secret not in " ".join(process.cmdline()), process.cmdline()
    for environ in env.values():
        assert secret not in " ".join(environ.values())
    assert secret not in hub.log()

    # each defines, fills and profiles a model of their own, as from a notebook cell in their server
    alice, bob = catalog_of(env["alice"]), catalog_of(env["bob"])
    alice.create(Model("orders", {"id": "integer", "total": "decimal"}, relationships={"book": "books"}))
    alice.fill("orders", 40)
    bob.create(Model("notes", {"id": "integer", "body": "text"}))
    bob.fill("notes", 10)
    orders = alice.classes().orders
    comparison = profile(
        lambda session: [(o.total, o.book.title) for o in session.scalars(select(orders).order_by(orders.id))],
        ["lazy", "selectin"],
        alice.engine,
        repeats=1,
    )
    assert comparison["lazy"].summary()["statements"] > comparison["selectin"].summary()["statements"]
    assert "notes" not in alice.names() and "orders" not in bob.names()

    # PostgreSQL itself refuses the other user's schema and any change to a built-in
    with pytest.raises(DBAPIError, match="permission denied"):
        with alice.engine.connect() as connection:
            connection.execute(text(f'SELECT * FROM "{env["bob"]["WORKBENCH_DATA_SCHEMA"]}".notes'))
    with pytest.raises(DBAPIError, match="must be owner|permission denied"):
        with bob.engine.begin() as connection:
            connection.execute(text("DROP TABLE builtin.books"))
    with pytest.raises(BuiltinModelError):
        bob.drop("books")
    assert alice.list(builtins=True) and "books" in alice.builtin_names()
    alice.engine.dispose()
    bob.engine.dispose()

    # deleting alice from the hub drops her role and schema, and leaves bob's and the built-ins
    admin = hub.admin_login("boss")
    assert hub.hub_api(admin, "DELETE", "/users/alice/server").status_code in (202, 204)
    hub_process = psutil.Process(hub.process.pid)
    assert hub_process.is_running()
    deleted = hub.hub_api(admin, "DELETE", "/users/alice")
    assert deleted.status_code == 204, deleted.text
    engine = create_engine(workbench_database)
    with engine.connect() as connection:
        schemas = set(connection.execute(text("SELECT nspname FROM pg_namespace")).scalars())
    engine.dispose()
    assert env["alice"]["WORKBENCH_DATA_SCHEMA"] not in schemas
    assert {env["bob"]["WORKBENCH_DATA_SCHEMA"], "builtin"} <= schemas
