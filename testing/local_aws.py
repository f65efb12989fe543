"""The local AWS as the hub runs it (``python -m hub.services.local_aws``), as a process a test can start, stop
cleanly, ``kill -9`` and start again on the same port and state file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import requests

from hub.services import local_aws
from testing.support import REPO_ROOT, free_port, wait_for


class LocalAwsProcess:
    def __init__(self, folder: Path, keys: dict[str, str] | None = None, state_file: Path | None = None):
        self.folder = Path(folder)
        self.keys = keys or local_aws.new_hub_credentials()
        self.state_file = state_file
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log_path = self.folder / "local-aws.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 90) -> LocalAwsProcess:
        command = [sys.executable, "-m", "hub.services.local_aws", "--port", str(self.port)]
        if self.state_file is not None:
            command += ["--state-file", str(self.state_file)]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, env={"PATH": os.environ["PATH"], **self.keys}, cwd=REPO_ROOT,
                                            stdout=log, stderr=subprocess.STDOUT)
        wait_for(self._answers, timeout, f"the local AWS on {self.endpoint}", interval=0.2)
        return self

    def _answers(self) -> int:
        if self.process.poll() is not None:
            raise RuntimeError(f"the local AWS exited with {self.process.returncode}:\n{self.log()}")
        return requests.get(f"{self.endpoint}/", timeout=2).status_code

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        """A clean stop, as the hub stops its services (SIGTERM); returns the exit status."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=30)

    def __enter__(self) -> LocalAwsProcess:
        return self.start()

    def __exit__(self, *_) -> None:
        if self.process is not None and self.process.poll() is None:
            self.stop()
