"""Fixtures for the real services the tests talk to.

Outside CI a missing PostgreSQL, Redis or Chromium skips the tests that need it with the reason; under CI
(``CI=true``, as ``.ci/run`` sets) it fails them, because CI must prove everything.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support import CHROMIUM, IN_CI, port_open

# Notebooks that browser tests open in Voila are fixtures, not tests of their own (nbval covers notebooks/).
collect_ignore_glob = ["browser/notebooks/*", "*/notebooks/*"]

POSTGRES_URL = os.environ.get("WORKBENCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("WORKBENCH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def missing(reason: str):
    if IN_CI:
        pytest.fail(f"{reason} (CI must run every test: start the service, see README)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    if not port_open(5432):
        missing("PostgreSQL is not reachable on 127.0.0.1:5432")
    return POSTGRES_URL


@pytest.fixture(scope="session")
def redis_url() -> str:
    if not port_open(6379):
        missing("Redis is not reachable on 127.0.0.1:6379")
    return REDIS_URL


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not Path(CHROMIUM).exists():
        missing(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    return CHROMIUM
