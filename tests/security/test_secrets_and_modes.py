"""Secrets stay secret, and a hub whose users are not isolated says so.

Secrets: a signed-up user lists every process's command line (``ps`` shows them to every account), reads their
own server's environment and hopes for the hub's or a neighbour's secrets there; an operator pastes the hub's log
or ``workbench settings`` into a ticket. Every secret this hub holds is collected (as root, from the processes'
environments and the state folder) and looked for in what those people see. The hub runs as root with system
accounts, PostgreSQL with real passwords (a private cluster), the local AWS, the playground reaper and the idle
culler: every kind of process a hub starts.

Modes: a hub run by an ordinary account cannot switch accounts, so its servers share its own: it tells whoever
comes, and keeps strangers out unless told otherwise. The tests run as root; such a hub runs as a throwaway system
account, with no spawner named, so that it picks its own.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from urllib.parse import urlsplit

import psutil
import pytest
import requests

from hub.services import local_aws
from hub.settings import MASK
from spawner import names
from testing.hub import LOCAL_AWS_KEYS, Hub
from testing.isolation import isolated_hub, unprivileged_hub
from testing.kernel import UserKernel
from testing.support import REPO_ROOT
from tests.security.test_names_and_accounts import own_database

pytestmark = [pytest.mark.hub, pytest.mark.slow]
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="the hub makes system accounts only as root, as in CI")

PASSWORDS = {"ines": "ines keeps this one to herself", "jules": "the passphrase jules chose"}
MISTYPED = "ines mistyped her passphrase"
# What names a secret in a process's environment.
SECRET_VARIABLE = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|CRYPT_KEY|PRIVATE")
# Each kind of process a hub starts, by a piece of its command line.
PROCESS_KINDS = {"runner": "-m hub.cli hub", "hub": "-m hub.app -f", "proxy": "configurable-http-proxy",
                 "local AWS": "hub.services.local_aws", "reaper": "hub.services.reaper",
                 "culler": "jupyterhub_idle_culler", "server": "jupyterhub.singleuser", "kernel": "ipykernel_launcher"}


def hub_processes(hub: Hub) -> list[psutil.Process]:
    return [psutil.Process(hub.process.pid), *hub.descendants()]


def command_line(process: psutil.Process) -> str:
    return " ".join(process.cmdline())


def owner_of(environ: dict[str, str]) -> str:
    """Whose secrets a process's environment holds: the user whose server (or kernel) it is, else the hub's."""
    return environ.get("JUPYTERHUB_USER") or "hub"


def url_password(value: str) -> str | None:
    try:
        return urlsplit(value).password if "://" in value else None
    except ValueError:
        return None


def all_secrets(hub: Hub) -> list[tuple[str, str, str]]:
    """(whose, what, value) for every secret the running hub holds."""
    found = [("hub", "the database admin's password", hub.admin_password),
             ("hub", "the hub's local AWS secret key", LOCAL_AWS_KEYS[local_aws.SECRET_VARIABLE]),
             ("hub", "the cookie secret", (hub.state_dir / "jupyterhub_cookie_secret").read_text().strip()),
             ("ines", "ines's mistyped password", MISTYPED)]
    found += [(name, f"{name}'s login password", password) for name, password in PASSWORDS.items()]
    found += [(name, f"{name}'s API token", kernel.token) for name, kernel in hub.kernels.items()]
    for process in hub_processes(hub):
        try:
            environ, command = process.environ(), command_line(process)
        except psutil.Error:
            continue
        for variable, value in environ.items():
            if SECRET_VARIABLE.search(variable):
                found.append((owner_of(environ), f"{variable} of {command[:80]}", value))
            if url_password(value):
                found.append((owner_of(environ), f"the password in {variable} of {command[:80]}", url_password(value)))
        if "jupyterhub.singleuser" in command:
            credentials = json.loads(open(environ["PLAYGROUND_CREDENTIALS_FILE"]).read())
            found += [(owner_of(environ), f"{owner_of(environ)}'s playground {key}", credentials[key])
                      for key in ("SecretAccessKey", "SessionToken")]
    roles = {names.for_user(name).schema: name for name in PASSWORDS}
    for stored in (hub.state_dir / "data-passwords").iterdir():
        found.append((roles.get(stored.name, "hub"), f"the stored database password of {stored.name}",
                      stored.read_text().strip()))
    found = [(whose, what, value) for whose, what, value in found if len(value) >= 8]
    assert {"CONFIGPROXY_AUTH_TOKEN", "JUPYTERHUB_API_TOKEN", "AWS_SECRET_ACCESS_KEY"} <= {
        what.split(" ")[0] for _, what, _ in found}, "the secrets were not found where the hub keeps them"
    return found


def leaked(text: str, secrets: list[tuple[str, str, str]]) -> list[str]:
    return [what for _, what, value in secrets if value in text]


@pytest.fixture(scope="module")
def hub(private_cluster):
    with own_database(private_cluster, list(PASSWORDS)) as database, \
            isolated_hub(WORKBENCH_DATA_ADMIN_URL=database, WORKBENCH_BUILTIN_MESSAGES="0") as hub:
        hub.admin_password = private_cluster.admin_password
        browsers = {}
        for name, password in PASSWORDS.items():
            browsers[name] = hub.signup_and_login(name, password)
            progress = hub.start_server(browsers[name], name)
            assert progress.ready, progress.messages
        assert hub.login("ines", MISTYPED)[1].status_code == 403
        hub.kernels = {name: UserKernel(hub, browsers[name], name) for name in PASSWORDS}
        try:
            yield hub
        finally:
            for kernel in hub.kernels.values():
                kernel.close()


# --- point 9: secrets stay secret -------------------------------------------------------------------------------

@as_root
def test_no_secret_is_on_a_command_line_every_account_can_list(hub):
    processes = hub_processes(hub)
    commands = {process.pid: command_line(process) for process in processes}
    missing = [kind for kind, piece in PROCESS_KINDS.items() if not any(piece in c for c in commands.values())]
    assert not missing, f"the hub runs no {missing}: {sorted(commands.values())}"
    # what ines's kernel lists, as `ps -ef` would: every process of the machine, the hub's among them
    listed = json.loads(hub.kernels["ines"].run("""
        import json, os
        listed = {}
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as file:
                    listed[pid] = file.read().replace(b"\\0", b" ").decode(errors="replace")
            except OSError:
                pass
        print(json.dumps(listed))
    """))
    assert {str(pid) for pid in commands} <= set(listed), "ines cannot list the hub's processes: nothing tested"
    secrets = all_secrets(hub)
    for pid, command in {**listed, **commands}.items():
        assert not leaked(command, secrets), f"process {pid} shows {leaked(command, secrets)} on its command line"


@as_root
def test_a_users_server_holds_none_of_the_hubs_secrets_nor_a_neighbours(hub):
    environment = hub.kernels["ines"].run("import json, os; print(json.dumps(dict(os.environ)))")
    secrets = all_secrets(hub)
    assert leaked(environment, [s for s in secrets if s[0] == "ines"]), "the probe sees nothing, not even hers"
    assert not leaked(environment, [s for s in secrets if s[0] != "ines"])
    # nor do the hub's services get more than their own token: the reaper and the culler hold no user's secret
    for process in hub_processes(hub):
        command = command_line(process)
        if "hub.services.reaper" in command or "jupyterhub_idle_culler" in command:
            environ = "\n".join(process.environ().values())
            assert not leaked(environ, [s for s in secrets if s[0] != "hub"]), command


@as_root
def test_the_hub_log_shows_no_secret(hub):
    log = hub.log()
    # the log holds what would tempt it: the hub's, the proxy's, the services' and both users' servers' output,
    # and a failed login
    assert "Failed login for 'ines'" in log, log[-3000:]
    assert all(f"/user/{name}/" in log for name in PASSWORDS) and "idle-culler" in log
    assert not leaked(log, all_secrets(hub))


def test_workbench_settings_masks_every_secret_passwords_in_urls_included():
    secrets = {"WORKBENCH_OAUTH_CLIENT_SECRET": "the-oauth-client-secret",
               "WORKBENCH_DATA_ADMIN_URL": "postgresql+psycopg://admin:the-admin-password@db.internal:5432/workbench",
               # libpq and SQLAlchemy also take the password as a query parameter
               "WORKBENCH_DB_URL": "postgresql://hub@[fd00::5]:5432/hub?sslmode=require&password=the-hub-db-password"}
    shown = subprocess.run([sys.executable, "-m", "hub.cli", "settings"], cwd=REPO_ROOT, capture_output=True,
                           text=True, timeout=60, env={"PATH": os.environ["PATH"], **secrets})
    assert shown.returncode == 0, shown.stderr
    for value in ("the-oauth-client-secret", "the-admin-password", "the-hub-db-password"):
        assert value not in shown.stdout + shown.stderr, value
    assert f"WORKBENCH_OAUTH_CLIENT_SECRET={MASK}" in shown.stdout
    assert f"WORKBENCH_DATA_ADMIN_URL=postgresql+psycopg://admin:{MASK}@db.internal:5432/workbench" in shown.stdout
    assert f"WORKBENCH_DB_URL=postgresql://hub@[fd00::5]:5432/hub?sslmode=require&password={MASK}" in shown.stdout


# --- point 3: a hub whose users are not isolated says what it is ------------------------------------------------

def test_a_non_root_hub_lets_no_stranger_in_by_any_door():
    """Nothing said about the spawner nor about sign-up: the hub says its users are not isolated before anyone
    signs up, and a stranger's account waits for an administrator at the login page and at the token API's
    password door alike."""
    with unprivileged_hub(WORKBENCH_OPEN_SIGNUP=None) as hub:
        assert ("Every user's server runs as this hub's own account (WORKBENCH_SPAWNER=local): users are not "
                "isolated from each other or from the hub. Open sign-up is off.") in hub.log()
        assert "not isolated" in requests.get(f"{hub.url}/hub/signup", timeout=30).text
        assert "not isolated" in requests.get(f"{hub.url}/hub/login", timeout=30).text
        assert "sent to the admin" in hub.signup("stranger", PASSWORDS["ines"]).text
        assert hub.login("stranger", PASSWORDS["ines"])[1].status_code == 403
        door = requests.post(f"{hub.url}/hub/api/users/stranger/tokens", timeout=30,
                             json={"auth": {"username": "stranger", "password": PASSWORDS["ines"]}})
        assert door.status_code == 403 and "token" not in door.json()


def test_a_non_root_hub_open_on_purpose_warns_on_every_page():
    with unprivileged_hub(WORKBENCH_OPEN_SIGNUP="true", WORKBENCH_ADMIN_USERS="boss") as hub:
        assert "users are not isolated" in hub.log() and "Open sign-up is on (WORKBENCH_OPEN_SIGNUP=true)" in hub.log()
        assert "not isolated" in requests.get(f"{hub.url}/hub/signup", timeout=30).text
        signed_up = hub.signup("ines", PASSWORDS["ines"])
        assert "signup was successful" in signed_up.text and "not isolated" in signed_up.text
        browser, login = hub.login("ines", PASSWORDS["ines"])
        assert login.status_code == 302
        assert "not isolated" in browser.get(f"{hub.url}/hub/home", timeout=30).text
        admin = hub.admin_login("boss", PASSWORDS["jules"])
        assert "not isolated" in admin.get(f"{hub.url}/hub/admin", timeout=30).text


@as_root
def test_an_isolated_hub_does_not_cry_wolf(hub):
    """The warning means something: a hub whose users each have their own account does not show it."""
    assert "not isolated" not in requests.get(f"{hub.url}/hub/signup", timeout=30).text
    assert "not isolated" not in hub.log()
