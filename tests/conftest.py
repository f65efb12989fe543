"""Fixtures for the real services the tests talk to.

Outside CI a missing PostgreSQL, Redis or Chromium skips the tests that need it with the reason; under CI
(``CI=true``, as ``.ci/run`` sets) it fails them, because CI must prove everything.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, IN_CI, port_open

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


# Module scope, not session: Playwright's sync API runs its event loop on the main thread while it is open,
# which breaks every asyncio test that runs after it in the same process.
@pytest.fixture(scope="module")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    yield page
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"))
    context.close()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
