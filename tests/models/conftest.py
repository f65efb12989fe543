"""Fixtures of the model catalog's tests: the built-ins in the private PostgreSQL cluster (``private_cluster``,
tests/conftest.py) and in SQLite, and a fresh user's catalog on each backend."""

from __future__ import annotations

from pathlib import Path

import pytest

BUILTIN_SCALE = 10  # bookstore authors in the test built-ins (5 books each)
BUILTIN_MESSAGES = 200  # conversations dataset size in the PostgreSQL built-ins


@pytest.fixture(scope="session")
def pg_admin(private_cluster) -> str:
    """The private cluster's workbench database, prepared by the hub side, with the built-ins installed."""
    from profiler.datagen.builtins import install_builtins
    from spawner import database

    admin = private_cluster.url()
    database.prepare_database(admin)
    install_builtins(admin, scale=BUILTIN_SCALE, messages=BUILTIN_MESSAGES)
    return admin


@pytest.fixture(scope="session")
def sqlite_builtin(tmp_path_factory) -> Path:
    """A read-only built-in SQLite file, as the hub makes it."""
    from profiler.datagen.builtins import install_builtins

    path = tmp_path_factory.mktemp("hub") / "builtin.sqlite"
    install_builtins(f"sqlite:///{path}", scale=BUILTIN_SCALE)
    return path


_users = iter(range(1, 10**6))


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog(request, tmp_path):
    """A fresh user's catalog on each backend (PostgreSQL: a role provisioned by the hub side)."""
    from profiler.catalog.catalog import Catalog
    from profiler.catalog.space import sqlite_space

    if request.param == "sqlite":
        yield Catalog(sqlite_space(tmp_path / "user" / "models.sqlite", request.getfixturevalue("sqlite_builtin")))
        return
    from spawner import database
    from spawner.names import for_user

    admin = request.getfixturevalue("pg_admin")
    names = for_user(f"tester{next(_users)}")
    access = database.provision_user(admin, names)
    user_catalog = Catalog.connect(environ=access.environment())
    yield user_catalog
    user_catalog.engine.dispose()
    database.deprovision_user(admin, names)
