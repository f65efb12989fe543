"""Users' system accounts: made once, never taken over, with a private home; work in the home done as them."""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

from spawner import accounts, limits, names
from testing.isolation import remove_accounts

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="making system accounts needs root, as the hub has")


@pytest.fixture
def homes():
    root = Path(tempfile.mkdtemp(prefix="homes-", dir="/var/tmp"))
    root.chmod(0o755)
    prefix = f"u{secrets.token_hex(3)}-"
    yield root / "homes", prefix
    remove_accounts(prefix)
    shutil.rmtree(root, ignore_errors=True)


def test_an_account_is_made_once_with_no_login_and_a_private_home(homes):
    folder, prefix = homes
    name = names.account_name("Alice Smith", prefix)
    comment = accounts.comment_for("hub1", "Alice Smith")
    made = accounts.ensure_account(name, comment, folder)
    assert made == accounts.ensure_account(name, comment, folder)  # the second spawn finds the same account
    entry = pwd.getpwnam(name)
    assert entry.pw_shell.endswith("nologin") and entry.pw_uid != 0 and entry.pw_gecos == comment
    home = os.lstat(made.home)
    assert made.home == folder / name and home.st_uid == made.uid and stat.S_IMODE(home.st_mode) == 0o700
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755  # others pass through to their own home only


def test_an_account_of_that_name_made_by_someone_else_is_never_taken_over(homes):
    folder, prefix = homes
    name = names.account_name("mallory", prefix)
    accounts.ensure_account(name, accounts.comment_for("another-hub", "mallory"), folder)
    with pytest.raises(accounts.AccountError, match="was not made by this hub for this user"):
        accounts.ensure_account(name, accounts.comment_for("hub1", "mallory"), folder)


def test_a_home_replaced_by_a_link_is_refused_not_followed(homes):
    folder, prefix = homes
    name = names.account_name("eve", prefix)
    comment = accounts.comment_for("hub1", "eve")
    account = accounts.ensure_account(name, comment, folder)
    shutil.rmtree(account.home)
    victim = folder.parent / "victim"
    victim.mkdir(mode=0o755)
    account.home.symlink_to(victim)
    with pytest.raises(accounts.AccountError, match="not .*own folder"):
        accounts.ensure_account(name, comment, folder)
    assert victim.stat().st_uid == 0 and stat.S_IMODE(victim.stat().st_mode) == 0o755


def test_homes_under_a_closed_folder_are_refused_with_what_to_do(homes):
    folder, prefix = homes
    closed = folder.parent / "closed"
    closed.mkdir(mode=0o700)
    closed.chmod(0o700)
    with pytest.raises(accounts.AccountError, match="closed to others"):
        accounts.ensure_account(names.account_name("carol", prefix), "x", closed / "homes")


def test_work_in_a_home_is_done_as_its_user(homes):
    folder, prefix = homes
    account = accounts.ensure_account(names.account_name("dave", prefix), "c", folder)
    printed = accounts.run_as(account, ["sh", "-c", "id -u; umask; touch made"], {"PATH": os.defpath})
    assert printed.split() == [str(account.uid), "0077"]
    assert (account.home / "made").stat().st_uid == account.uid
    with pytest.raises(accounts.AccountError, match="Preparing .* home failed"):
        accounts.run_as(account, ["touch", "/etc/planted-by-a-user"], {"PATH": os.defpath})
    assert not Path("/etc/planted-by-a-user").exists()


def test_account_names_are_valid_linux_names_and_the_prefix_is_checked():
    assert names.account_name("alice") == "wb-alice"
    assert len(names.account_name("x" * 200, "abcdefghijk-")) == names.MAX_ACCOUNT_NAME
    assert names.account_name("Ünïcode Nämé") != names.account_name("unicode name")
    for bad in ("", "wb", "Wb-", "1wb-", "abcdefghijkl-", "wb_"):
        with pytest.raises(ValueError, match="account prefix"):
            names.account_name("alice", bad)


def test_server_limits_are_written_to_the_control_group_where_there_is_one():
    why_not = limits.available()
    if why_not is not None:
        pytest.skip(f"no control groups here: {why_not}")
    group = limits.ServerGroup(f"test-{secrets.token_hex(3)}.default")
    try:
        group.create(limits.ServerLimits(memory_bytes=256 * 1024**2, cpus=0.5, processes=64))
        written = {path.name: path.read_text().strip() for folder in group.folders for path in folder.iterdir()
                   if path.name in ("memory.limit_in_bytes", "memory.max", "pids.max", "cpu.cfs_quota_us", "cpu.max")}
        assert written.get("pids.max") == "64"
        assert written.get("memory.limit_in_bytes", written.get("memory.max")) == str(256 * 1024**2)
        assert written.get("cpu.cfs_quota_us") == "50000" or written.get("cpu.max") == "50000 100000"
    finally:
        group.remove()
    assert not any(folder.exists() for folder in group.folders)
