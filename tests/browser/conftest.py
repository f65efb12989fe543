"""A real headless Chromium (Debian's, driven by Playwright) and a real Voila server for widget tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.support import ARTIFACTS, CHROMIUM_ARGS, free_port, wait_for


@pytest.fixture(scope="session")
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


class VoilaServer:
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

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


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
