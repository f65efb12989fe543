"""A real Voila server for widget tests (the Chromium fixtures `browser` and `page` are in tests/conftest.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from spawner.user_server_files import jupyter_environment
from tests.support import free_port, wait_for


class ServerProcess:
    """A server the tests started as a child process, with its output in a log file."""

    process: subprocess.Popen
    log: object

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


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



class UserServer(ServerProcess):
    """``python -m jupyter_server`` over ``root`` with the repository's configuration, as the hub starts a user's
    server (Voila as a server extension); ``env`` adds variables (the hub's), ``args`` command-line options.
    The benchmarks use it too."""

    TOKEN = "workbench-user-server"

    def __init__(self, root: Path, log_path: Path, *, env: dict[str, str] | None = None, args: tuple[str, ...] = ()):
        self.root, self.port, self.log_path = root, free_port(), log_path
        self.log = open(log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root", f"--port={self.port}",
             "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={self.TOKEN}", f"--ServerApp.root_dir={root}",
             *args],
            cwd=root, env={**os.environ, **jupyter_environment(), **(env or {})},
            stdout=self.log, stderr=subprocess.STDOUT,
        )
        try:
            wait_for(lambda: requests.get(self.url("api/status"), timeout=1).ok, 90, f"Jupyter server ({log_path})")
        except BaseException:
            self.stop()
            raise

    def url(self, path: str) -> str:
        """``path`` below the server's root, with the token (e.g. ``voila/render/dashboards/x.ipynb``)."""
        return f"http://127.0.0.1:{self.port}/{path}?token={self.TOKEN}"


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
