"""Small helpers shared by the tests: where artefacts go, Chromium's options, bookstore databases. The drivers
the benchmarks share (free ports, waiting for servers, the repository's root) are in ``testing.support``."""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from pathlib import Path

from testing.support import REPO_ROOT

ARTIFACTS = REPO_ROOT / "test-artifacts"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CHROMIUM = os.environ.get("WORKBENCH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def artifact_path(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name


@contextmanager
def bookstore_database(dialect: str, scale, folder: Path, postgres_url: str | None = None, label: str = "test"):
    """An engine on a fresh bookstore: a SQLite file in ``folder``, or a PostgreSQL schema of its own that is
    dropped afterwards (other people's tests share the server)."""
    from sqlalchemy import create_engine, text

    from profiler.models.bookstore import create_bookstore

    if dialect == "sqlite":
        engine = create_engine(f"sqlite:///{folder}/bookstore.db")
        try:
            create_bookstore(engine, scale)
            yield engine
        finally:
            engine.dispose()
        return
    schema = f"{label}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(postgres_url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        create_bookstore(engine, scale)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


# Every dashboard ends a run by scrolling to "Inspect the data": true once that section's heading is within Voila's
# scroller's view (at its top, unless the page ends first).
INSPECT_SECTION_IN_VIEW = """() => {
    const section = document.querySelector('#inspect-the-data').getBoundingClientRect();
    const cells = document.querySelector('#rendered_cells').getBoundingClientRect();
    return section.top >= cells.top - 4 && section.bottom <= cells.bottom;
}"""


def drawn_points(points, at_least: int, timeout: float = 30_000) -> int:
    """How many of ``points`` (a locator of a chart's bars or markers) are drawn, once ``at_least`` are: a chart
    draws a moment after its data arrives, when the page has fetched plotly.js (widgets/figure.js)."""
    points.nth(at_least - 1).wait_for(timeout=timeout)
    return points.count()
