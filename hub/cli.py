"""``workbench``: run and inspect a Profiler Workbench hub.

- ``workbench hub``: check, provision (:mod:`hub.services.provisioning`), then run JupyterHub with
  ``hub/jupyterhub_config.py`` from the state folder. Ctrl-C or SIGTERM is passed on to it, and it stops what it
  started: the proxy, the managed services (the local AWS) and every user server.
- ``workbench settings``: every setting in force, secrets masked (``--markdown``: README's table).
- ``workbench check``: what a hub with these settings is missing (the proxy, the databases, the local AWS).
- ``workbench provision``: the provisioning step alone.
- ``workbench password NAME``: create or reset a local account (administrators' names cannot sign up); the
  password is asked for, or read from standard input, never taken from the command line.
- ``workbench backup DIR`` / ``workbench restore DIR [--force]``: a stopped hub's whole state into a new folder,
  and back under the settings in force, here or on another machine (:mod:`hub.backup`).

May import every :mod:`hub` module; never the user side.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from hub import settings as workbench_settings
from hub.services import local_aws
from hub.settings import SettingsError, WorkbenchSettings

CONFIG_FILE = Path(__file__).resolve().parent / "jupyterhub_config.py"


def hub_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/hub/health", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def instructions(settings: WorkbenchSettings) -> str:
    url = settings.public_url
    if settings.auth == "local":
        login = (
            f"  New here? Create an account at {url}/hub/signup, then log in at {url}/hub/login.\n"
            + ("" if settings.effective_open_signup else
               "  Each new account waits for an admin's approval at /hub/authorize (open sign-up is off: "
               "WORKBENCH_OPEN_SIGNUP=true turns it on).\n"
               "  Make an admin with WORKBENCH_ADMIN_USERS=NAME and `workbench password NAME`.\n")
        )
    else:
        login = f"  Log in with {settings.auth} at {url}/hub/login.\n"
    aws = (
        f"  Local AWS (moto) on {settings.effective_aws_endpoint}.\n"
        if settings.runs_local_aws
        else f"  AWS endpoint: {settings.effective_aws_endpoint or 'real AWS'}.\n"
    )
    return f"\nThe Profiler Workbench is running at {url}\n{login}{aws}  Stop it with Ctrl-C.\n"


def problems(settings: WorkbenchSettings) -> list[str]:
    """What stops a hub with these settings from working, each with what to do about it."""
    found = []
    if settings.proxy_executable() is None:
        found.append(
            f"The proxy `{settings.proxy_command}` is not on PATH nor in ./node_modules/.bin: install the npm "
            "package (`npm install configurable-http-proxy`) or set WORKBENCH_PROXY_COMMAND to its path."
        )
    if settings.data_admin_url:
        found += _database_problems(settings.data_admin_url, "WORKBENCH_DATA_ADMIN_URL")
    if settings.db_url.startswith("postgresql"):
        found += _database_problems(settings.db_url, "WORKBENCH_DB_URL")
    if not settings.runs_local_aws and settings.effective_aws_endpoint is None:
        found += _real_aws_problems()
    if settings.spawner == "local" and os.geteuid() == 0:
        found.append(workbench_settings.LOCAL_AS_ROOT)
    if settings.spawner == "system-users" and os.geteuid() != 0:
        found.append(
            "WORKBENCH_SPAWNER=system-users runs each user's server as an account of their own, which only root can "
            "make and switch to: start the hub as root, or choose WORKBENCH_SPAWNER=local (not isolated)."
        )
    if settings.spawner == "system-users" and shutil.which("useradd") is None:
        found.append("WORKBENCH_SPAWNER=system-users makes users' accounts with `useradd`, which is not installed.")
    if settings.spawner == "system-users":
        found += _closed_to_users()
    if settings.auth != "local" and not (settings.oauth_client_id and settings.oauth_client_secret):
        found.append(
            f"WORKBENCH_AUTH={settings.auth} needs WORKBENCH_OAUTH_CLIENT_ID and WORKBENCH_OAUTH_CLIENT_SECRET."
        )
    return found


def _closed_to_users() -> list[str]:
    """Users' servers run this Python as their own accounts: its interpreter, its standard library and the
    installed code must be reachable by every account."""
    import sysconfig

    needed = [Path(os.path.realpath(sys.executable)), Path(sysconfig.get_paths()["stdlib"]),
              Path(sysconfig.get_paths()["purelib"]), Path(__file__).resolve().parent.parent]
    for path in needed:
        for folder in [path, *path.parents]:
            if folder.exists() and not folder.stat().st_mode & stat.S_IXOTH and folder.is_dir():
                return [f"Users' servers cannot run {sys.executable}: {folder} is closed to other accounts. Install "
                        "the hub with a Python every account can reach (e.g. the system's /usr/bin/python3), or "
                        "open that folder (chmod o+x)."]
    return []


def _database_problems(url: str, variable: str) -> list[str]:
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.connect():
            pass
        engine.dispose()
    except Exception as error:  # noqa: BLE001 - any failure to connect is the answer
        safe = workbench_settings.shown(variable.removeprefix("WORKBENCH_").lower(), url)
        return [f"{variable} ({safe}) cannot be reached: {type(error).__name__}: {str(error).splitlines()[0]}"]
    return []


def _real_aws_problems() -> list[str]:
    import boto3

    if boto3.Session().get_credentials() is None:
        return ["Real AWS is chosen (WORKBENCH_LOCAL_AWS=false) but boto3 finds no credentials for the hub."]
    return []


def hub_environment(settings: WorkbenchSettings) -> dict[str, str]:
    """The hub process's environment: the proxy's full path; with the local AWS, the hub's own keys for it (kept
    0600 in the state folder, :func:`hub.services.local_aws.hub_credentials`), so that boto3 never goes looking
    for real ones; the region of the playgrounds."""
    env = dict(os.environ)
    # The hub runs from the state folder: hand it the proxy found from here.
    env[workbench_settings.variable("proxy_command")] = settings.proxy_executable() or settings.proxy_command
    if settings.runs_local_aws:
        env.update(local_aws.hub_credentials(settings.state_path))
    env.setdefault("AWS_DEFAULT_REGION", settings.aws_region)
    return env


def run_hub(settings: WorkbenchSettings) -> int:
    found = problems(settings)
    if found:
        print("Cannot start:\n" + "\n".join(f"  - {problem}" for problem in found), file=sys.stderr)
        return 2
    from hub.services.provisioning import provision

    if not settings.isolated:
        logging.getLogger("workbench").warning(
            "Every user's server runs as this hub's own account (WORKBENCH_SPAWNER=%s): users are not isolated "
            "from each other or from the hub. Open sign-up is %s.", settings.spawner,
            "on (WORKBENCH_OPEN_SIGNUP=true)" if settings.effective_open_signup else "off")
    provision(settings)
    hub = subprocess.Popen(
        [sys.executable, "-m", "hub.app", "-f", str(CONFIG_FILE)],
        cwd=settings.state_path,
        # Its own session: a terminal's Ctrl-C reaches only us, and the hub alone then stops what it started.
        start_new_session=True,
        env=hub_environment(settings),
        # whatever the hub writes is its own unless it says otherwise (users' files are given their modes)
        umask=0o077,
    )

    def pass_on(signum, _frame):
        if hub.poll() is None:
            hub.send_signal(signum)

    signal.signal(signal.SIGTERM, pass_on)
    signal.signal(signal.SIGINT, pass_on)

    deadline = time.monotonic() + 120
    # where the proxy listens, not the public name: this machine may not resolve it (*.localhost, a DNS name)
    listening = f"http://{'127.0.0.1' if settings.ip in ('', '0.0.0.0') else settings.ip}:{settings.port}"
    while hub.poll() is None and not hub_answers(listening):
        if time.monotonic() > deadline:
            print("The hub did not answer within 120 s; see its log above.", file=sys.stderr)
            break
        time.sleep(0.25)
    if hub.poll() is None:
        print(instructions(settings), flush=True)
    while True:
        try:
            return hub.wait()
        except KeyboardInterrupt:  # a second Ctrl-C while the hub is stopping: keep waiting for it
            continue


def set_password(settings: WorkbenchSettings, name: str) -> int:
    import getpass

    from hub.auth.local import account_problem, set_local_password
    from hub.services.provisioning import make_state_folder

    if sys.stdin.isatty():
        password = getpass.getpass(f"Password for {name}: ")
        if getpass.getpass("The same again: ") != password:
            print("The two passwords differ; nothing changed.", file=sys.stderr)
            return 2
    else:
        password = sys.stdin.readline().rstrip("\n")
    problem = account_problem(name, password, settings.min_password_length)
    if problem:
        print(f"Nothing changed: {problem}", file=sys.stderr)
        return 2
    make_state_folder(settings)
    try:
        made = set_local_password(settings.hub_db_url, name, password,
                                  minimum_length=settings.min_password_length)
    except ValueError as error:
        print(f"Nothing changed: {error}", file=sys.stderr)
        return 2
    admin = " (an administrator)" if name in settings.admin_users else ""
    print(f"{'Made' if made else 'Reset'} the local account {name}{admin}.")
    return 0


def save_or_restore(settings: WorkbenchSettings, args: argparse.Namespace) -> int:
    from hub.backup import commands, databases
    from hub.backup.restore import restore
    from spawner.accounts import AccountError

    try:
        if args.command == "backup":
            done = commands.backup(settings, Path(args.folder))
        else:
            done = restore(settings, Path(args.folder), force=args.force)
    except (commands.BackupRefused, databases.DatabaseCopyError, AccountError) as error:
        print(f"{'Backup' if args.command == 'backup' else 'Restore'} refused or failed: {error}", file=sys.stderr)
        return 2
    heading = f"{'Backed up into' if args.command == 'backup' else 'Restored from'} {Path(args.folder).absolute()}:"
    print("\n".join([heading, *(f"  {line}" if line.startswith("  ") else f"  - {line}" for line in done)]))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="workbench", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("hub", help="provision and run the hub (the default)")
    shown = commands.add_parser("settings", help="print the settings in force, secrets masked")
    shown.add_argument("--markdown", action="store_true", help="print README's settings table instead")
    commands.add_parser("check", help="say what a hub with these settings is missing")
    commands.add_parser("provision", help="make the state folder, databases and built-in data, then exit")
    password = commands.add_parser("password", help="create or reset a local account, e.g. an administrator's")
    password.add_argument("name")
    saved = commands.add_parser("backup", help="save the stopped hub (databases, secrets, homes, local AWS) into DIR")
    saved.add_argument("folder", metavar="DIR", help="a new folder (made 0700), or an empty one")
    restored = commands.add_parser("restore", help="put a backup back under the settings in force")
    restored.add_argument("folder", metavar="DIR", help="a folder made by `workbench backup`")
    restored.add_argument("--force", action="store_true", help="restore into a state folder that is not empty")
    args = parser.parse_args(argv)
    if getattr(args, "markdown", False):
        print(workbench_settings.markdown_table())
        return 0
    logging.basicConfig(level=logging.INFO, format="[%(levelname).1s %(asctime)s workbench] %(message)s")
    try:
        settings = workbench_settings.load()
    except SettingsError as error:
        print(f"Cannot start: {error}", file=sys.stderr)
        return 2
    if args.command == "settings":
        print("\n".join(workbench_settings.describe(settings)))
        return 0
    if args.command == "check":
        found = problems(settings)
        print("\n".join(f"- {problem}" for problem in found) if found else "Nothing is missing.")
        return 1 if found else 0
    if args.command == "password":
        return set_password(settings, args.name)
    if args.command in ("backup", "restore"):
        return save_or_restore(settings, args)
    if args.command == "provision":
        from hub.services.provisioning import provision

        provision(settings)
        return 0
    return run_hub(settings)


if __name__ == "__main__":
    sys.exit(main())
