"""Names and accounts cannot be hijacked: a signed-up user picks a name that collides with someone else's resource
names, squats an administrator's name, guesses a neighbour's password through every door the hub has, or comes
back from the sign-in provider under someone else's name; each meets the refusal a user would see.

The names run on a hub as root with its default spawner (a system account per user), PostgreSQL for the users'
data (a private cluster with real passwords) and the local AWS for their playgrounds: every resource a name
becomes is real.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import secrets
from pathlib import Path
from typing import Iterator

import boto3
import psutil
import psycopg
import pytest
import requests
from botocore.exceptions import ClientError
from sqlalchemy.engine import make_url

from spawner import names
from spawner.playground import DEFAULT_TEMPLATE
from spawner.stacks import DEFAULT_HUB_ID, build_request
from testing.hub import LOCAL_AWS_KEYS, Hub
from testing.isolation import isolated_hub
from testing.kernel import UserKernel
from testing.support import port_open, wait_for
from tests.hub.fake_oauth import FakeOAuthProvider

pytestmark = [pytest.mark.hub, pytest.mark.slow]
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="the hub makes system accounts only as root, as in CI")

PASSWORD = "correct horse battery"
ADMIN = "boss"
VICTIM = "zoe.o_brien"  # not a clean slug: her resources carry a hash of her name
LOOKALIKE = "zoe-o-brien"  # what her name reads as once slugged, itself a clean slug
CRAFTED = names.slug(VICTIM)  # her hashed slug, taken as a name: a clean-looking name that would equal it
COLLIDING = (VICTIM, LOOKALIKE, CRAFTED)


@contextlib.contextmanager
def own_database(cluster, users: list[str]) -> Iterator[str]:
    """A workbench database of its own in the private cluster (the hub takes PUBLIC's rights on it); its users'
    roles, which are the cluster's, are dropped with it."""
    name = f"wb_{secrets.token_hex(5)}"
    server = cluster.url(database="postgres").replace("+psycopg", "")
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield cluster.url(database=name)
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            for user in users:
                admin.execute(f'DROP ROLE IF EXISTS "{names.for_user(user).schema}"')


def server_environment(hub: Hub, username: str) -> dict[str, str]:
    """What the user's own server was handed (their kernels inherit it), read from the process."""
    for process in hub.descendants():
        with contextlib.suppress(psutil.Error):
            environ = process.environ()
            if environ.get("JUPYTERHUB_USER") == username and "jupyterhub.singleuser" in " ".join(process.cmdline()):
                return environ
    raise AssertionError(f"no running server for {username}")


def attempt(kernel: UserKernel, action: str) -> str:
    """What the user's kernel gets for ``action`` (one statement): "allowed", or the error and its code (an AWS
    error code, a PostgreSQL SQLSTATE)."""
    return kernel.run(f"""
        try:
            {action}
            print("allowed")
        except Exception as error:
            aws = getattr(error, "response", {{}}).get("Error", {{}}).get("Code")
            sql = getattr(getattr(error, "orig", None), "sqlstate", None)
            print(type(error).__name__, aws or sql or "")
    """).strip()


class AtTheHubsAddress:
    """The hub, with each user's server where the hub's API says it is: names that are not simple slugs get an
    encoded subdomain (``testing.hub.Hub.user_url`` spells simple names only)."""

    def __init__(self, hub: Hub, browser: requests.Session, username: str):
        self._hub = hub
        model = hub.hub_api(browser, "GET", f"/users/{username}").json()["servers"][""]
        self._url = model["url"] if model["url"].startswith("http") else hub.url + model["url"]

    def __getattr__(self, name):
        return getattr(self._hub, name)

    def user_url(self, username: str, server: str = "") -> str:
        return self._url


def facts(kernel: UserKernel) -> dict:
    """Every name the user's resources go by, as their own kernel sees them."""
    return json.loads(kernel.run("""
        import json, os, pwd
        from sqlalchemy.engine import make_url
        print(json.dumps({"account": pwd.getpwuid(os.getuid()).pw_name, "uid": os.getuid(),
                          "home": os.path.expanduser("~"), "stack": os.environ["PLAYGROUND_STACK_NAME"],
                          "tables": [os.environ["PLAYGROUND_LOADTEST_TABLE"], os.environ["PLAYGROUND_RUNS_TABLE"]],
                          "role": make_url(os.environ["WORKBENCH_DATA_URL"]).username,
                          "schema": os.environ["WORKBENCH_DATA_SCHEMA"],
                          "credentials": os.path.dirname(os.environ["PLAYGROUND_CREDENTIALS_FILE"])}))
    """))


def aws(hub: Hub, service: str):
    """The local AWS as an administrator of the AWS account: another hub, an operator."""
    keys = {name.lower(): value for name, value in LOCAL_AWS_KEYS.items()}
    return boto3.client(service, endpoint_url=hub.aws_endpoint, region_name="us-east-1", **keys)


def stack_of(hub: Hub, name: str) -> dict | None:
    try:
        (stack,) = aws(hub, "cloudformation").describe_stacks(StackName=name)["Stacks"]
    except ClientError:
        return None
    return None if stack["StackStatus"] == "DELETE_COMPLETE" else stack


def what_a_start_shows(hub: Hub, browser: requests.Session, username: str) -> str:
    """What the user reads after pressing Start: the error page of a start that failed at once, or the progress
    messages of one that took longer."""
    response = browser.get(f"{hub.url}/hub/spawn/{username}", timeout=120, allow_redirects=False)
    if response.status_code in (302, 303):
        return "\n".join(hub.follow_progress(browser, username).messages)
    return html.unescape(response.text)


def wait_stopped(hub: Hub, browser: requests.Session, username: str) -> None:
    wait_for(lambda: not hub.hub_api(browser, "GET", f"/users/{username}").json()["servers"], 60,
             f"{username}'s server to stop")


@pytest.fixture(scope="module")
def hub(private_cluster):
    users = [*COLLIDING, "carol", "dora", "erin", "grace", ADMIN]
    with own_database(private_cluster, users) as database, \
            isolated_hub(WORKBENCH_DATA_ADMIN_URL=database, WORKBENCH_BUILTIN_MESSAGES="0",
                         # configured with capitals: whatever its spelling, the name is the administrator's
                         WORKBENCH_ADMIN_USERS="Boss") as hub:
        hub.admin = hub.admin_login(ADMIN)
        # the local AWS is a service the hub starts: it answers once it is ready
        wait_for(lambda: port_open(int(hub.env["WORKBENCH_LOCAL_AWS_PORT"])), 90, "the hub's local AWS")
        yield hub


@pytest.fixture(scope="module")
def colliding(hub):
    """The victim and the two who took names like hers, each with a running server and a kernel."""
    kernels = {}
    try:
        for name in COLLIDING:
            browser = hub.signup_and_login(name)
            progress = hub.start_server(browser, name)
            assert progress.ready, progress.messages
            kernels[name] = UserKernel(AtTheHubsAddress(hub, browser, name), browser, name)
        yield kernels
    finally:
        for kernel in kernels.values():
            kernel.close()


# --- point 6: names and secrets cannot be hijacked --------------------------------------------------------------

@as_root
def test_names_made_to_collide_with_a_users_get_resources_of_their_own(hub, colliding):
    seen = {name: facts(kernel) for name, kernel in colliding.items()}
    for kind in ("account", "uid", "home", "stack", "role", "schema", "credentials"):
        values = [seen[name][kind] for name in COLLIDING]
        assert len(set(values)) == len(values), f"two users share a {kind}: {values}"
    tables = [table for name in COLLIDING for table in seen[name]["tables"]]
    assert len(set(tables)) == len(tables), tables
    # the name crafted to equal the victim's hashed slug is hashed in turn: it never takes her names
    assert seen[VICTIM]["stack"] == f"profiler-{CRAFTED}" and seen[CRAFTED]["stack"] != seen[VICTIM]["stack"]

    # and the crafted name reaches nothing of hers: not her table, nor her schema
    victim, attacker = colliding[VICTIM], colliding[CRAFTED]
    victim.run("""
        import os, sqlalchemy
        with sqlalchemy.create_engine(os.environ["WORKBENCH_DATA_URL"]).begin() as db:
            db.execute(sqlalchemy.text("CREATE TABLE diary (line text)"))
            db.execute(sqlalchemy.text("INSERT INTO diary VALUES ('mine alone')"))
    """)
    table = seen[VICTIM]["tables"][0]
    assert attempt(attacker, f"import boto3; boto3.client('dynamodb').scan(TableName={table!r})") == \
        "ClientError AccessDeniedException"
    assert attempt(attacker, "import boto3; boto3.client('dynamodb').scan(TableName="
                             f"{seen[CRAFTED]['tables'][0]!r})") == "allowed"  # the probe itself works
    read_diary = ("import os, sqlalchemy; sqlalchemy.create_engine(os.environ['WORKBENCH_DATA_URL']).connect()"
                  f".execute(sqlalchemy.text('SELECT * FROM \"{seen[VICTIM]['schema']}\".diary')).all()")
    assert attempt(attacker, read_diary) == "ProgrammingError 42501"  # permission denied for schema
    assert attempt(victim, read_diary) == "allowed"


@as_root
def test_the_next_user_of_a_deleted_users_name_gets_nothing_of_theirs(hub):
    """carol keeps her database URL and private notes in her home; she is deleted, and someone else later signs up
    as carol. The new carol's database password is a new random one, so the old URL no longer opens the role that
    now holds the new carol's data; and the old carol's files are not in the new carol's home."""
    browser = hub.signup_and_login("carol")
    assert hub.start_server(browser, "carol").ready
    before = server_environment(hub, "carol")
    old = make_url(before["WORKBENCH_DATA_URL"])
    assert len(old.password) >= 32 and "carol" not in old.password  # random, nothing of her name
    note = Path(before["HOME"]) / "private-notes.txt"  # what she wrote there, as her
    note.write_text("the old carol's own notes\n")
    os.chown(note, *pwd_ids(before["USER"]))
    note.chmod(0o600)
    assert hub.hub_api(hub.admin, "DELETE", "/users/carol/server").status_code in (202, 204)
    wait_stopped(hub, hub.admin, "carol")
    deleted = hub.hub_api(hub.admin, "DELETE", "/users/carol")
    assert deleted.status_code == 204, deleted.text

    newcomer = hub.signup_and_login("carol", "another person's password")
    assert hub.start_server(newcomer, "carol").ready
    after = server_environment(hub, "carol")
    new = make_url(after["WORKBENCH_DATA_URL"])
    assert new.username == old.username  # the same name has the same role...
    assert new.password != old.password, "the next user of the name got the deleted user's database password"
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(old.set(drivername="postgresql").render_as_string(hide_password=False)).close()
    readable = sorted(path.name for path in Path(after["HOME"]).iterdir())
    assert "private-notes.txt" not in readable, (
        f"the new carol's server ({after['USER']}) runs in the deleted carol's home: {readable}")


def pwd_ids(account: str) -> tuple[int, int]:
    import pwd

    entry = pwd.getpwnam(account)
    return entry.pw_uid, entry.pw_gid


@as_root
@pytest.mark.parametrize("owner, hub_id", [("mallory", DEFAULT_HUB_ID), ("erin", "another-hub")],
                         ids=["another-user", "another-hubs-user"])
def test_a_stack_with_a_users_name_but_another_owner_is_neither_adopted_nor_deleted(hub, owner, hub_id):
    """A stack already carries the newcomer's playground name: made for someone else (mallory), or for a user of
    the same name on another hub that shares the AWS account (tagged with that hub's id). The newcomer is told,
    and neither their start nor their deletion takes or removes it."""
    newcomer = "dora" if owner == "mallory" else "erin"
    their_names = names.for_user(newcomer)
    request = build_request(names.for_user(owner), DEFAULT_TEMPLATE.read_text(), hub_id)
    made = aws(hub, "cloudformation").create_stack(
        StackName=their_names.stack, TemplateBody=request.template_body,
        Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in request.parameters],
        Tags=[{"Key": key, "Value": value} for key, value in request.tags])["StackId"]
    try:
        wait_for(lambda: (stack_of(hub, made) or {}).get("StackStatus") == "CREATE_COMPLETE", 60, "the stack")
        browser = hub.signup_and_login(newcomer)
        told = what_a_start_shows(hub, browser, newcomer)
        assert f"A stack named {their_names.stack} exists but belongs to {owner}" in told, told
        assert "nothing was changed" in told and "ready" not in told.lower(), told

        assert hub.hub_api(hub.admin, "DELETE", f"/users/{newcomer}").status_code == 204
        stack = stack_of(hub, made)
        assert stack is not None and stack["StackStatus"] == "CREATE_COMPLETE", "deleting the user removed it"
        assert {tag["Key"]: tag["Value"] for tag in stack["Tags"]} == dict(request.tags)
    finally:
        with contextlib.suppress(Exception):
            aws(hub, "cloudformation").delete_stack(StackName=made)


