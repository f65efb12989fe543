"""``workbench backup DIR`` and ``workbench restore DIR``: a stopped hub's whole state, to move it to another
machine or to keep.

What a backup holds (DIR made 0700 by root, every file in it 0600, ``manifest.json`` listing them with their
SHA-256):

- ``jupyterhub.sqlite``: the hub database (users, their hashed passwords, servers, shares, tokens), copied with
  SQLite's online backup API; a PostgreSQL hub database (``WORKBENCH_DB_URL``) as ``hub-database.dump`` (pg_dump).
- ``builtin.sqlite``: the built-in models of a hub whose workbench data is SQLite, copied the same way.
- ``state.tar``: the rest of the state folder: the cookie secret, the hub's keys for the local AWS, the local
  AWS's whole state (``local-aws.snapshot``: every playground, table, item and recorded run), the users' database
  passwords (PostgreSQL) and, with ``WORKBENCH_SPAWNER=local``, the users' homes (``users/<name>``). Left out:
  what only a running hub has (:data:`RUNTIME_ONLY`, drafts, SQLite journals) and ``credentials/`` (temporary keys
  of running servers, issued again at each start).
- ``homes/<account>.tar``: with system accounts, each user's home (their files and, with SQLite, their own
  database ``data/models.sqlite``), packed by a process that is that account (:mod:`hub.backup.archives`).
- ``workbench-data.dump``: with PostgreSQL workbench data, the users' schemas (pg_dump); their roles are made again
  at restore, with the stored passwords. The built-in schema is not in it: the hub installs it at every start.

Consistency: a backup is taken of a stopped hub only (:func:`still_running` says what still runs: the hub, its
local AWS, users' servers or any process of their accounts). Its parts then cannot change under it, and the
local AWS wrote its last snapshot when it stopped.

Restore puts everything back under the settings in force (the new machine's state folder and homes): it refuses a
state folder that is not empty unless told ``force``, checks the whole backup first (checksums, archive members),
makes each system account again with its name and this hub's mark (:func:`spawner.accounts.ensure_account`, which
refuses an account it did not make), and unpacks each home as its account, whose new uid then owns every file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import stat
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import sqlalchemy

from hub.backup import archives, databases
from hub.services import aws_state, local_aws
from hub.settings import WorkbenchSettings
from spawner import accounts, names

FORMAT = 1
MANIFEST = "manifest.json"
HUB_SQLITE, HUB_DUMP = "jupyterhub.sqlite", "hub-database.dump"
BUILTIN_SQLITE = "builtin.sqlite"
STATE_ARCHIVE = "state.tar"
HOMES = "homes"
DATA_DUMP = "workbench-data.dump"
# In the state folder, what only a running hub has or what is issued again at each server start.
RUNTIME_ONLY = ("jupyterhub-proxy.pid", aws_state.SNAPSHOT_FILE + aws_state.SERVING_SUFFIX, "credentials")
SQLITE_SIDE_FILES = ("", "-journal", "-wal", "-shm")
# What a state folder holds, as a report names it.
KNOWN_STATE = (("jupyterhub_cookie_secret", "the cookie secret"), (local_aws.HUB_KEY_FILE, "the hub's keys for the "
               "local AWS"), (aws_state.SNAPSHOT_FILE, "the local AWS's state"), ("data-passwords", "the users' "
               "database passwords"), ("users", "the users' homes"))


def state_contents(state: Path) -> str:
    return ", ".join(label for name, label in KNOWN_STATE if (state / name).exists()) or "nothing the hub made"


def users_named(usernames: list[str]) -> str:
    return f"{len(usernames)} user{'' if len(usernames) == 1 else 's'} ({', '.join(usernames) or 'none'})"


class BackupRefused(RuntimeError):
    """Nothing was done, or nothing more: the message says why and what to do."""


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        self.lines.append(line)


def project_version() -> str:
    try:
        return metadata.version("profiler-workbench")
    except metadata.PackageNotFoundError:
        return "unknown"


# --- what runs ----------------------------------------------------------------------------------------------------
def _hub_users(settings: WorkbenchSettings) -> tuple[list[str], dict[str, int]]:
    """The hub's usernames, and the pids of servers it recorded as running (by ``user/server``)."""
    engine = sqlalchemy.create_engine(settings.hub_db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as connection:
            if not sqlalchemy.inspect(connection).has_table("users"):
                return [], {}  # JupyterHub has not run on it yet (`workbench password` made it)
            users = [row.name for row in connection.execute(sqlalchemy.text("SELECT name FROM users ORDER BY name"))]
            recorded = connection.execute(sqlalchemy.text(
                "SELECT u.name AS user, s.name AS server, s.state FROM spawners s JOIN users u ON u.id = s.user_id"
                " WHERE s.server_id IS NOT NULL")).all()
    finally:
        engine.dispose()
    servers = {}
    for row in recorded:
        state = json.loads(row.state) if isinstance(row.state, str) else (row.state or {})
        servers[f"{row.user}/{row.server}".rstrip("/")] = int(state.get("pid") or 0)
    return users, servers


def _processes_of(state: Path, uids: set[int]) -> list[str]:
    """Processes working on ``state`` (run in it, or naming a path in it: the hub, its proxy, its local AWS) or
    run by one of ``uids`` (users' servers, kernels, anything they left)."""
    found = []
    own = _this_process_and_its_ancestors()  # the operator's shell may well sit in the state folder
    folder = str(state).encode()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) in own:
            continue
        try:
            command = Path(entry.path, "cmdline").read_bytes()
            owner = os.stat(entry.path).st_uid
        except OSError:
            continue  # ended meanwhile
        try:
            cwd = os.readlink(os.path.join(entry.path, "cwd"))
        except OSError:
            cwd = ""  # not ours to look at
        named = any(arg == folder or arg.startswith(folder + b"/") for arg in command.split(b"\0"))
        if owner in uids or cwd == str(state) or named:
            shown = command.replace(b"\0", b" ").decode(errors="replace").strip()[:100]
            found.append(f"process {entry.name} ({shown})")
    return found


