"""System accounts for test hubs. As root a hub runs each user's server as a system account of their own (the
default), so every test hub does: with a short account prefix of its own, so its accounts never meet another
test's or a real user's, homes in a folder every account can pass through, and the folders on the way to its state
and to this checkout opened for passing through (pytest's own temporary folders and ``mktemp -d`` are closed to
other accounts). Everything made is removed afterwards."""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator

import psutil

from testing.support import REPO_ROOT

MARK = "profiler-workbench"  # spawner.accounts.MARK: the comment of every account a hub made


def interpreter_problem() -> str | None:
    interpreter = Path(os.path.realpath(sys.executable))
    closed = [str(folder) for folder in interpreter.parents if not folder.stat().st_mode & stat.S_IXOTH]
    if closed:
        return (f"{interpreter} sits in {closed[0]}, closed to other accounts: make the venv with a Python every "
                "account can run (`make` uses /usr/bin/python3)")
    return None


@contextlib.contextmanager
def reachable(*paths: Path) -> Iterator[None]:
    """Open every folder on the way to ``paths`` (the paths included) for passing through (o+x; nothing listable
    or readable is added) for as long as the block runs, and give each its mode back afterwards.

    Test processes running side by side (pytest-xdist) share folders (the checkout, pytest's base temporary
    folder): the first to open a folder records its mode, and the last to leave gives it back, counted in a file
    under a lock. A process that died without leaving (a killed run) no longer counts."""
    folders = {folder for path in paths for folder in [Path(path), *Path(path).parents] if folder != Path("/")}
    with _opened_folders() as opened:
        for folder in sorted(folders):
            mode = stat.S_IMODE(folder.stat().st_mode)
            users = opened.setdefault(str(folder), {"mode": mode, "pids": []})
            if not users["pids"]:
                users["mode"] = mode
            users["pids"].append(os.getpid())
            if not mode & stat.S_IXOTH:
                folder.chmod(mode | stat.S_IXOTH)
    _held.append(folders)
    _watch_opened_folders()
    try:
        yield
    finally:
        _held.remove(folders)
        with _opened_folders() as opened:
            for folder in folders:
                users = opened.get(str(folder))
                if users and os.getpid() in users["pids"]:
                    users["pids"].remove(os.getpid())


_held: list[set[Path]] = []  # the folders this process's open ``reachable`` blocks need
_watching = threading.Event()


def _watch_opened_folders() -> None:
    """Something in a full run closes /tmp again now and then (it was seen going from 1701 to 0700, its sticky
    bit gone, so not through this module, while a hub's users were reading this checkout under it); whatever
    it is, the folders this process needs are opened again within half a second."""
    if _watching.is_set():
        return
    _watching.set()

    def watch() -> None:
        while True:
            for folders in list(_held):
                for folder in folders:
                    with contextlib.suppress(OSError):
                        mode = folder.stat().st_mode
                        if not mode & stat.S_IXOTH:
                            folder.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)
            time.sleep(0.5)

    threading.Thread(target=watch, name="reopen-test-folders", daemon=True).start()


@contextlib.contextmanager
def reachable_code() -> Iterator[None]:
    """Users' servers run this checkout's environment as their own accounts: the checkout reachable by all. The
    interpreter itself must already be: a Python under root's own home is refused with what to do, as ``workbench
    check`` refuses it."""
    problem = interpreter_problem()
    if problem:
        raise RuntimeError(problem)
    with reachable(REPO_ROOT):
        yield


