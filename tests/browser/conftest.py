"""A real Voila server for widget tests (the Chromium fixtures `browser` and `page` are in tests/conftest.py)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from testing.support import free_port, wait_for
from testing.user_server import ServerProcess


class VoilaServer(ServerProcess):
    """One Voila process serving a folder of notebooks, with a kernel per page load."""

    def __init__(self, root: Path, log_path: Path):
        self.root = root
        self.port = free_port()
        self.log = open(log_path, "w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "voila",
                "--no-browser",
                f"--port={self.port}",
                "--Voila.ip=127.0.0.1",
                "--show_tracebacks=True",
                str(root),
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_for(lambda: requests.get(self.url(""), timeout=1).status_code < 500, 60, "Voila")

    def url(self, notebook: str) -> str:
        suffix = f"voila/render/{notebook}" if notebook else ""
        return f"http://127.0.0.1:{self.port}/{suffix}"


@pytest.fixture
def voila(tmp_path):
    """Start Voila over copies of the given notebooks: ``url = voila({"name.ipynb": source_path})``."""
    servers = []

    def start(notebooks: dict[str, Path]) -> VoilaServer:
        root = tmp_path / f"voila{len(servers)}"
        root.mkdir()
        for name, source in notebooks.items():
            shutil.copy(source, root / name)
        server = VoilaServer(root, tmp_path / f"voila{len(servers)}.log")
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


class JupyterLabServer(ServerProcess):
    """A JupyterLab server over a folder of notebooks, with its own settings and workspaces."""

    TOKEN = "workbench-test"

    def __init__(self, root: Path, log_path: Path):
        self.root = root
        self.port = free_port()
        self.log = open(log_path, "w")
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", f"--port={self.port}",
                "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={self.TOKEN}",
                f"--ServerApp.root_dir={root}", f"--LabApp.user_settings_dir={root.parent / 'lab-settings'}",
                f"--LabApp.workspaces_dir={root.parent / 'lab-workspaces'}",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_for(
            lambda: requests.get(f"http://127.0.0.1:{self.port}/api/status?token={self.TOKEN}", timeout=1).ok,
            60,
            "JupyterLab",
        )

    def open_and_run_all(self, page, notebook: str) -> None:
        """Open ``notebook`` in JupyterLab and run all its cells once the kernel is idle."""
        page.goto(f"http://127.0.0.1:{self.port}/lab/tree/{notebook}?token={self.TOKEN}")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=60_000)  # cells sent earlier are lost
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_text("Run All Cells", exact=True).click()


@contextmanager
def voila_page(browser, folder: Path, notebook: Path, ready: str, *, height: int = 900, clipboard: bool = False):
    """A page showing ``notebook`` from its own Voila, once ``ready`` (a selector) is on it; for module fixtures."""
    (folder / notebook.name).write_bytes(notebook.read_bytes())
    server = VoilaServer(folder, folder.parent / f"{folder.name}_voila.log")
    context = browser.new_context(viewport={"width": 1280, "height": height})
    if clipboard:
        context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    try:
        page.goto(server.url(notebook.name))
        page.wait_for_selector(ready, timeout=60_000)
        yield page
    finally:
        context.close()
        server.stop()
