"""Hub side of the workbench data: one PostgreSQL role + schema per user, the built-in schema read-only.

Privilege model (PostgreSQL enforces all of it; the workbench's Python checks are only for clear messages):

- The hub connects with an admin role (superuser, or on RDS/Aurora the master user with CREATEROLE). It owns
  the database's ``builtin`` schema and every built-in table in it. Users never get that role's credentials.
- Each user gets one LOGIN role, NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS, with a
  connection limit and a random password, kept by the hub, that reaches only their own server
  (``WORKBENCH_DATA_URL``), and one schema of the same name that the role owns (``WORKBENCH_DATA_SCHEMA``):
  there they create, alter, fill and drop their own tables.
- Every user role is a member of :data:`READERS`, which alone holds CONNECT on the workbench database and
  USAGE on ``builtin`` + SELECT on its tables (now and, via default privileges, later ones). Nobody but the
  admin may create, alter, write or drop anything in ``builtin``.
- ``PUBLIC`` loses everything on the workbench database (CONNECT, TEMP) and on its ``public`` schema, and
  (unless told otherwise) CONNECT/TEMP on the cluster's other databases, so a user role reaches nothing but its
  own schema and ``builtin``. No schema of one user is granted to anyone, so another user's
  ``SELECT * FROM <schema>.t`` fails with "permission denied for schema".
- Give the workbench a database of its own (not the hub's): ``PUBLIC`` loses its rights there.
- What PostgreSQL does not hide: the system catalogs, so a user can list other schemas' table and column
  names (never their rows). Connections should also be limited to the workbench's hosts in ``pg_hba.conf``
  (with scram-sha-256, never ``trust``).

Provisioning is idempotent (run it at every spawn: it also repairs drift and sets the password) and
serialised by an advisory lock, so concurrent spawns do not race; it refuses to take over a role or schema of
the same name that it did not make. Deprovisioning (when a user is deleted from the hub) drops the user's
schema with their tables, their privileges and their role, and refuses any role that is not a workbench user's.

This module never imports the user side: the user's server reads the URL and schema from its environment.
"""

from __future__ import annotations

import os
import secrets
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

from spawner import environment
from spawner.names import PlaygroundNames

BUILTIN_SCHEMA = "builtin"  # the user side (profiler/models) names the same schema; a test keeps them equal
# No user role can ever be named like this: user roles are "<prefix>_<slug>" and slugs never hold "__".
READERS = "workbench__readers"
SQLITE_USER_FILE = "models.sqlite"
# Any constant: pg_advisory_xact_lock serialises provisioning across hub processes.
_LOCK_KEY = 0x5742_4442  # "WBDB"


class ProvisioningError(RuntimeError):
    """The database could not be prepared for a user; the message says what and why."""


@dataclass(frozen=True)
class UserDatabase:
    """What a user's server is handed: their own role's URL and their schema. Never the admin's."""

    role: str
    schema: str
    url: str  # SQLAlchemy URL with the user's password

    def environment(self) -> dict[str, str]:
        """The contract variables (spawner/environment.py) for the user's server."""
        return {environment.DATA_URL: self.url, environment.DATA_SCHEMA: self.schema}

    def __repr__(self) -> str:  # keep the password out of logs and tracebacks
        return f"UserDatabase(role={self.role!r}, schema={self.schema!r})"


def sqlite_environment(user_folder: str | Path, builtin_file: str | Path) -> dict[str, str]:
    """Local mode: the contract variables pointing the user's server at its own SQLite file (which the user
    side creates 0600 in ``user_folder``, made 0700) and the read-only built-in file.

    Make the built-in file once at hub start, without importing the user side::

        install = builtin_install(f"sqlite:///{builtin_file}")
        subprocess.run(install.command, env=install.environment, check=True)

    Users are kept out of each other's files by the operating system only when each server runs as its own
    system user (``WORKBENCH_SPAWNER=system-users``); with one system user for all, a notebook can open any file.
    """
    return {
        environment.DATA_URL: f"sqlite:///{Path(user_folder).resolve() / SQLITE_USER_FILE}",
        environment.BUILTIN_DATA_URL: f"sqlite:///{Path(builtin_file).resolve()}",
    }


# Read by profiler/datagen/builtins.py: the URL travels in the environment, because a command line (with the
# admin's password in the URL) is readable by every account on the machine through `ps`.
INSTALL_URL_VARIABLE = "WORKBENCH_BUILTIN_INSTALL_URL"


@dataclass(frozen=True)
class BuiltinInstall:
    command: list[str]
    environment: dict[str, str]

    def __repr__(self) -> str:  # the environment holds the admin's URL
        return f"BuiltinInstall({self.command!r})"


