"""A hub moved to another machine with ``workbench backup DIR`` and ``workbench restore DIR``, and what the two
commands refuse: a running hub, a target state folder that is not empty, a damaged backup, an archive member that
would land outside its folder, a link planted where a restore writes.

The round trip runs a real hub of system accounts: two users each leave a file in their home, an item in their
DynamoDB table and a row in their workbench database; the hub is stopped and backed up; the accounts and homes
are removed and the accounts' old uids taken by others (another machine); the backup is restored into a new
state folder and homes folder; a hub started there lets both log in with their passwords and finds everything.
"""

from __future__ import annotations

import io
import json
import os
import pwd
import secrets
import shutil
import sqlite3
import stat
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import psycopg
import pytest
from jupyterhub import orm
from sqlalchemy.engine import make_url

from hub.backup import archives, commands
from spawner import accounts, database, names
from testing.hub import Hub
from testing.isolation import MARK, TestAccounts, isolated_hub, reachable_code, remove_accounts
from testing.kernel import UserKernel
from testing.support import REPO_ROOT, free_port

PASSWORD = "correct horse battery"
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="system accounts are made and switched to by root, as in CI")


def workbench(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hub.cli", *args], env=env, cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=600)


# --- a hub whose servers share its account, its state folder made as the hub leaves it ---------------------------
def shared_account_settings(state: Path) -> dict[str, str]:
    # a port of its own: nothing else's hub may answer where this one would
    return {"PATH": os.environ["PATH"], "WORKBENCH_SPAWNER": "local", "WORKBENCH_STATE_DIR": str(state),
            "WORKBENCH_PORT": str(free_port())}


def make_stopped_hub(state: Path, users: tuple[str, ...] = ("alice",)) -> None:
    """A stopped shared-account hub with ``users``: the hub database, the secret, alice's home (a file and a link
    out of it, as a virtual environment has), and what only a running hub has."""
    state.mkdir(mode=0o700, parents=True)
    session = orm.new_session_factory(f"sqlite:///{state / 'jupyterhub.sqlite'}")()
    session.add_all([orm.User(name=name) for name in users])
    session.commit()
    session.close()
    secret = state / "jupyterhub_cookie_secret"
    secret.write_bytes(secrets.token_bytes(32))
    secret.chmod(0o600)
    notes = state / "users" / "alice" / "notes"
    notes.mkdir(parents=True)
    (notes / "kept.txt").write_text("hello")
    (notes.parent / "python").symlink_to("/usr/bin/python3")
    (state / "jupyterhub-proxy.pid").write_text("12345")


def hub_users(state: Path) -> list[str]:
    with sqlite3.connect(state / "jupyterhub.sqlite") as connection:
        return [row[0] for row in connection.execute("SELECT name FROM users")]


def test_a_backup_is_private_and_restores_into_an_empty_state_folder_or_with_force(tmp_path):
    state, backup = tmp_path / "state", tmp_path / "backup"
    make_stopped_hub(state)
    saved = workbench("backup", str(backup), env=shared_account_settings(state))
    assert saved.returncode == 0, saved.stderr
    assert "1 user (alice)" in saved.stdout and "the cookie secret" in saved.stdout
    assert stat.S_IMODE(backup.stat().st_mode) == 0o700
    for path in backup.rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.stat().st_uid == os.geteuid(), path
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["mode"] == "local" and [user["name"] for user in manifest["users"]] == ["alice"]
    with tarfile.open(backup / "state.tar") as archive:
        assert "jupyterhub-proxy.pid" not in archive.getnames()  # a stopped hub's pid means nothing elsewhere

    restored_state = tmp_path / "restored"
    restored = workbench("restore", str(backup), env=shared_account_settings(restored_state))
    assert restored.returncode == 0, restored.stderr
    assert "Restored from" in restored.stdout and "1 user (alice)" in restored.stdout
    assert hub_users(restored_state) == ["alice"]
    assert (restored_state / "jupyterhub_cookie_secret").read_bytes() == (state / "jupyterhub_cookie_secret"
                                                                          ).read_bytes()
    assert stat.S_IMODE((restored_state / "jupyterhub_cookie_secret").stat().st_mode) == 0o600
    home = restored_state / "users" / "alice"
    assert (home / "notes" / "kept.txt").read_text() == "hello"
    assert os.readlink(home / "python") == "/usr/bin/python3"

    (home / "notes" / "kept.txt").write_text("changed since")
    again = workbench("restore", str(backup), env=shared_account_settings(restored_state))
    assert again.returncode == 2 and "is not empty" in again.stderr and "--force" in again.stderr
    assert (home / "notes" / "kept.txt").read_text() == "changed since"
    forced = workbench("restore", "--force", str(backup), env=shared_account_settings(restored_state))
    assert forced.returncode == 0, forced.stderr
    assert (home / "notes" / "kept.txt").read_text() == "hello"

    into_used = workbench("backup", str(restored_state.parent), env=shared_account_settings(state))
    assert into_used.returncode == 2 and "must not exist yet, or be an empty folder" in into_used.stderr


def record_running_server(state: Path, username: str, pid: int) -> None:
    """What the hub database says of a user's server that runs (as a hub killed with ``kill -9`` leaves it)."""
    session = orm.new_session_factory(f"sqlite:///{state / 'jupyterhub.sqlite'}")()
    user = session.query(orm.User).filter_by(name=username).one()
    session.add(orm.Spawner(user=user, name="", server=orm.Server(), state={"pid": pid}))
    session.commit()
    session.close()


def test_backup_refuses_while_a_part_of_the_hub_or_a_users_server_runs(tmp_path):
    state, backup = tmp_path / "state", tmp_path / "backup"
    make_stopped_hub(state)
    sleeping = [sys.executable, "-c", "import time; time.sleep(120)"]
    # the local AWS a restart left serving names its state file; a user's server is known from the hub database
    local_aws = subprocess.Popen([*sleeping, "--state-file", str(state / "local-aws.snapshot")])
    server = subprocess.Popen(sleeping)
    try:
        record_running_server(state, "alice", server.pid)
        refused = workbench("backup", str(backup), env=shared_account_settings(state))
        assert refused.returncode == 2 and "while the hub runs" in refused.stderr
        assert f"process {local_aws.pid}" in refused.stderr and f"alice's server (pid {server.pid})" in refused.stderr
        assert not backup.exists()
    finally:
        for process in (local_aws, server):
            process.kill()
            process.wait()
    saved = workbench("backup", str(backup), env=shared_account_settings(state))
    assert saved.returncode == 0, saved.stderr  # a server recorded as running whose process is gone is no obstacle


def replace_state_archive(backup: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> None:
    """Swap the backup's state archive for one holding ``members``, its checksum in the manifest made to match."""
    archive_path = backup / "state.tar"
    archive_path.unlink()
    with tarfile.open(archive_path, "w") as archive:
        for member, content in members:
            member.size = len(content)
            archive.addfile(member, io.BytesIO(content) if member.isreg() else None)
    manifest = json.loads((backup / "manifest.json").read_text())
    manifest["files"]["state.tar"] = commands.digest(archive_path)
    (backup / "manifest.json").write_text(json.dumps(manifest))


def member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    made = tarfile.TarInfo(name)
    made.type, made.linkname, made.mode = kind, linkname, 0o600
    return made


@pytest.mark.parametrize("members, refusal", [
    ([(member("../escaped.txt"), b"out")], "outside the destination"),
    ([(member("users/alice/shadow", tarfile.LNKTYPE, "/etc/shadow"), b"")], "is a link to an absolute path"),
    ([(member("users/alice/out", tarfile.SYMTYPE, "/var/tmp"), b""), (member("users/alice/out/escaped.txt"), b"out")],
     "would be written through the link"),
], ids=["dot-dot", "hard link out", "through its own link"])
def test_restore_refuses_a_damaged_backup_and_an_archive_member_that_would_land_outside(tmp_path, members, refusal):
    state, backup = tmp_path / "state", tmp_path / "backup"
    make_stopped_hub(state)
    assert workbench("backup", str(backup), env=shared_account_settings(state)).returncode == 0
    (backup / "state.tar").write_bytes((backup / "state.tar").read_bytes()[:-1024])
    target = tmp_path / "target" / "state"
    damaged = workbench("restore", str(backup), env=shared_account_settings(target))
    assert damaged.returncode == 2 and "the backup is damaged" in damaged.stderr

    replace_state_archive(backup, members)
    refused = workbench("restore", str(backup), env=shared_account_settings(target))
    assert refused.returncode == 2 and refusal in refused.stderr and "Nothing was restored" in refused.stderr
    assert not target.exists()
    assert not (tmp_path / "target" / "escaped.txt").exists() and not Path("/var/tmp/escaped.txt").exists()


def test_restore_never_writes_through_a_link_planted_in_the_target(tmp_path):
    state, backup, target = tmp_path / "state", tmp_path / "backup", tmp_path / "target"
    make_stopped_hub(state)
    assert workbench("backup", str(backup), env=shared_account_settings(state)).returncode == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (target / "users" / "alice").mkdir(parents=True)
    (target / "users" / "alice" / "notes").symlink_to(elsewhere)
    refused = workbench("restore", "--force", str(backup), env=shared_account_settings(target))
    assert refused.returncode == 2 and "outside the destination" in refused.stderr
    assert list(elsewhere.iterdir()) == []


@as_root
def test_a_home_is_unpacked_by_its_own_account_never_through_a_link_it_planted(tmp_path):
    prefix = f"t{secrets.token_hex(3)}-"
    homes = Path(tempfile.mkdtemp(prefix="backup-homes-", dir="/var/tmp"))
    homes.chmod(0o755)
    # the account runs this checkout's Python (hub.backup.archives): the checkout must be reachable by it, whatever
    # other tests running beside this one have opened
    with reachable_code():
        try:
            account = accounts.ensure_account(f"{prefix}alice", accounts.comment_for("test", "alice"), homes)
            source = tmp_path / "home"
            (source / "notes").mkdir(parents=True)
            (source / "notes" / "kept.txt").write_text("hello")
            archive = tmp_path / "home.tar"
            with open(archive, "wb") as stream:
                assert archives.pack(source, stream) == []
            elsewhere = Path(tempfile.mkdtemp(dir="/var/tmp"))
            elsewhere.chmod(0o777)  # writable by anyone: only the link's check can keep the restore out
            try:
                planted = account.home / "notes"
                planted.symlink_to(elsewhere)
                os.lchown(planted, account.uid, account.gid)
                refused = pytest.raises(commands.BackupRefused, match="outside the destination")
                with open(archive, "rb") as stream, refused:
                    commands.run_as_account(account, "unpack", stdin=stream)
                assert list(elsewhere.iterdir()) == []
            finally:
                shutil.rmtree(elsewhere)
            planted.unlink()
            with open(archive, "rb") as stream:
                commands.run_as_account(account, "unpack", stdin=stream)
            kept = account.home / "notes" / "kept.txt"
            assert kept.read_text() == "hello" and kept.stat().st_uid == account.uid
        finally:
            remove_accounts(prefix)
            shutil.rmtree(homes, ignore_errors=True)


@pytest.mark.postgres
def test_users_postgresql_schemas_come_back_with_their_rows_owners_and_passwords(tmp_path, postgres_url):
    workbench_db = f"backup_{secrets.token_hex(4)}"
    with psycopg.connect(libpq(postgres_url), autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {workbench_db}")
    admin_url = make_url(postgres_url).set(database=workbench_db).render_as_string(hide_password=False)
    run = secrets.token_hex(3)  # roles are the cluster's: names no other run uses
    users = {f"bk{run}a": "first row", f"bk{run}b": "second row"}
    state = tmp_path / "state"
    make_stopped_hub(state, tuple(users))
    passwords = state / "data-passwords"
    try:
        for name, text in users.items():
            space = names.for_user(name)
            made = database.provision_user(admin_url, space, password=database.stored_password(passwords, space))
            with psycopg.connect(libpq(made.url), autocommit=True) as connection:  # as the user's own role
                connection.execute("CREATE TABLE kept (note TEXT)")
                connection.execute("INSERT INTO kept VALUES (%s)", (text,))
        env = {**shared_account_settings(state), "WORKBENCH_DATA_ADMIN_URL": admin_url}
        saved = workbench("backup", str(tmp_path / "backup"), env=env)
        assert saved.returncode == 0, saved.stderr
        assert "PostgreSQL schemas" in saved.stdout
        for name in users:
            database.deprovision_user(admin_url, names.for_user(name))  # gone, roles and tables

        restored_state = tmp_path / "restored"
        env["WORKBENCH_STATE_DIR"] = str(restored_state)
        restored = workbench("restore", str(tmp_path / "backup"), env=env)
        assert restored.returncode == 0, restored.stderr
        for name, text in users.items():
            space = names.for_user(name)
            password = database.stored_password(restored_state / "data-passwords", space)
            assert password == database.stored_password(passwords, space)
            url = make_url(admin_url).set(username=database.role_name(space), password=password)
            with psycopg.connect(libpq(url.render_as_string(hide_password=False))) as connection:
                assert connection.execute("SELECT note FROM kept").fetchall() == [(text,)]
                owner = connection.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'kept' AND "
                                           "schemaname = %s", (space.schema,)).fetchone()
                assert owner == (database.role_name(space),)
    finally:
        for name in users:
            database.deprovision_user(admin_url, names.for_user(name))
        with psycopg.connect(libpq(postgres_url), autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {workbench_db} WITH (FORCE)")


@pytest.mark.postgres
def test_a_postgresql_hub_database_comes_back_in_another_database(tmp_path, postgres_url):
    first, second = (f"backup_hub_{secrets.token_hex(4)}" for _ in range(2))
    with psycopg.connect(libpq(postgres_url), autocommit=True) as connection:
        for name in (first, second):
            connection.execute(f"CREATE DATABASE {name}")
    urls = {name: make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
            for name in (first, second)}
    try:
        session = orm.new_session_factory(urls[first])()
        session.add_all([orm.User(name="alice"), orm.User(name="bob")])
        session.commit()
        session.close()
        state = tmp_path / "state"
        state.mkdir(mode=0o700)
        env = {**shared_account_settings(state), "WORKBENCH_DB_URL": urls[first]}
        saved = workbench("backup", str(tmp_path / "backup"), env=env)
        assert saved.returncode == 0, saved.stderr
        assert "2 users (alice, bob)" in saved.stdout and (tmp_path / "backup" / "hub-database.dump").is_file()

        env.update(WORKBENCH_DB_URL=urls[second], WORKBENCH_STATE_DIR=str(tmp_path / "restored"))
        restored = workbench("restore", str(tmp_path / "backup"), env=env)
        assert restored.returncode == 0, restored.stderr
        with psycopg.connect(libpq(urls[second])) as connection:
            assert connection.execute("SELECT name FROM users ORDER BY name").fetchall() == [("alice",), ("bob",)]
    finally:
        with psycopg.connect(libpq(postgres_url), autocommit=True) as connection:
            for name in (first, second):
                connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


# --- the round trip ---------------------------------------------------------------------------------------------------
WRITE = """
import os, pathlib, boto3, sqlalchemy
notes = pathlib.Path.home() / "notes"
notes.mkdir(exist_ok=True)
(notes / "moved.txt").write_text({text!r})
boto3.client("dynamodb").put_item(TableName=os.environ["PLAYGROUND_LOADTEST_TABLE"],
                                  Item={{"pk": {{"S": {text!r}}}, "sk": {{"S": "1"}}}})
with sqlalchemy.create_engine(os.environ["WORKBENCH_DATA_URL"]).begin() as connection:
    connection.exec_driver_sql("CREATE TABLE kept (note TEXT)")
    connection.exec_driver_sql("INSERT INTO kept VALUES (?)", ({text!r},))
print("written")
"""
READ = """
import json, os, pathlib, boto3, sqlalchemy
moved = pathlib.Path.home() / "notes" / "moved.txt"
item = boto3.client("dynamodb").get_item(TableName=os.environ["PLAYGROUND_LOADTEST_TABLE"],
                                         Key={{"pk": {{"S": {text!r}}}, "sk": {{"S": "1"}}}}).get("Item")
with sqlalchemy.create_engine(os.environ["WORKBENCH_DATA_URL"]).connect() as connection:
    rows = [row[0] for row in connection.exec_driver_sql("SELECT note FROM kept")]
print(json.dumps({{"file": moved.read_text(), "mine": moved.stat().st_uid == os.getuid(),
                  "item": item and item["pk"]["S"], "rows": rows}}))
"""


def take_uid(uid: int, prefix: str) -> None:
    """Another machine's account holding ``uid`` (removed with the test's accounts: same prefix and mark)."""
    subprocess.run(["useradd", "--uid", str(uid), "--no-create-home", "--home-dir", "/nonexistent", "--shell",
                    accounts.no_login_shell(), "--comment", f"{MARK} test", f"{prefix}u{uid}"], check=True)


@as_root
@pytest.mark.hub
@pytest.mark.slow
def test_a_hub_with_two_users_moves_to_another_machine(tmp_path):
    written = {"alice": "alice's notes", "bob": "bob's notes"}
    backup = tmp_path / "backup"
    with isolated_hub() as first:
        prefix = first.account_prefix
        for name, text in written.items():
            browser = first.signup_and_login(name, PASSWORD)
            assert first.start_server(browser, name).ready
            kernel = UserKernel(first, browser, name)
            assert kernel.run(WRITE.format(text=text)).strip() == "written"
            kernel.close()
        running = workbench("backup", str(backup), env=first.env)
        assert running.returncode == 2 and "while the hub runs" in running.stderr and "Ctrl-C" in running.stderr
        assert not backup.exists()
        assert not first.stop()

        old = {name: pwd.getpwnam(names.account_name(name, prefix)) for name in written}
        saved = workbench("backup", str(backup), env=first.env)
        assert saved.returncode == 0, saved.stderr
        assert all(f"{name}'s home" in saved.stdout for name in written), saved.stdout
        manifest = json.loads((backup / "manifest.json").read_text())
        assert {user["name"]: user["uid"] for user in manifest["users"]} == {
            name: entry.pw_uid for name, entry in old.items()}

        # Another machine: none of the accounts, their homes gone, their uids someone else's.
        remove_accounts(prefix)
        for entry in old.values():
            take_uid(entry.pw_uid, prefix)
        new_root = Path(tempfile.mkdtemp(prefix="restored-hub-", dir="/var/tmp"))
        new_state = new_root / "state"
        new_state.mkdir(mode=0o700)
        moved_accounts = TestAccounts.for_state(new_state, prefix)
        try:
            env = {**first.env, "WORKBENCH_STATE_DIR": str(new_state), **moved_accounts.settings()}
            restored = workbench("restore", str(backup), env=env)
            assert restored.returncode == 0, restored.stderr
            for entry in old.values():
                now = pwd.getpwnam(entry.pw_name)
                assert now.pw_uid != entry.pw_uid and f"was {entry.pw_uid}" in restored.stdout
                home = os.stat(now.pw_dir)
                assert Path(now.pw_dir).parent == moved_accounts.homes_dir
                assert (home.st_uid, stat.S_IMODE(home.st_mode)) == (now.pw_uid, 0o700)

            with Hub(new_state, extra_env={"WORKBENCH_ACCOUNT_PREFIX": prefix}) as second:
                for name, text in written.items():
                    browser, response = second.login(name, PASSWORD)
                    assert response.status_code == 302, f"{name}'s password no longer works"
                    assert second.start_server(browser, name).ready
                    kernel = UserKernel(second, browser, name)
                    found = json.loads(kernel.run(READ.format(text=text)).strip().splitlines()[-1])
                    kernel.close()
                    assert found == {"file": text, "mine": True, "item": text, "rows": [text]}, found
                assert not second.stop()
        finally:
            moved_accounts.remove()
            shutil.rmtree(new_root, ignore_errors=True)
