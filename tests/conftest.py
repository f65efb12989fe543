"""Fixtures for the real services the tests talk to.

Outside CI a missing PostgreSQL, Redis or Chromium skips the tests that need it with the reason; under CI
(``CI=true``, as ``.ci/run`` sets) it fails them, because CI must prove everything.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from testing.isolation import TestAccounts
from testing.support import REPO_ROOT, port_open
from tests.support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, IN_CI

# Notebooks that browser tests open in Voila are fixtures, not tests of their own (nbval covers notebooks/).
collect_ignore_glob = ["browser/notebooks/*", "*/notebooks/*"]

POSTGRES_URL = os.environ.get("WORKBENCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("WORKBENCH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def missing(reason: str):
    if IN_CI:
        pytest.fail(f"{reason} (CI must run every test: start the service, see README)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module", autouse=True)
def test_hub_accounts():
    """The system accounts a module's hubs made for their users go when its tests end (its hubs have stopped)."""
    yield
    TestAccounts.remove_all()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    if not port_open(5432):
        missing("PostgreSQL is not reachable on 127.0.0.1:5432")
    return POSTGRES_URL


@pytest.fixture(scope="session")
def private_cluster():
    """A PostgreSQL cluster of the tests' own that trusts nobody (testing/postgres.py), one per test process."""
    from testing import postgres

    if not (postgres.PG_BIN / "initdb").exists():
        missing(f"PostgreSQL server binaries not found in {postgres.PG_BIN} (apt-get install postgresql)")
    try:
        postgres.reachable_temp_folder()
    except RuntimeError as error:
        missing(str(error))
    with postgres.running_cluster() as cluster:
        yield cluster


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


# --- markers: `-m "not hub and not browser ..."` (make unit) must mean what it says, whether or not a module
# remembered its pytestmark, so the markers also follow from where a test lives and from the fixtures it uses.
TESTS = Path(__file__).resolve().parent
NOTEBOOKS = REPO_ROOT / "notebooks"
FOLDER_MARKS = {
    TESTS / "hub": ("hub",),
    TESTS / "browser": ("browser",),
    TESTS / "package": ("hub", "slow"),  # builds the wheel and runs a hub from a fresh venv
    TESTS / "images": ("images", "slow"),  # builds the container images and runs them with podman
    NOTEBOOKS: ("slow",),  # nbval: a kernel runs every notebook
}
FIXTURE_MARKS = {
    "postgres_url": "postgres",
    "postgres_target": "postgres",
    "postgres_schema": "postgres",
    "workbench_database": "postgres",
    "private_cluster": "postgres",  # a cluster of its own, started from the PostgreSQL binaries
    "redis_url": "redis",
    "redis_prefix": "redis",
    "chromium_path": "browser",
    "browser": "browser",
    "page": "browser",
    "start_hub": "hub",
    "shared_hub": "hub",
    "voila": "slow",  # a Voila server per test
}
# Fixtures parametrized over back-ends ask for the server's fixture with request.getfixturevalue, which
# item.fixturenames cannot show: the parameter's value names the back-end instead.
PARAM_MARKS = {"postgresql": "postgres", "postgres": "postgres", "redis": "redis"}


# The files that take longest go first, so that with two test processes (`make test`: -n 2 --dist loadfile
# --no-loadscope-reorder) neither is left running one long file while the other has finished: xdist hands out
# files in this order. Building the images takes ~4 min with a cache (more when the dependencies changed); the
# others start hubs, servers and browsers. Within a folder, and for everything else, the order stays as collected.
LONGEST_FIRST = (TESTS / "images", TESTS / "package", TESTS / "reliability", TESTS / "hub", TESTS / "security",
                 TESTS / "spawner", TESTS / "browser", NOTEBOOKS)


def duration_rank(path: Path) -> int:
    return next((rank for rank, folder in enumerate(LONGEST_FIRST) if path.is_relative_to(folder)),
                len(LONGEST_FIRST))


def pytest_collection_modifyitems(config, items):
    # a stable sort: a file's tests stay together and in their order
    items.sort(key=lambda item: duration_rank(Path(item.path)))
    for item in items:
        path = Path(item.path)
        names = {mark for folder, marks in FOLDER_MARKS.items() if path.is_relative_to(folder) for mark in marks}
        names.update(FIXTURE_MARKS[name] for name in getattr(item, "fixturenames", ()) if name in FIXTURE_MARKS)
        callspec = getattr(item, "callspec", None)
        if callspec is not None:
            names.update(PARAM_MARKS[value] for value in callspec.params.values()
                         if isinstance(value, str) and value in PARAM_MARKS)
        for name in sorted(names - {mark.name for mark in item.iter_markers()}):
            item.add_marker(name)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``-n`` with the default ``--dist load``, except that a notebook's cells stay together, in order; with
    ``--dist loadfile`` (``make test``), the image tests stay together.

    nbval runs a notebook's cells as separate tests in one kernel: a cell sent to another worker than the cells
    before it fails on names they define.
    """
    if config.getvalue("dist") == "loadfile":
        from xdist.scheduler import LoadFileScheduling

        class ImagesTogether(LoadFileScheduling):
            """A file per process, but the image tests all in one: each file's tests need both images, which one
            build makes under a lock; a second process would spend that build waiting on the lock."""

            def _split_scope(self, nodeid: str) -> str:
                file = super()._split_scope(nodeid)
                return "tests/images" if file.startswith("tests/images/") else file

        return ImagesTogether(config, log)
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class NotebookCellsTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            file = nodeid.split("::", 1)[0]
            return file if file.endswith(".ipynb") else nodeid

    return NotebookCellsTogether(config, log)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