def builtin_install(url: str, scale: int | None = None, messages: int | None = None,
                    base_environment: dict[str, str] | None = None) -> BuiltinInstall:
    """How to install the built-in models at ``url`` (the admin's PostgreSQL URL after :func:`prepare_database`,
    or a SQLite file): a process, as the hub never imports the user side. ``scale``: bookstore authors;
    ``messages``: size of the conversations dataset (none if not given)."""
    options = [*(["--scale", str(scale)] if scale else []), *(["--messages", str(messages)] if messages else [])]
    environment_ = {**(os.environ if base_environment is None else base_environment), INSTALL_URL_VARIABLE: url}
    return BuiltinInstall([sys.executable, "-m", "profiler.datagen.builtins", *options], environment_)


def role_name(names: PlaygroundNames) -> str:
    """The user's database role: the same name as their schema (valid unquoted, at most 63 bytes)."""
    return names.schema


def _conninfo(admin_url: str) -> str:
    """A libpq URL from a SQLAlchemy (``postgresql+psycopg://``) or plain PostgreSQL URL."""
    url = make_url(admin_url)
    if url.get_backend_name() != "postgresql":
        raise ProvisioningError(f"per-user database roles need PostgreSQL, not {url.get_backend_name()!r}")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _connect(admin_url: str) -> psycopg.Connection:
    try:
        return psycopg.connect(_conninfo(admin_url), autocommit=False)
    except psycopg.OperationalError as error:
        safe = make_url(admin_url).render_as_string(hide_password=True)
        raise ProvisioningError(f"cannot connect to the workbench database {safe}: {error}") from None


@contextmanager
def _transaction(admin_url: str) -> Iterator[psycopg.Connection]:
    with _connect(admin_url) as connection:
        with connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            yield connection


def _role_exists(connection: psycopg.Connection, role: str) -> bool:
    return connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is not None


def _workbench_role(connection: psycopg.Connection, role: str) -> bool | None:
    """None if ``role`` does not exist; else whether it is a workbench user's role (one we made: a member of
    :data:`READERS`, nothing more powerful). Superusers count as members of every role, so they are excluded."""
    found = connection.execute(
        "SELECT r.rolsuper OR r.rolcreaterole OR r.rolname = current_user,"
        " EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid"
        "         WHERE m.member = r.oid AND g.rolname = %s)"
        " FROM pg_roles r WHERE r.rolname = %s",
        (READERS, role),
    ).fetchone()
    if found is None:
        return None
    powerful, reader = found
    return reader and not powerful


def _prepare(connection: psycopg.Connection, lock_other_databases: bool) -> None:
    database = connection.execute("SELECT current_database()").fetchone()[0]
    if not _role_exists(connection, READERS):
        connection.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(READERS)))
    statements = [
        "REVOKE ALL ON DATABASE {database} FROM PUBLIC",
        "GRANT CONNECT ON DATABASE {database} TO {readers}",
        "REVOKE ALL ON SCHEMA public FROM PUBLIC",
        "CREATE SCHEMA IF NOT EXISTS {builtin}",
        "REVOKE ALL ON SCHEMA {builtin} FROM PUBLIC",
        "GRANT USAGE ON SCHEMA {builtin} TO {readers}",
        "GRANT SELECT ON ALL TABLES IN SCHEMA {builtin} TO {readers}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA {builtin} GRANT SELECT ON TABLES TO {readers}",
    ]
    names = {"database": sql.Identifier(database), "readers": sql.Identifier(READERS),
             "builtin": sql.Identifier(BUILTIN_SCHEMA)}
    for statement in statements:
        connection.execute(sql.SQL(statement).format(**names))
    if lock_other_databases:
        others = connection.execute(
            "SELECT datname FROM pg_database WHERE datallowconn AND datname <> current_database()"
            " AND (pg_has_role(datdba, 'MEMBER')"
            "      OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user))"
        ).fetchall()
        for (other,) in others:
            connection.execute(sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC")
                               .format(sql.Identifier(other)))


def prepare_database(admin_url: str, *, lock_other_databases: bool = True) -> None:
    """Make the workbench database safe to hand out: the readers group, the read-only ``builtin`` schema,
    nothing for ``PUBLIC``. Idempotent; :func:`provision_user` runs it too.

    ``lock_other_databases`` also takes CONNECT/TEMP from ``PUBLIC`` on the cluster's other databases that the
    admin controls (their owners and explicit grants keep theirs). On a cluster shared with other applications
    that rely on ``PUBLIC``, pass False; either way keep user roles out of other databases with
    ``pg_hba.conf`` (it also covers databases the admin does not own, such as ``rdsadmin`` on RDS).
    """
    with _transaction(admin_url) as connection:
        _prepare(connection, lock_other_databases)


