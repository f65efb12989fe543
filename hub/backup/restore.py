"""``workbench restore DIR``: a backup made by :func:`hub.backup.commands.backup` put back under the settings in
force, on this machine or another.

Everything is checked before anything changes: the backup folder is this account's and closed to others (the
local AWS's state in it is unpickled by the hub, so whoever could write it could run code as root), every file
matches its checksum in the manifest, no archive member could land outside its folder, the backup fits the
settings (the same kind of spawner, hub database and workbench data; with system accounts the same account prefix
and hub id, which name and mark the accounts), the target state folder is empty unless ``force`` is given, no
account of a user's name exists that this hub did not make, and nothing of the hub runs.

May import what :mod:`hub.backup.commands` does, and :mod:`hub.services.provisioning`.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from hub.backup import archives, databases
from hub.backup.commands import (BUILTIN_SQLITE, DATA_DUMP, FORMAT, HUB_DUMP, HUB_SQLITE, MANIFEST, STATE_ARCHIVE,
                                 BackupRefused, Report, digest, gecos_of, refuse_if_running, run_as_account,
                                 state_contents, users_named)
from hub.services import provisioning
from hub.settings import WorkbenchSettings
from spawner import accounts

# Users' servers open the built-in models read-only by path, as their own accounts.
BUILTIN_MODE = 0o644


def read_backup(folder: Path) -> dict:
    """The manifest of the backup in ``folder``, once every file was found whole and every archive safe."""
    try:
        found = os.lstat(folder)
    except FileNotFoundError:
        raise BackupRefused(f"There is no backup at {folder}") from None
    if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.geteuid() or found.st_mode & 0o022:
        raise BackupRefused(f"{folder} must be a folder of this account that others cannot write (a backup made by "
                            "`workbench backup` is 0700)")
    try:
        descriptor = os.open(folder / MANIFEST, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(descriptor, "rb") as stream:
            manifest = json.loads(stream.read())
    except (OSError, ValueError) as error:
        raise BackupRefused(f"{folder} holds no readable {MANIFEST}: {error}") from None
    if manifest.get("format") != FORMAT:
        raise BackupRefused(f"{folder} is in backup format {manifest.get('format')!r}; this version reads {FORMAT}")
    for name, expected in manifest["files"].items():
        path = folder / name
        if path.is_symlink() or not path.is_file() or digest(path) != expected:
            raise BackupRefused(f"{path} is missing or not as it was saved (its size or SHA-256 differs): the backup "
                                "is damaged; nothing was restored")
    for name in manifest["files"]:
        if name.endswith(".tar"):
            try:
                archives.check_members(folder / name)
            except archives.ArchiveError as error:
                raise BackupRefused(f"Nothing was restored: {error}") from None
    return manifest


def _check_fits(manifest: dict, settings: WorkbenchSettings) -> None:
    problems = []
    if manifest["mode"] != settings.spawner:
        problems.append(f"its users' servers ran with WORKBENCH_SPAWNER={manifest['mode']}, here it is "
                        f"{settings.spawner}")
    accounts = (manifest["account_prefix"], manifest["hub_id"])
    if settings.spawner == "system-users" and accounts != (settings.account_prefix, settings.hub_id):
        problems.append(f"its accounts are named and marked with WORKBENCH_ACCOUNT_PREFIX={manifest['account_prefix']}"
                        f" and WORKBENCH_HUB_ID={manifest['hub_id']}; set the same here")
    hub_database = "sqlite" if databases.sqlite_path(settings.hub_db_url) else "postgresql"
    if manifest["hub_database"] != hub_database:
        problems.append(f"its hub database is {manifest['hub_database']}, WORKBENCH_DB_URL here gives {hub_database}")
    data = "postgresql" if settings.data_admin_url else "sqlite"
    if manifest["workbench_data"] != data:
        problems.append(f"its workbench data is {manifest['workbench_data']}, WORKBENCH_DATA_ADMIN_URL here gives "
                        f"{data}")
    if problems:
        raise BackupRefused("This backup does not fit these settings: " + "; ".join(problems) + ".")


def _existing_accounts(manifest: dict) -> list[accounts.SystemAccount]:
    """The users' accounts already on this machine; refuses an account of a user's name this hub did not make."""
    existing = []
    for user in manifest["users"]:
        if not user.get("account"):
            continue
        account = accounts.lookup(user["account"])
        if account is not None:
            if gecos_of(account.name) != user["comment"]:
                raise BackupRefused(f"The system account {account.name} exists here and was not made by this hub for "
                                    f"{user['name']}; it is never taken over. Nothing was restored.")
            existing.append(account)
    return existing


def restore(settings: WorkbenchSettings, folder: Path, force: bool = False) -> list[str]:
    """Put the backup in ``folder`` back under ``settings``; return what was restored, line by line."""
    folder = folder.absolute()
    manifest = read_backup(folder)
    _check_fits(manifest, settings)
    if settings.spawner == "system-users" and os.geteuid() != 0:
        raise BackupRefused("Users' homes belong to their own system accounts, made again by the restore: run it "
                            "as root.")
    state = settings.state_path
    if state.is_dir() and any(state.iterdir()) and not force:
        raise BackupRefused(f"The state folder {state} is not empty: restore into an empty one (WORKBENCH_STATE_DIR),"
                            " or give --force to replace what it holds. Nothing was restored.")
    refuse_if_running(settings, _existing_accounts(manifest), "restore")
    report = Report([f"a backup made {manifest['made_at']} by version {manifest['version']} "
                     f"(WORKBENCH_SPAWNER={manifest['mode']})"])
    usernames = [user["name"] for user in manifest["users"]]
    earlier_umask = os.umask(0o077)
    try:
        state.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(folder / STATE_ARCHIVE, "rb") as stream:
            try:
                count = archives.unpack(stream, state)
            except archives.ArchiveError as error:
                raise BackupRefused(f"Stopped restoring the state folder {state}: {error}") from None
        report.add(f"the state folder {state}: {state_contents(state)} ({count} entries)")
        hub_sqlite = databases.sqlite_path(settings.hub_db_url)
        if hub_sqlite is not None:
            databases.copy_sqlite(folder / HUB_SQLITE, hub_sqlite)
        else:
            databases.restore_postgresql(settings.db_url, folder / HUB_DUMP, keep_owners=False)
        report.add(f"the hub database: {users_named(usernames)}, their passwords, servers and shares")
        if (folder / BUILTIN_SQLITE).is_file():
            databases.copy_sqlite(folder / BUILTIN_SQLITE, state / BUILTIN_SQLITE)
            os.chmod(state / BUILTIN_SQLITE, BUILTIN_MODE)
            report.add("the built-in models (builtin.sqlite)")
        provisioning.make_state_folder(settings)
    finally:
        os.umask(earlier_umask)
    for user in manifest["users"]:
        if not user.get("account"):
            continue
        try:
            account = accounts.ensure_account(user["account"], user["comment"], Path(settings.homes_dir))
        except accounts.AccountError as error:
            raise BackupRefused(f"{user['name']}'s account: {error}") from None
        with open(folder / user["home"], "rb") as stream:
            run_as_account(account, "unpack", stdin=stream)
        moved = "" if account.uid == user["uid"] else f", was {user['uid']}"
        report.add(f"{user['name']}'s home {account.home}: account {account.name} (uid {account.uid}{moved}) owns "
                   "every file")
    spaces = manifest.get("data_spaces") or {}
    if spaces:
        databases.make_user_roles(settings.data_admin_url, provisioning.data_passwords_dir(settings), spaces)
        databases.restore_postgresql(settings.data_admin_url, folder / DATA_DUMP, keep_owners=True)
        report.add(f"the workbench data of {', '.join(spaces)} (PostgreSQL roles and schemas)")
    return report.lines
