"""The `workbench` command as an operator uses it: accounts made without a password on the command line,
bad input refused before anything is touched, and `check` naming what is missing."""

from __future__ import annotations

import os
import subprocess
import sys

import bcrypt
import pytest
import sqlalchemy

from testing.support import REPO_ROOT


def workbench(*args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hub.cli", *args], input=stdin, cwd=REPO_ROOT, text=True,
                          capture_output=True, timeout=120, env={"PATH": os.environ["PATH"], **env})


def stored_password(state, name: str) -> bytes:
    engine = sqlalchemy.create_engine(f"sqlite:///{state / 'jupyterhub.sqlite'}")
    with engine.connect() as connection:
        row = connection.execute(sqlalchemy.text("SELECT password, is_authorized FROM users_info WHERE username = :n"),
                                 {"n": name}).one()
    engine.dispose()
    assert row.is_authorized
    return row.password


def test_password_makes_then_resets_an_approved_account_from_standard_input(tmp_path):
    state = tmp_path / "state"
    made = workbench("password", "boss", stdin="first password here\n", WORKBENCH_STATE_DIR=str(state),
                     WORKBENCH_ADMIN_USERS="boss")
    assert made.returncode == 0, made.stderr
    assert "Made the local account boss (an administrator)" in made.stdout
    assert bcrypt.checkpw(b"first password here", stored_password(state, "boss"))
    reset = workbench("password", "boss", stdin="second password here\n", WORKBENCH_STATE_DIR=str(state))
    assert "Reset the local account boss" in reset.stdout
    assert bcrypt.checkpw(b"second password here", stored_password(state, "boss"))


def test_password_refuses_bad_input_and_touches_nothing(tmp_path):
    state = tmp_path / "state"
    for name, password, message in [("Bad Name", "long enough pw", "contains a space"),
                                    ("boss", "short", "at least 8 characters")]:
        refused = workbench("password", name, stdin=password + "\n", WORKBENCH_STATE_DIR=str(state))
        assert refused.returncode == 2 and message in refused.stderr
        assert not state.exists()


def test_check_names_the_missing_proxy(tmp_path):
    missing = subprocess.run([sys.executable, "-m", "hub.cli", "check"], cwd=tmp_path, text=True,
                             capture_output=True, timeout=120,
                             env={"PATH": "/usr/bin:/bin", "WORKBENCH_STATE_DIR": str(tmp_path / "state")})
    assert missing.returncode == 1
    assert "configurable-http-proxy" in missing.stdout and "npm install" in missing.stdout


def test_check_says_when_users_accounts_could_not_run_the_hubs_python(monkeypatch):
    import shutil
    import tempfile
    from pathlib import Path

    from hub import cli
    from hub.settings import load

    # not under pytest's own temporary folder, which is itself closed to other accounts
    scratch = Path(tempfile.mkdtemp(prefix="closed-python-", dir="/var/tmp"))
    scratch.chmod(0o755)
    closed = scratch / "private"
    (closed / "bin").mkdir(parents=True)
    python = closed / "bin" / "python3"
    python.write_text("")
    closed.chmod(0o700)
    monkeypatch.setattr(sys, "executable", str(python))
    found = cli.problems(load({"WORKBENCH_SPAWNER": "system-users", "WORKBENCH_PROXY_COMMAND": "/bin/true"}))
    assert any(f"{closed} is closed to other accounts" in problem for problem in found), found
    closed.chmod(0o755)
    found = cli.problems(load({"WORKBENCH_SPAWNER": "system-users", "WORKBENCH_PROXY_COMMAND": "/bin/true"}))
    # (the checkout itself may sit in a closed folder too, as a clone in `mktemp -d` does: that is named then)
    assert not any(f"{closed} is closed" in problem for problem in found), found
    shutil.rmtree(scratch)


def test_check_and_hub_refuse_to_run_users_servers_as_root(tmp_path):
    """`local` runs every server as the hub's own account: as root that would be root, so neither `check` nor
    `hub` accepts it, and both say what to choose instead; nothing is started or made."""
    if os.geteuid() != 0:
        pytest.skip("only root can be refused")
    state = tmp_path / "state"
    for command in ("check", "hub"):
        refused = workbench(command, WORKBENCH_SPAWNER="local", WORKBENCH_STATE_DIR=str(state),
                            WORKBENCH_PROXY_COMMAND="/bin/true")
        said = refused.stdout + refused.stderr
        assert refused.returncode != 0, said
        assert "users' code would run as root" in said and "system-users" in said, said
    assert not state.exists()
