"""The Profiler Workbench hub: every choice here comes from a WORKBENCH_* setting (spawner/settings.py).

Run it through ``make hub`` (or ``python -m spawner.run``), which installs what is needed and starts
``jupyterhub -f hub/jupyterhub_config.py`` from the state folder.
"""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import nativeauthenticator

from spawner import dashboards, database, local_aws, user_server_files
from spawner.userdata import UserDataSpawnerMixin, server_home
from spawner.settings import load

c = get_config()  # noqa: F821 - provided by JupyterHub when it loads this file


def database_secret(path: Path) -> bytes:
    """The secret user database passwords derive from: made once, kept private in the state folder."""
    if not path.exists():
        path.touch(mode=0o600)
        path.write_bytes(secrets.token_bytes(32))
    return path.read_bytes()


settings = load()
repo = settings.repo_root
state = settings.state_path
state.mkdir(parents=True, exist_ok=True)

# --- where things listen and what they keep -------------------------------------------------------------------
c.JupyterHub.ip = settings.ip
c.JupyterHub.port = settings.port
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = settings.hub_port
c.JupyterHub.db_url = settings.db_url or f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")

# The npm proxy streams the spawn-progress events; the PyPI package of the same name buffers them (FINDINGS).
c.ConfigurableHTTPProxy.command = [str(repo / "node_modules" / ".bin" / "configurable-http-proxy")]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings.proxy_api_port}"
c.ConfigurableHTTPProxy.pid_file = str(state / "jupyterhub-proxy.pid")

notebooks = repo / "notebooks"
offered_dashboards = dashboards.load_manifest(notebooks / "dashboards.json")
c.JupyterHub.template_vars = {"workbench_dashboards": offered_dashboards}
c.JupyterHub.template_paths = [
    str(repo / "hub" / "templates"),
    str(Path(nativeauthenticator.__file__).parent / "templates"),
]

# --- login ----------------------------------------------------------------------------------------------------
c.Authenticator.admin_users = set(settings.admin_users.split(",")) - {""}

if settings.auth == "local":
    c.JupyterHub.authenticator_class = "spawner.auth.WorkbenchAuthenticator"
    c.NativeAuthenticator.enable_signup = True
    c.NativeAuthenticator.open_signup = settings.open_signup
    c.NativeAuthenticator.minimum_password_length = settings.min_password_length
    c.NativeAuthenticator.check_common_password = True
    # Who may log in is decided by the sign-up approval itself (open sign-up or an admin's approval).
    c.Authenticator.allow_all = True
    c.JupyterHub.template_vars["workbench_signup_url"] = "/hub/signup"
else:
    from spawner.oauth import configure_oauth

    configure_oauth(c, settings)

# --- local AWS (moto) as a hub-managed service ------------------------------------------------------------------
aws_endpoint = settings.effective_aws_endpoint
c.JupyterHub.services = []
if settings.local_aws and not settings.aws_endpoint_url:
    c.JupyterHub.services.append(local_aws.service_definition(settings.local_aws_port))
    # moto accepts any key; giving the hub fixed fake ones keeps boto3 from looking for real ones.
    for name, value in local_aws.FAKE_HUB_CREDENTIALS.items():
        os.environ.setdefault(name, value)
os.environ.setdefault("AWS_DEFAULT_REGION", settings.aws_region)

# --- user servers -----------------------------------------------------------------------------------------------
if settings.spawner == "system-users":
    from jupyterhub.spawner import LocalProcessSpawner as base_spawner
else:
    from jupyterhub.spawner import SimpleLocalProcessSpawner as base_spawner

    c.SimpleLocalProcessSpawner.home_dir_template = str(state / "users" / "{username}")
    if os.geteuid() == 0:
        # A single-user server refuses to run as root without it, and the hub would only notice after
        # http_timeout (FINDINGS).
        c.Spawner.args = ["--allow-root"]

