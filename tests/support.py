"""Small helpers shared by the tests: free ports, waiting for servers, where artefacts go."""

from __future__ import annotations

import os
import socket
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

REPO_ROOT = Path(__file__).resolve().parent.parent
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def wait_for(condition: Callable[[], object], timeout: float, what: str, interval: float = 0.1):
    """Poll ``condition`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = condition()
            if result:
                return result
        except Exception as error:  # noqa: BLE001 - reported below if it never succeeds
            last_error = error
        time.sleep(interval)
    raise TimeoutError(f"{what} not ready after {timeout} s" + (f" (last error: {last_error!r})" if last_error else ""))


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
