"""System accounts for users' servers: one per hub user, made on their first spawn, and work done *as* them.

An account is ``<prefix><slug>`` (:func:`spawner.names.account_name`), has no login shell, a private group of its
own and a home ``<homes_dir>/<account>`` of mode 0700. Its comment field marks it as this hub's account for that
user; an account of the same name without that mark (someone else's, or another hub's) is never adopted.

Root never writes into a user's home itself: the home's contents are made by :func:`run_as` (a short child
process that has become the user first), so a symlink or hard link the user planted there can only lead to files
the user could already write.

Blocking (``useradd``, child processes): call these from a worker thread, never on the hub's event loop.
May import the standard library and :mod:`spawner.names` only.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import stat
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

MARK = "profiler-workbench"
_creating = threading.Lock()  # two first spawns of one user (named servers) must not both run useradd


class AccountError(RuntimeError):
    """A user's system account cannot be made or used; the message is shown to them."""


@dataclass(frozen=True)
class SystemAccount:
    name: str
    uid: int
    gid: int
    home: Path
    shell: str

    @classmethod
    def from_entry(cls, entry: pwd.struct_passwd) -> SystemAccount:
        return cls(entry.pw_name, entry.pw_uid, entry.pw_gid, Path(entry.pw_dir), entry.pw_shell)


def comment_for(hub_id: str, username: str) -> str:
    """The account's comment field: the mark, the hub and a hash of the hub username (a field that may hold
    neither ``:`` nor ``,``, so not the name itself)."""
    digest = hashlib.sha256(username.encode("utf-8")).hexdigest()[:16]
    return f"{MARK} hub={hub_id} user={digest}"


def lookup(name: str) -> SystemAccount | None:
    try:
        return SystemAccount.from_entry(pwd.getpwnam(name))
    except KeyError:
        return None


def no_login_shell() -> str:
    return shutil.which("nologin", path="/usr/sbin:/sbin:/usr/bin:/bin") or "/usr/sbin/nologin"


def ensure_account(name: str, comment: str, homes_dir: Path) -> SystemAccount:
    """The account ``name``, made if missing, with its private home; refuses an account that is not ours."""
    with _creating:
        account = lookup(name)
        if account is None:
            home = homes_dir / name
            command = ["useradd", "--home-dir", str(home), "--no-create-home", "--shell", no_login_shell(),
                       "--comment", comment, "--user-group", name]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise AccountError(f"The system account {name} could not be made: {done.stderr.strip()}")
            account = lookup(name)
            if account is None:
                raise AccountError(f"The system account {name} was made but cannot be found")
        elif pwd.getpwnam(name).pw_gecos != comment:
            raise AccountError(
                f"The system account {name} already exists and was not made by this hub for this user; it is "
                "never taken over. An operator must rename or remove it."
            )
        make_home(account)
        return account


def make_home(account: SystemAccount) -> None:
    """Make the home (0700, the account's) if it is missing. The folder above it is root's, so nobody else can
    have put a link where the home goes; an existing home is only checked, never changed through a path."""
    homes_dir = account.home.parent
    if not homes_dir.is_dir():
        homes_dir.mkdir(parents=True, mode=0o755)
        homes_dir.chmod(0o755)  # whatever the hub's umask
    closed = [str(folder) for folder in (homes_dir, *homes_dir.parents) if not folder.stat().st_mode & stat.S_IXOTH]
    if closed:
        raise AccountError(f"Users cannot reach their homes under {homes_dir}: {closed[0]} is closed to others "
                           "(an operator must make it traversable, chmod o+x)")
    try:
        os.mkdir(account.home, 0o700)
    except FileExistsError:
        pass
    else:
        os.chown(account.home, account.uid, account.gid)
        os.chmod(account.home, 0o700)
        return
    found = os.lstat(account.home)
    if not stat.S_ISDIR(found.st_mode) or found.st_uid != account.uid:
        raise AccountError(f"{account.home} is not {account.name}'s own folder; an operator must move it away")
    if stat.S_IMODE(found.st_mode) & 0o077:
        # opened without following links, then changed through the descriptor
        handle = os.open(account.home, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            os.fchmod(handle, 0o700)
        finally:
            os.close(handle)


def become(account: SystemAccount, before=None):
    """A ``preexec_fn`` that turns the child process into ``account`` (groups, gid, uid; umask 077; cwd its home),
    after calling ``before()`` while still root (limits that only root may set)."""

    def switch() -> None:
        if before is not None:
            before()
        os.setgroups([account.gid])
        os.setgid(account.gid)
        os.setuid(account.uid)
        os.umask(0o077)
        os.chdir(account.home)

    return switch


def run_as(account: SystemAccount, command: list[str], environment: dict[str, str], timeout: float = 60) -> str:
    """Run ``command`` as ``account`` (not through a shell); return its output, or raise with its error.
    The switch is done by ``subprocess`` itself (``user``/``group``), with no Python between fork and exec."""
    env = {**environment, "HOME": str(account.home), "USER": account.name, "LOGNAME": account.name}
    try:
        done = subprocess.run(command, env=env, user=account.uid, group=account.gid, extra_groups=[account.gid],
                              umask=0o077, cwd=account.home, capture_output=True, text=True, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired:
        raise AccountError(f"Preparing {account.name}'s home took more than {timeout:.0f} s") from None
    if done.returncode != 0:
        raise AccountError(f"Preparing {account.name}'s home failed: {done.stderr.strip()[-2000:]}")
    return done.stdout


def remove_account(name: str, comment: str) -> bool:
    """Remove the account made with ``comment`` (this hub's, for one user): its processes, group and home
    (``userdel --remove``), so whoever is later given that name starts with nothing of its files. An account
    of that name that is not ours, or none, is left alone (False)."""
    if lookup(name) is None or pwd.getpwnam(name).pw_gecos != comment:
        return False
    subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True, check=False)  # a kernel left behind
    done = subprocess.run(["userdel", "--remove", name], capture_output=True, text=True, check=False)
    if lookup(name) is not None:
        raise AccountError(f"The system account {name} could not be removed: {done.stderr.strip()}")
    return True