# Each user's server is composed: their database space, their AWS playground (unless turned off), the base.
layers = [UserDataSpawnerMixin]
if settings.playground:
    from spawner.playground import PlaygroundSpawnerMixin

    layers.append(PlaygroundSpawnerMixin)
    c.PlaygroundSpawnerMixin.aws_region = settings.aws_region
    c.PlaygroundSpawnerMixin.aws_endpoint_url = aws_endpoint or ""
    c.PlaygroundSpawnerMixin.hub_id = settings.hub_id
    c.PlaygroundSpawnerMixin.retention = settings.playground_retention
    c.PlaygroundSpawnerMixin.playground_timeout = max(60, settings.start_timeout - 120)
    c.PlaygroundSpawnerMixin.credentials_dir = str(state / "credentials")
    c.JupyterHub.services.append(
        {
            "name": "playground-reaper",
            "command": [
                sys.executable, "-m", "spawner.reaper", "--interval", str(settings.reaper_interval),
                "--hub-id", settings.hub_id, "--region", settings.aws_region,
                *(["--endpoint-url", aws_endpoint] if aws_endpoint else []),
                *(["--delete-idle"] if settings.playground_retention == "delete" else []),
            ],
            # a managed service starts with an almost empty environment: hand it the hub's AWS access
            "environment": {name: value for name, value in os.environ.items() if name.startswith("AWS_")},
            "display": False,
        }
    )
    c.JupyterHub.load_roles = [
        {
            "name": "playground-reaper",
            "services": ["playground-reaper"],
            "scopes": ["list:users", "read:users:name", "read:servers"],
        }
    ]
c.JupyterHub.spawner_class = type("WorkbenchSpawner", (*layers, base_spawner), {"__module__": __name__})

# --- workbench data: the built-in models, installed before anyone logs in (idempotent) -------------------------
if settings.data_admin_url:
    database.prepare_database(settings.data_admin_url)
    c.UserDataSpawnerMixin.data_admin_url = settings.data_admin_url
    c.UserDataSpawnerMixin.data_password_secret = database_secret(state / "workbench-data-secret")
    builtin_target, install_builtins = settings.data_admin_url, True
else:
    builtin_file = state / "builtin.sqlite"
    c.UserDataSpawnerMixin.builtin_data_file = str(builtin_file)
    builtin_target, install_builtins = f"sqlite:///{builtin_file}", not builtin_file.exists()
if install_builtins:
    command = database.builtin_install_command(builtin_target, messages=settings.builtin_messages or None)
    subprocess.run(command, check=True)

# The server runs in this same environment, whatever PATH the hub was started with.
c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]
c.Spawner.default_url = "/lab"
# The user-server configuration shipped with the repository (spawner/user_server_files.py), and which dashboards'
# kernels to preheat.
c.Spawner.environment = {
    **user_server_files.jupyter_environment(repo),
    **dashboards.preheat_environment(offered_dashboards, settings.dashboard_pool_size),
}
c.Spawner.start_timeout = settings.start_timeout
c.Spawner.http_timeout = settings.http_timeout
wait_for_aws = local_aws.wait_until_healthy_hook(aws_endpoint) if aws_endpoint else None


async def before_each_start(spawner):
    """Put the dashboards in the user's server and, with local AWS, wait until it answers."""
    home = server_home(spawner)
    if home:
        dashboards.install(offered_dashboards, notebooks, home)
    else:
        spawner.log.warning("No home folder known for %s: dashboards not installed", spawner.user.name)
    if wait_for_aws:
        await wait_for_aws(spawner)


# --- sharing dashboards -----------------------------------------------------------------------------------------
# A published dashboard is the named server dash-<notebook stem>, restricted to that one Voila page; owners share
# it through JupyterHub's sharing API (spawner/sharing.py says what is and is not reachable).
from tornado.web import HTTPError  # noqa: E402

from spawner import hub_sharing, sharing  # noqa: E402

c.JupyterHub.allow_named_servers = True
c.JupyterHub.extra_user_scopes = set(sharing.SHARING_SCOPES)
# Group shares reach members' servers, and only published dashboards can be shared (spawner/hub_sharing.py).
hub_sharing.install(offered_dashboards)
c.JupyterHub.template_vars["workbench_shared_with_me"] = sharing.shared_with_me(offered_dashboards, "/")
c.JupyterHub.template_vars["workbench_publications"] = sharing.my_publications(offered_dashboards)
c.JupyterHub.template_vars["workbench_share_revocation_seconds"] = settings.share_revocation_seconds


async def before_each_start_publishing(spawner):
    """Servers named dash-* start as their dashboard only; every server gets the usual preparation first."""
    try:
        dashboard = sharing.published_dashboard(spawner.name, offered_dashboards)
    except sharing.PublishError as error:
        raise HTTPError(400, str(error)) from None  # shown to the person, not a bare "Internal Server Error"
    await before_each_start(spawner)
    if dashboard is None:
        return
    published = sharing.published_server(dashboard, settings.share_revocation_seconds, settings.dashboard_pool_size)
    # the spawner object lives on across restarts of this server: add the arguments once
    spawner.args = [*(arg for arg in spawner.args if arg not in published.args), *published.args]
    spawner.environment = {**spawner.environment, **published.environment}
    spawner.default_url = published.default_url


c.Spawner.pre_spawn_hook = before_each_start_publishing
