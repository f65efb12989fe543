"""A hub whose users' servers run as system accounts of their own, as the default hub does as root, made
disposable for tests: a short account prefix of its own, so its accounts never meet another test's or a real
user's, and homes and state in a folder every account can pass through (pytest's own temporary folders are
closed to other accounts). Everything it made, accounts included, is removed afterwards."""

from __future__ import annotations

import contextlib
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

from testing.hub import Hub
from testing.support import REPO_ROOT

MARK = "profiler-workbench"  # spawner.accounts.MARK: the comment of every account a hub made


@contextlib.contextmanager
def reachable_code() -> Iterator[None]:
    """Users' servers run this checkout's environment as their own accounts. A clean clone may sit in a folder
    closed to others (``mktemp -d`` makes 0700 folders): open the folders on the way (o+x, nothing listable or
    readable is added) for as long as the hub runs. The interpreter itself must already be reachable: a Python
    under root's own home is refused with what to do, as ``workbench check`` refuses it."""
    interpreter = Path(os.path.realpath(sys.executable))
    closed_interpreter = [str(folder) for folder in interpreter.parents if not folder.stat().st_mode & stat.S_IXOTH]
    if closed_interpreter:
        raise RuntimeError(f"{interpreter} sits in {closed_interpreter[0]}, closed to other accounts: make the venv "
                           "with a Python every account can run (`make` uses /usr/bin/python3)")
    opened = []
    for folder in [REPO_ROOT, *REPO_ROOT.parents]:
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            folder.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)
            opened.append((folder, stat.S_IMODE(mode)))
    try:
        yield
    finally:
        for folder, mode in opened:
            folder.chmod(mode)


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
