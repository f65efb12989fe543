"""A Jupyter server started as the hub starts a user's server (the repository's jupyter configuration and data),
and the child-process handling the tests' other servers share with it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import requests

from spawner.user_server_files import jupyter_environment
from testing.support import free_port, wait_for


class ServerProcess:
    """A server started as a child process, with its output in a log file."""

    process: subprocess.Popen
    log: object

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()

    def log_tail(self, characters: int = 4000) -> str:
        """The end of the server's log, for a failing test's message."""
        if not self.log.closed:
            self.log.flush()
        return Path(self.log_path).read_text(errors="replace")[-characters:]


class UserServer(ServerProcess):
    """``python -m jupyter_server`` over ``root`` with the repository's configuration, as the hub starts a user's
    server (Voila as a server extension); ``env`` adds variables (the hub's), ``args`` command-line options."""

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