# --- point 7: accounts ------------------------------------------------------------------------------------------

@as_root
def test_nobody_can_sign_up_under_an_administrators_name_in_any_spelling(hub):
    for spelling in ("boss", "Boss", "BOSS"):
        squatter = hub.signup(spelling, "squatters own password")
        assert squatter.status_code == 400 and "reserved for an administrator" in squatter.text, spelling
        _, login = hub.login(spelling, "squatters own password")
        assert login.status_code == 403, f"{spelling}: the squatter's password opened the admin's account"
    # the administrator, whose account the operator made, is the only one in
    assert hub.admin.get(f"{hub.url}/hub/admin", timeout=30).status_code == 200
    assert hub.hub_api(hub.admin, "GET", "/user").json()["admin"] is True


@as_root
def test_guessing_a_password_locks_the_account_on_every_door(hub):
    """Five wrong passwords, at the login page and at the token API's password door, whatever the spelling of the
    name: the account is locked, and the right password then opens neither door."""
    from hub.settings import load

    allowed = load({}).failed_logins_before_lockout
    assert allowed == 5
    hub.signup_and_login("grace", PASSWORD)  # her first login makes her the hub's user

    def token_door(name: str, password: str) -> requests.Response:
        return requests.post(f"{hub.url}/hub/api/users/grace/tokens", timeout=30,
                             json={"auth": {"username": name, "password": password}, "note": "door"})

    opened = token_door("grace", PASSWORD)
    assert opened.status_code in (200, 201) and opened.json()["token"], "the second door is real"
    for guess in range(allowed):
        name = ("grace", "Grace", "GRACE")[guess % 3]
        if guess % 2:
            assert token_door(name, f"guess number {guess}").status_code == 403
        else:
            assert hub.login(name, f"guess number {guess}")[1].status_code == 403

    _, login = hub.login("grace", PASSWORD)
    assert login.status_code == 429 and "Too many failed logins for grace" in login.text
    assert token_door("grace", PASSWORD).status_code == 403
    issued = hub.hub_api(hub.admin, "GET", "/users/grace/tokens").json()["api_tokens"]
    assert [token["note"] for token in issued] == ["door"], "a token was issued to a locked account"


