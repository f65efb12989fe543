"""A kernel killed (kill -9) mid model change, on SQLite and PostgreSQL: the database rolls the change back, and
the user who opens the data-models dashboard again is told which change was cut short, when it started and that
nothing of it stayed, until they dismiss it; while the change still runs, nobody is told it was interrupted.
(The same through a real hub and a real kernel: test_crashes.py.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from html import unescape

import pytest
from sqlalchemy import text

from dashboards.data_models import DataModelsDashboard
from profiler.catalog.spec import Model
from testing.support import REPO_ROOT
from tests.dashboards.test_data_models import catalog, sqlite_builtin, workbench_database  # noqa: F401 - fixtures

# A kernel of the user's: open the same space, start a change, say so once it is under way, then wait to be killed.
KERNEL = """
import sys, time
from profiler.catalog.catalog import Catalog
from profiler.catalog.space import sqlite_space

where, extra, change = sys.argv[1:4]
catalog = Catalog(sqlite_space(where, extra)) if where.endswith(".sqlite") else Catalog.connect(where, extra)

def under_way(done, rows):
    print("under way", flush=True)
    time.sleep(600)

if change == "fill":
    catalog.fill("readings", 1_000_000, progress=under_way)
else:
    print("under way", flush=True)
    catalog.add_column("readings", "note", "text")
"""


def start_kernel(catalog, change: str, sqlite_builtin_path, tmp_path) -> subprocess.Popen:  # noqa: F811
    if catalog.space.dialect == "sqlite":
        where, extra = str(tmp_path / "user" / "models.sqlite"), str(sqlite_builtin_path)  # the fixture's file
    else:
        where, extra = catalog.engine.url.render_as_string(hide_password=False), catalog.space.schema
    return subprocess.Popen([sys.executable, "-c", KERNEL, where, extra, change], cwd=REPO_ROOT,
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, stdout=subprocess.PIPE, text=True)


def kill(kernel: subprocess.Popen) -> None:
    os.kill(kernel.pid, signal.SIGKILL)
    kernel.wait(30)


def told(catalog, timeout: float = 30) -> DataModelsDashboard:  # noqa: F811 - not the fixture
    """A dashboard opened once the database has rolled the change back (PostgreSQL: once the killed kernel's
    server process has noticed)."""
    deadline = time.monotonic() + timeout
    while not catalog.interrupted() and time.monotonic() < deadline:
        time.sleep(0.1)
    return DataModelsDashboard(catalog)


def notice(dashboard: DataModelsDashboard) -> str:
    return unescape(dashboard.interrupted_notice.value) if dashboard.interrupted_box.layout.display is None else ""


def rows(catalog) -> int:  # noqa: F811 - not the fixture
    return catalog.list(builtins=False)[0].rows


def test_a_fill_killed_midway_is_told_when_the_dashboard_opens_again(catalog, sqlite_builtin, tmp_path):  # noqa: F811
    catalog.create(Model("readings", {"id": "integer", "value": "decimal"}))
    catalog.fill("readings", 1_000)
    kernel = start_kernel(catalog, "fill", sqlite_builtin, tmp_path)
    try:
        assert kernel.stdout.readline().strip() == "under way"  # its first chunk is written, not committed
        assert notice(DataModelsDashboard(catalog)) == ""  # still running in the other kernel
    finally:
        kill(kernel)
    dashboard = told(catalog)
    message = notice(dashboard)
    assert "Your fill of 'readings' with 1,000,000 rows, started " in message
    assert ("was interrupted (the kernel stopped) and rolled back: none of its rows were kept (a fill is one "
            "transaction). You can run it again.") in message
    assert rows(catalog) == 1_000
    dashboard.dismiss_interrupted()
    assert notice(dashboard) == "" and notice(DataModelsDashboard(catalog)) == ""


# PostgreSQL only: the test holds the change in flight with a lock that SQLite's ALTER would not wait for
@pytest.mark.parametrize("catalog", ["postgresql"], indirect=True)
def test_a_column_change_killed_midway_is_told_and_nothing_of_it_stays(catalog, sqlite_builtin, tmp_path):  # noqa: F811
    catalog.create(Model("readings", {"id": "integer", "value": "decimal"}))
    catalog.fill("readings", 10)
    with catalog.engine.connect() as reader:
        reader.execute(text("LOCK TABLE readings IN ACCESS SHARE MODE"))  # the ALTER waits for it
        kernel = start_kernel(catalog, "alter", sqlite_builtin, tmp_path)
        try:
            assert kernel.stdout.readline().strip() == "under way"
            deadline = time.monotonic() + 30
            while not reader.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted")) \
                    and time.monotonic() < deadline:
                time.sleep(0.05)
            # (not the whole dashboard: reading the table would queue behind the ALTER's lock)
            assert catalog.interrupted() == []
        finally:
            kill(kernel)
        reader.rollback()
    message = notice(told(catalog))
    assert "Your change 'add column note to readings', started " in message
    assert "was interrupted (the kernel stopped) and rolled back: nothing of it was applied." in message
    assert "note" not in catalog.list(builtins=False)[0].columns
    catalog.add_column("readings", "note", "text")  # and it can be run again
    assert "note" in catalog.list(builtins=False)[0].columns