def _this_process_and_its_ancestors() -> set[int]:
    found, pid = set(), os.getpid()
    while pid > 1 and pid not in found:
        found.add(pid)
        try:
            # /proc/PID/stat: "pid (command) state ppid ...", the command possibly holding spaces and parentheses
            pid = int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return found


def still_running(settings: WorkbenchSettings, accounts_in_use: list[accounts.SystemAccount]) -> list[str]:
    """What of this hub still runs: a backup of it would not be consistent, nor a restore over it safe."""
    from hub.cli import hub_answers

    found = []
    listening = f"http://{'127.0.0.1' if settings.ip in ('', '0.0.0.0') else settings.ip}:{settings.port}"
    if hub_answers(listening):
        found.append(f"a hub answers on {listening}")
    hub_sqlite = databases.sqlite_path(settings.hub_db_url)
    if hub_sqlite is None or hub_sqlite.is_file():
        _, servers = _hub_users(settings)
        found += [f"{server}'s server (pid {pid})" for server, pid in servers.items()
                  if pid and Path(f"/proc/{pid}").exists()]
    found += _processes_of(settings.state_path, {account.uid for account in accounts_in_use})
    return found


def refuse_if_running(settings: WorkbenchSettings, accounts_in_use: list, doing: str) -> None:
    found = still_running(settings, accounts_in_use)
    if found:
        raise BackupRefused(
            f"Cannot {doing} while the hub runs: its database, its local AWS and users' files must stand still. "
            "Stop it with Ctrl-C (SIGINT), which stops users' servers and the local AWS too (a SIGTERM restart "
            "leaves them running). Still running:\n" + "\n".join(f"  - {part}" for part in found))


def _accounts_of(settings: WorkbenchSettings, users: list[str]) -> dict[str, tuple[accounts.SystemAccount, str]]:
    """This hub's system accounts by username, with their marks (an account of that name not made by this hub
    for that user is not theirs, and left out)."""
    found = {}
    for user in users:
        account = accounts.lookup(names.account_name(user, settings.account_prefix))
        comment = accounts.comment_for(settings.hub_id, user)
        if account is not None and gecos_of(account.name) == comment:
            found[user] = (account, comment)
    return found


def gecos_of(account_name: str) -> str:
    import pwd

    return pwd.getpwnam(account_name).pw_gecos


# --- files of a backup ----------------------------------------------------------------------------------------------
def _private_file(path: Path):
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600), "wb")


def digest(path: Path) -> dict:
    hasher = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            hasher.update(block)
    return {"bytes": path.stat().st_size, "sha256": hasher.hexdigest()}


def _left_out_of_state(settings: WorkbenchSettings):
    hub_sqlite = databases.sqlite_path(settings.hub_db_url)
    inside = hub_sqlite is not None and hub_sqlite.is_relative_to(settings.state_path)
    copied = [BUILTIN_SQLITE] + ([str(hub_sqlite.relative_to(settings.state_path))] if inside else [])

    def leave_out(name: str) -> bool:
        top, _, rest = name.partition("/")
        if top in RUNTIME_ONLY or any(name == f"{file}{side}" for file in copied for side in SQLITE_SIDE_FILES):
            return True
        if not rest and top.startswith("."):
            return True  # drafts of files being replaced
        return top == "data-passwords" and Path(name).name.startswith(".")

    return leave_out


def _backup_folder(folder: Path, settings: WorkbenchSettings) -> Path:
    folder = folder.absolute()
    homes = [Path(settings.homes_dir).absolute()] if settings.spawner == "system-users" else []
    for forbidden in [settings.state_path, *homes]:
        if folder == forbidden or forbidden in folder.parents:
            raise BackupRefused(f"{folder} is inside {forbidden}: keep backups out of what they save")
    try:
        folder.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        found = os.lstat(folder)
        if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.geteuid() or any(folder.iterdir()):
            raise BackupRefused(f"{folder} must not exist yet, or be an empty folder of this account") from None
    os.chmod(folder, 0o700)
    return folder