@contextlib.contextmanager
def _opened_folders() -> Iterator[dict]:
    """{folder: {"mode": its own mode, "pids": the test processes that need it open}}, read and written under an
    exclusive lock; a folder nobody needs any more gets its mode back on the way in and out. One record for the
    machine, whatever checkout the tests run from: two runs side by side (a clone in a ``mktemp -d`` folder and
    another checkout) share /tmp, and one must not close it under the other."""
    path = Path(tempfile.gettempdir()) / "profiler-workbench-tests-opened-folders.json"
    with open(path.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            state = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            state = {}
        for users in state.values():
            users["pids"] = [pid for pid in users["pids"] if psutil.pid_exists(pid)]
        yield state
        for folder, users in list(state.items()):
            if not users["pids"]:
                with contextlib.suppress(FileNotFoundError):
                    Path(folder).chmod(users["mode"])
                del state[folder]
        path.write_text(json.dumps(state))


class TestAccounts:
    """The system accounts of one test hub, and of the hubs started again on its state folder (a restart takes
    up its users): a prefix and a homes folder of their own, removed at :meth:`remove` or when the tests end."""

    __test__ = False  # not a test class, whatever pytest guesses from the name
    _by_state: dict[Path, "TestAccounts"] = {}

    def __init__(self, state_dir: Path, prefix: str | None = None):
        problem = interpreter_problem()
        if problem:
            raise RuntimeError(problem)
        self.asked_state_dir = state_dir
        self.prefix = prefix or f"t{secrets.token_hex(3)}-"
        self.root = Path(tempfile.mkdtemp(prefix="test-hub-", dir="/var/tmp"))
        self.root.chmod(0o755)
        self.homes_dir = self.root / "homes"
        self._opened = contextlib.ExitStack()
        self._opened.enter_context(reachable(REPO_ROOT))
        # Users pass through the state folder to their credentials by path, so the folders on the way must stay
        # open. pytest closes its base temporary folder again whenever a test run starts (its own privacy fix-up),
        # so a new state folder lives here, with a link where the test asked for it.
        if state_dir.is_dir() and not state_dir.is_symlink() and not any(state_dir.iterdir()):
            state_dir.rmdir()  # an empty folder made for the hub (pytest's mktemp): a link takes its place
        if state_dir.exists() or state_dir.is_symlink():
            self.state_dir = state_dir.resolve()
            self._opened.enter_context(reachable(self.state_dir))
        else:
            self.state_dir = self.root / "state"
            self.state_dir.mkdir(mode=0o700)
            state_dir.parent.mkdir(parents=True, exist_ok=True)
            state_dir.symlink_to(self.state_dir)

    @classmethod
    def for_state(cls, state_dir: Path, prefix: str | None = None) -> "TestAccounts":
        """The accounts of the hub that last ran on ``state_dir``, or new ones (of ``prefix`` if given)."""
        state_dir = Path(os.path.abspath(state_dir))
        if state_dir not in cls._by_state:
            cls._by_state[state_dir] = cls(state_dir, prefix)
        return cls._by_state[state_dir]

    def settings(self) -> dict[str, str]:
        return {"WORKBENCH_HOMES_DIR": str(self.homes_dir), "WORKBENCH_ACCOUNT_PREFIX": self.prefix}

    def remove(self) -> None:
        log = self.state_dir / "hub.log"
        if log.exists():  # kept for a failure's post-mortem (test-artifacts/ is ignored by git)
            kept = REPO_ROOT / "test-artifacts" / "hub-logs"
            kept.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(log, kept / f"{self.prefix}{self.state_dir.parent.name}.log")
        remove_accounts(self.prefix)
        shutil.rmtree(self.root, ignore_errors=True)
        self._opened.close()
        self._by_state.pop(self.asked_state_dir, None)

    @classmethod
    def remove_all(cls) -> None:
        for accounts in list(cls._by_state.values()):
            accounts.remove()


atexit.register(TestAccounts.remove_all)


@contextlib.contextmanager
def isolated_hub(**settings: str):
    """A hub of system accounts in a throwaway state folder of its own, removed afterwards with its accounts."""
    from testing.hub import Hub

    if os.geteuid() != 0:
        raise RuntimeError("a hub that makes system accounts runs as root")
    root = Path(tempfile.mkdtemp(prefix="isolated-hub-", dir="/var/tmp"))
    hub = None
    try:
        hub = Hub(root / "state", extra_env={"WORKBENCH_SPAWNER": "system-users", **settings})
        yield hub
    finally:
        leftovers = hub.stop() if hub is not None else []
        if hub is not None:
            hub.accounts.remove()
        shutil.rmtree(root, ignore_errors=True)
    assert not leftovers, f"the hub left processes behind: {leftovers}"


@contextlib.contextmanager
def unprivileged_hub(**settings: str | None):
    """A hub run by an ordinary account, which cannot switch accounts, with no spawner named: what a person runs
    on a laptop (every server runs as the hub's own account). As root (CI) the hub runs as a throwaway system
    account of its own, removed afterwards with everything it made."""
    from testing.hub import Hub

    env = {"WORKBENCH_SPAWNER": None, "WORKBENCH_PLAYGROUND": "false", **settings}
    root = Path(tempfile.mkdtemp(prefix="unprivileged-hub-", dir="/var/tmp"))
    prefix = f"t{secrets.token_hex(3)}-"
    hub = None
    try:
        with contextlib.ExitStack() as stack:
            run_as: list[str] = []
            if os.geteuid() == 0:
                run_as = _hub_account(root, prefix)
                env["HOME"] = str(root)
                stack.enter_context(reachable_code())
            hub = Hub(root / "state", extra_env=env, command=[*run_as, sys.executable, "-m", "hub.cli", "hub"])
            hub.run_as = run_as
            if run_as and psutil.Process(hub.process.pid).uids().real == 0:
                raise RuntimeError("the hub runs as root")
            yield hub
            leftovers = hub.stop()
            assert not leftovers, f"the hub left processes behind: {leftovers}"
    finally:
        if hub is not None:
            hub.stop()
        remove_accounts(prefix)
        shutil.rmtree(root, ignore_errors=True)


def _hub_account(root: Path, prefix: str) -> list[str]:
    """A system account for a hub, owning ``root``/state with the hub's local AWS keys in it (as `workbench hub`
    would have made them); returns what runs a command as that account."""
    from hub.services import local_aws
    from testing.hub import LOCAL_AWS_KEYS

    account = f"{prefix}hub"
    subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell",
                    "/usr/sbin/nologin", "--comment", f"{MARK} test hub", "--user-group", account], check=True)
    entry = pwd.getpwnam(account)
    root.chmod(0o755)
    state = root / "state"
    state.mkdir(mode=0o700)
    local_aws.write_hub_credentials(state / local_aws.HUB_KEY_FILE, LOCAL_AWS_KEYS)
    for path in (state, state / local_aws.HUB_KEY_FILE):
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return ["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--clear-groups"]


def remove_accounts(prefix: str) -> None:
    for entry in pwd.getpwall():
        if entry.pw_name.startswith(prefix) and entry.pw_gecos.startswith(MARK):
            subprocess.run(["pkill", "-KILL", "-u", entry.pw_name], capture_output=True, check=False)
            subprocess.run(["userdel", "--remove", entry.pw_name], capture_output=True, check=False)