def stored_password(folder: Path, names: PlaygroundNames) -> str:
    """The user's database password: random, made at their first spawn and kept in ``folder`` (the hub's, mode
    0700), so all of a user's servers share it; never derived from a name. Safe against concurrent spawns (the
    first file linked into place wins) and against links planted in the folder (never followed)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = folder / role_name(names)
    if not target.exists() and not target.is_symlink():
        draft = folder / f".{role_name(names)}.{secrets.token_hex(8)}"
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(32))
        try:
            os.link(draft, target, follow_symlinks=False)  # atomic: a concurrent spawn's file may win
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    descriptor = os.open(target, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(descriptor) as file:
        return file.read().strip()


def forget_password(folder: Path, names: PlaygroundNames) -> None:
    """Remove the user's stored password when their role is dropped: the next user given that name gets a new one,
    so whoever kept the old one (the deleted user) reaches nothing of theirs."""
    try:
        (folder / role_name(names)).unlink()  # a link planted there is removed, never followed
    except FileNotFoundError:
        pass


def provision_user(
    admin_url: str,
    names: PlaygroundNames,
    *,
    password: str | None = None,
    lock_other_databases: bool = True,
    connection_limit: int = 20,
) -> UserDatabase:
    """Create or repair the user's role and schema; return what their server gets.

    Safe to call at every spawn and from several hub processes at once. The user's existing tables survive.
    Without ``password`` a new random one is set each time, which cuts off the user's other running servers'
    new connections; pass ``password=stored_password(folder, names)`` to keep one per user.
    ``connection_limit`` keeps one user from using up the server's connections.
    """
    role = role_name(names)
    schema = names.schema
    if role == READERS or schema == BUILTIN_SCHEMA:
        raise ProvisioningError(f"user {names.username!r} maps to a reserved database name ({role!r})")
    password = password or secrets.token_urlsafe(32)
    attributes = sql.SQL("LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT "
                         "CONNECTION LIMIT {}").format(sql.Literal(int(connection_limit)))
    with _transaction(admin_url) as connection:
        _prepare(connection, lock_other_databases)
        admin = connection.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")
        admin_role, admin_is_superuser = admin.fetchone()
        if role == admin_role:
            raise ProvisioningError(f"user {names.username!r} maps to the hub's own database role {role!r}")
        existing = _workbench_role(connection, role)
        if existing is False:
            raise ProvisioningError(f"database role {role!r} already exists and is not a workbench user's role: "
                                    "refusing to take it over")
        schema_owner = connection.execute("SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = %s",
                                          (schema,)).fetchone()
        if schema_owner is not None and schema_owner[0] != role:
            raise ProvisioningError(f"schema {schema!r} already exists and belongs to {schema_owner[0]!r}: "
                                    "refusing to take it over")
        verb = "ALTER" if existing else "CREATE"
        connection.execute(
            sql.SQL(verb + " ROLE {} {} PASSWORD {}").format(sql.Identifier(role), attributes, sql.Literal(password))
        )
        if not admin_is_superuser:
            # A CREATEROLE admin (RDS, Aurora) may only hand a schema to a role it is a member of.
            connection.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(role)))
        values = {"role": sql.Identifier(role), "schema": sql.Identifier(schema),
                  "readers": sql.Identifier(READERS), "builtin": sql.Identifier(BUILTIN_SCHEMA)}
        for statement in (
            "GRANT {readers} TO {role}",
            "CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {role}",
            "REVOKE ALL ON SCHEMA {schema} FROM PUBLIC",
            "ALTER ROLE {role} SET search_path = {schema}, {builtin}",
        ):
            connection.execute(sql.SQL(statement).format(**values))
    url = make_url(admin_url)
    user_url = URL.create(
        "postgresql+psycopg", username=role, password=password, host=url.host, port=url.port,
        database=url.database, query=url.query,
    )
    return UserDatabase(role=role, schema=schema, url=user_url.render_as_string(hide_password=False))


def names_in_use(admin_url: str, current: PlaygroundNames, legacy: PlaygroundNames) -> PlaygroundNames:
    """The names of the user's database space: ``legacy`` while a space made under the names an earlier release
    gave them exists (and none under the current names), so their tables stay theirs; else ``current``. Never
    renamed in place: a server started before the upgrade keeps connecting as the old role."""
    if role_name(legacy) == role_name(current):
        return current
    with _connect(admin_url) as connection:
        if _workbench_role(connection, role_name(current)) is None and _workbench_role(connection, role_name(legacy)):
            return legacy
    return current


def deprovision_user(admin_url: str, names: PlaygroundNames) -> bool:
    """Drop the user's schema (their tables with it), their privileges and their role; False if none existed.

    Run it when a user is deleted from the hub. Refuses a role that is not a workbench user (a superuser, the
    hub's role, anything outside :data:`READERS`), so a wrong name can never drop someone else's role.
    """
    role = role_name(names)
    with _transaction(admin_url) as connection:
        existing = _workbench_role(connection, role)
        if existing is None:
            return False
        if not existing:
            raise ProvisioningError(f"refusing to drop database role {role!r}: it is not a workbench user's role")
        # Its open sessions would otherwise keep working after the role is gone.
        connection.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,))
        owned = connection.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s AND nspowner = "
                                   "(SELECT oid FROM pg_roles WHERE rolname = %s)", (names.schema, role)).fetchone()
        if owned:
            connection.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(names.schema)))
        connection.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        connection.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
    return True
