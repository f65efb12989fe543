"""Targets for the conversations loader: a SQLite file, and a PostgreSQL schema of its own that is dropped at
the end (other people's tests share the server)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import create_engine, text


@dataclass(frozen=True)
class Target:
    url: str
    schema: str | None = None

    @property
    def where(self) -> dict:
        return {"schema": self.schema} if self.schema else {}


@pytest.fixture
def sqlite_target(tmp_path) -> Target:
    return Target(f"sqlite:///{tmp_path / 'conversations.db'}")


@pytest.fixture
def postgres_target(postgres_url):
    schema = f"datagen_test_{uuid.uuid4().hex[:12]}"
    yield Target(postgres_url, schema)
    admin = create_engine(postgres_url)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def target(request) -> Target:
    return request.getfixturevalue(f"{request.param}_target")
