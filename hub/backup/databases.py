"""Databases in a backup: SQLite files through SQLite's online backup API, PostgreSQL through pg_dump/pg_restore.

SQLite's backup API copies a consistent state of the database even while another connection writes (a file copy
may catch a write half done, or miss what sits in its journal). PostgreSQL's tools get the connection from
libpq's environment variables (``PGHOST``, ``PGUSER``, ``PGPASSWORD``...): a password on a command line would be
readable by every account on the machine through ``ps``; a process's environment only by its own account and root.

May import the standard library, SQLAlchemy (to read URLs), psycopg and :mod:`spawner.database`.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from spawner import database, names


class DatabaseCopyError(RuntimeError):
    """pg_dump, pg_restore or SQLite failed; the message says which and why (never a password)."""


def copy_sqlite(source: Path, target: Path) -> None:
    """Copy the SQLite database ``source`` into ``target`` (made 0600 if missing) with the online backup API."""
    if not source.is_file():
        raise DatabaseCopyError(f"{source} is not a SQLite database file")
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    os.close(descriptor)
    reading = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    writing = sqlite3.connect(target)
    try:
        reading.backup(writing)
    except sqlite3.Error as error:
        raise DatabaseCopyError(f"copying {source} failed: {error}") from None
    finally:
        writing.close()
        reading.close()


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///...`` URL; None for any other database."""
    parsed = make_url(url)
    return Path(parsed.database) if parsed.get_backend_name() == "sqlite" and parsed.database else None


def libpq_environment(url: str) -> dict[str, str]:
    """What pg_dump and pg_restore need to reach ``url``'s database, as libpq environment variables."""
    parsed = make_url(url)
    env = {"PATH": os.environ.get("PATH", os.defpath), "PGCONNECT_TIMEOUT": "20"}
    for variable, value in (("PGHOST", parsed.host), ("PGPORT", parsed.port), ("PGUSER", parsed.username),
                            ("PGPASSWORD", parsed.password), ("PGDATABASE", parsed.database),
                            ("PGSSLMODE", parsed.query.get("sslmode"))):
        if value is not None:
            env[variable] = str(value)
    return env


def _run(command: list[str], url: str, what: str, **streams) -> None:
    done = subprocess.run(command, env=libpq_environment(url), stderr=subprocess.PIPE, text=False, check=False,
                          **streams)
    if done.returncode != 0:
        safe = make_url(url).render_as_string(hide_password=True)
        message = done.stderr.decode(errors="replace").strip()[-2000:]
        raise DatabaseCopyError(f"{what} ({safe}) failed: {message}")


def dump_postgresql(url: str, target: Path, schemas: list[str] | None = None) -> None:
    """pg_dump of the database at ``url`` (only ``schemas`` when given) into ``target`` (custom format, 0600)."""
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "wb") as stream:
        # quoted: a schema name is matched exactly, never as a pattern
        _run(["pg_dump", "--format=custom", *(f'--schema="{schema}"' for schema in schemas or [])], url,
             "pg_dump", stdout=stream)


def restore_postgresql(url: str, dump: Path, keep_owners: bool) -> None:
    """pg_restore ``dump`` into the database at ``url`` in one transaction, replacing the objects it holds.
    ``keep_owners``: tables stay their roles' (which must exist); else everything becomes the connecting role's."""
    options = ["--clean", "--if-exists", "--single-transaction", "--exit-on-error",
               f"--dbname={make_url(url).database}"]
    if not keep_owners:
        options += ["--no-owner", "--no-privileges"]
    with open(dump, "rb") as stream:
        _run(["pg_restore", *options], url, "pg_restore", stdin=stream)


def user_spaces(admin_url: str, usernames: list[str]) -> dict[str, dict]:
    """The users' database spaces that exist: ``{username: {"schema": ..., "legacy": bool}}``."""
    import psycopg

    found = {}
    conninfo = make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as connection:
        for username in usernames:
            legacy = names.for_user(username, legacy=True)
            space = database.names_in_use(admin_url, names.for_user(username), legacy)
            exists = connection.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (space.schema,)).fetchone()
            if exists:
                found[username] = {"schema": space.schema, "legacy": space.slug != names.slug(username)}
    return found


def make_user_roles(admin_url: str, passwords_dir: Path, spaces: dict[str, dict]) -> None:
    """Each user's role and (empty) schema, with the password kept in ``passwords_dir``: what the dump's tables
    are handed to."""
    for username, space in spaces.items():
        user_names = names.for_user(username, legacy=space["legacy"])
        database.provision_user(admin_url, user_names, password=database.stored_password(passwords_dir, user_names))
