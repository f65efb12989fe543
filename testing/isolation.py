"""A hub whose users' servers run as system accounts of their own, as the default hub does as root, made
disposable for tests: a short account prefix of its own, so its accounts never meet another test's or a real
user's, and homes and state in a folder every account can pass through (pytest's own temporary folders are
closed to other accounts). Everything it made, accounts included, is removed afterwards."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import psutil

from testing.hub import Hub
from testing.support import REPO_ROOT

MARK = "profiler-workbench"  # spawner.accounts.MARK: the comment of every account a hub made


@contextlib.contextmanager
def reachable_code() -> Iterator[None]:
    """Users' servers run this checkout's environment as their own accounts. A clean clone may sit in a folder
    closed to others (``mktemp -d`` makes 0700 folders): open the folders on the way (o+x, nothing listable or
    readable is added) for as long as a hub runs. The interpreter itself must already be reachable: a Python
    under root's own home is refused with what to do, as ``workbench check`` refuses it.

    Test processes running side by side (pytest-xdist) share the folders: the first to come opens them and the
    last to leave closes them again, counted in a file under a lock."""
    interpreter = Path(os.path.realpath(sys.executable))
    closed_interpreter = [str(folder) for folder in interpreter.parents if not folder.stat().st_mode & stat.S_IXOTH]
    if closed_interpreter:
        raise RuntimeError(f"{interpreter} sits in {closed_interpreter[0]}, closed to other accounts: make the venv "
                           "with a Python every account can run (`make` uses /usr/bin/python3)")
    with _opened_folders() as opened:
        if not opened["users"]:
            for folder in [REPO_ROOT, *REPO_ROOT.parents]:
                mode = folder.stat().st_mode
                if not mode & stat.S_IXOTH:
                    folder.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)
                    opened["modes"][str(folder)] = stat.S_IMODE(mode)
        opened["users"].append(os.getpid())
    try:
        yield
    finally:
        with _opened_folders() as opened:
            opened["users"].remove(os.getpid())
            if not opened["users"]:
                _give_back(opened)


def _give_back(opened: dict) -> None:
    for folder, mode in opened["modes"].items():
        with contextlib.suppress(FileNotFoundError):
            Path(folder).chmod(mode)
    opened["modes"] = {}


@contextlib.contextmanager
def _opened_folders() -> Iterator[dict]:
    """{"users": the test processes that need the folders open (one entry per hub), "modes": what to give the
    folders back}, for this checkout, read and written under an exclusive lock. A process that died without
    leaving (a killed run) no longer counts."""
    key = hashlib.sha256(str(REPO_ROOT).encode()).hexdigest()[:12]
    path = Path(tempfile.gettempdir()) / f"profiler-workbench-tests-{key}-opened.json"
    with open(path.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            state = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            state = {"users": [], "modes": {}}
        state["users"] = [pid for pid in state["users"] if psutil.pid_exists(pid)]
        if not state["users"]:
            _give_back(state)
        yield state
        path.write_text(json.dumps(state))


@contextlib.contextmanager
def isolated_hub(**settings: str) -> Iterator[Hub]:
    if os.geteuid() != 0:
        raise RuntimeError("a hub that makes system accounts runs as root")
    root = Path(tempfile.mkdtemp(prefix="isolated-hub-", dir="/var/tmp"))
    root.chmod(0o755)
    prefix = settings.pop("WORKBENCH_ACCOUNT_PREFIX", None) or f"t{secrets.token_hex(3)}-"
    env = {
        "WORKBENCH_SPAWNER": "system-users",
        "WORKBENCH_HOMES_DIR": str(root / "homes"),
        "WORKBENCH_ACCOUNT_PREFIX": prefix,
        **settings,
    }
    hub = None
    with reachable_code():
        try:
            hub = Hub(root / "state", extra_env=env)
            hub.account_prefix = prefix
            hub.homes_dir = root / "homes"
            yield hub
        finally:
            leftovers = hub.stop() if hub is not None else []
            remove_accounts(prefix)
            shutil.rmtree(root, ignore_errors=True)
    assert not leftovers, f"the hub left processes behind: {leftovers}"


def remove_accounts(prefix: str) -> None:
    for entry in pwd.getpwall():
        if entry.pw_name.startswith(prefix) and entry.pw_gecos.startswith(MARK):
            subprocess.run(["pkill", "-KILL", "-u", entry.pw_name], capture_output=True, check=False)
            subprocess.run(["userdel", "--remove", entry.pw_name], capture_output=True, check=False)