@pytest.fixture
def provider():
    provider = FakeOAuthProvider()
    yield provider
    provider.stop()


def test_a_provider_name_in_other_capitals_does_not_take_over_the_hub_account(start_hub, provider):
    """OIDC usernames are not unique at the provider, and the hub lowercases them: "Zoe" from another account
    (another ``sub``) would be the hub's "zoe". The name stays with the account that first used it."""
    hub = start_hub(
        WORKBENCH_AUTH="oidc", WORKBENCH_OAUTH_CLIENT_ID=provider.CLIENT_ID,
        WORKBENCH_OAUTH_CLIENT_SECRET=provider.CLIENT_SECRET, WORKBENCH_OAUTH_ALLOW_ALL="true",
        WORKBENCH_OIDC_AUTHORIZE_URL=f"{provider.url}/authorize", WORKBENCH_OIDC_TOKEN_URL=f"{provider.url}/token",
        WORKBENCH_OIDC_USERDATA_URL=f"{provider.url}/userinfo", WORKBENCH_PLAYGROUND="false")

    def log_in(person: dict) -> tuple[requests.Session, requests.Response]:
        provider.person = person
        browser = requests.Session()
        return browser, browser.get(f"{hub.url}/hub/oauth_login?next=/hub/home", timeout=60)

    owner, response = log_in({"preferred_username": "zoe", "sub": "u-1"})
    assert response.status_code == 200 and hub.hub_api(owner, "GET", "/user").json()["name"] == "zoe"
    for spelling in ("Zoe", "ZOE"):
        impostor, response = log_in({"preferred_username": spelling, "sub": "u-666"})
        assert response.status_code == 403, f"{spelling} from another account logged in as zoe"
        assert "already belongs to another account" in response.text
        assert hub.hub_api(impostor, "GET", "/user").status_code in (401, 403)
    # an account the provider does not identify is refused too
    nameless, response = log_in({"preferred_username": "yann"})
    assert response.status_code == 403 and "did not say who this account is" in response.text
    # the first account still gets in, whatever capitals the provider sends
    again, response = log_in({"preferred_username": "Zoe", "sub": "u-1"})
    assert response.status_code == 200 and hub.hub_api(again, "GET", "/user").json()["name"] == "zoe"
    pins = json.loads(Path(hub.state_dir / "oauth-identities.json").read_text())
    assert pins == {"zoe": "u-1"}