def backup(settings: WorkbenchSettings, folder: Path) -> list[str]:
    """Save the stopped hub of ``settings`` into ``folder``; return what was saved, line by line."""
    hub_sqlite = databases.sqlite_path(settings.hub_db_url)
    if hub_sqlite is not None and not hub_sqlite.is_file():
        raise BackupRefused(f"There is no hub to back up: {hub_sqlite} does not exist (WORKBENCH_STATE_DIR?)")
    if settings.spawner == "system-users" and os.geteuid() != 0:
        raise BackupRefused("Users' homes belong to their own system accounts: back up as root.")
    users, _ = _hub_users(settings)
    owned = _accounts_of(settings, users) if settings.spawner == "system-users" else {}
    refuse_if_running(settings, [account for account, _ in owned.values()], "back up")
    folder = _backup_folder(folder, settings)
    try:
        return _save_into(folder, settings, users, owned)
    except (BackupRefused, databases.DatabaseCopyError, OSError) as error:
        raise BackupRefused(f"{error}\n{folder} holds an incomplete backup (no {MANIFEST}, so restore refuses it): "
                            "delete it") from None


def _save_into(folder: Path, settings: WorkbenchSettings, users: list[str],
               owned: dict[str, tuple[accounts.SystemAccount, str]]) -> list[str]:
    state = settings.state_path
    hub_sqlite = databases.sqlite_path(settings.hub_db_url)
    report = Report()
    manifest = {"format": FORMAT, "version": project_version(), "made_at": dt.datetime.now(dt.timezone.utc)
                .isoformat(timespec="seconds"), "mode": settings.spawner, "hub_id": settings.hub_id,
                "account_prefix": settings.account_prefix, "users": [], "files": {}}
    if hub_sqlite is not None:
        databases.copy_sqlite(hub_sqlite, folder / HUB_SQLITE)
        manifest["hub_database"] = "sqlite"
    else:
        databases.dump_postgresql(settings.db_url, folder / HUB_DUMP)
        manifest["hub_database"] = "postgresql"
    report.add(f"the hub database: {users_named(users)}, their passwords, servers and shares")
    if not settings.data_admin_url and (state / BUILTIN_SQLITE).is_file():
        databases.copy_sqlite(state / BUILTIN_SQLITE, folder / BUILTIN_SQLITE)
        report.add("the built-in models (builtin.sqlite)")
    with _private_file(folder / STATE_ARCHIVE) as stream:
        skipped = archives.pack(state, stream, _left_out_of_state(settings))
    report.add(f"the state folder {state}: {state_contents(state)}")
    report.lines += [f"  left out (unreadable): {problem}" for problem in skipped]
    if owned:
        (folder / HOMES).mkdir(mode=0o700)
    for user in users:
        entry = {"name": user}
        if user in owned:
            account, comment = owned[user]
            archive = f"{HOMES}/{account.name}.tar"
            with _private_file(folder / archive) as stream:
                problems = run_as_account(account, "pack", stdout=stream)
            entry.update(account=account.name, uid=account.uid, gid=account.gid, comment=comment, home=archive)
            report.add(f"{user}'s home ({account.home}, account {account.name}, uid {account.uid})")
            report.lines += [f"  {problem}" for problem in problems]
        manifest["users"].append(entry)
    manifest["workbench_data"] = "postgresql" if settings.data_admin_url else "sqlite"
    if settings.data_admin_url:
        spaces = databases.user_spaces(settings.data_admin_url, users)
        if spaces:
            databases.dump_postgresql(settings.data_admin_url, folder / DATA_DUMP,
                                      [space["schema"] for space in spaces.values()])
            report.add(f"the workbench data of {', '.join(spaces)} (PostgreSQL schemas)")
        manifest["data_spaces"] = spaces
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            manifest["files"][str(path.relative_to(folder))] = digest(path)
    with _private_file(folder / MANIFEST) as stream:
        stream.write(json.dumps(manifest, indent=1).encode())
    return report.lines


def run_as_account(account: accounts.SystemAccount, action: str, **streams) -> list[str]:
    """Run :mod:`hub.backup.archives` ``action`` in ``account``'s home as that account; its complaints, or
    :class:`BackupRefused` when it failed."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-I", "-m", "hub.backup.archives", action],
        env={"PATH": os.defpath, "HOME": str(account.home), "USER": account.name, "LOGNAME": account.name},
        user=account.uid, group=account.gid, extra_groups=[account.gid], umask=0o077, cwd=account.home,
        stderr=subprocess.PIPE, text=False, check=False, **streams)
    complaints = done.stderr.decode(errors="replace").strip().splitlines()
    if done.returncode != 0:
        raise BackupRefused(f"{action} of {account.name}'s home failed: " + " ".join(complaints[-5:]))
    return complaints
