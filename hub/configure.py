"""``configure_*(c, settings)``: the settings turned into JupyterHub's, the authenticator's and the spawner's
traits. Each function only assigns configuration: nothing here touches a file, a database, the process
environment or the network (provisioning does that, before the hub starts: :mod:`hub.services.provisioning`).
Two hooks register code in the hub's own process, as configuration of what it serves: the sharing rules
(:func:`hub.sharing.rules.install`) and the metrics collector (:func:`hub.metrics.install`, whose probe of the
local AWS runs on the hub's event loop, never at load time outside a running hub).

May import :mod:`hub` modules and :mod:`spawner` (whose classes it configures); never the user side.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nativeauthenticator
from traitlets.config import LazyConfigValue

from hub import metrics
from hub.auth.oauth import configure_oauth
from hub.services import culler, local_aws, provisioning, reaper
from hub.settings import LOCAL_AS_ROOT, WorkbenchSettings
from hub.sharing import pages, publishing, rules
from spawner import dashboards

TEMPLATES = Path(__file__).resolve().parent / "templates"
NOT_ISOLATED = (
    "Every user's server on this hub runs as one system account: users are <b>not isolated</b> from each other "
    "or from the hub. Use it only with people you trust (an operator isolates them with "
    "<code>WORKBENCH_SPAWNER=system-users</code>)."
)
# Entry points of the `jupyterhub.spawners` group (pyproject.toml), by the `spawner` setting.
SPAWNERS = {"local": "workbench-shared-account", "system-users": "workbench-system-users",
            "kubernetes": "workbench-kubernetes"}


def offered_dashboards() -> list[dashboards.Dashboard]:
    return dashboards.load_manifest(dashboards.shipped_manifest())


def configure_network(c, settings: WorkbenchSettings) -> None:
    """Where the hub and its proxy listen, and what they keep in the state folder."""
    state = settings.state_path
    c.JupyterHub.ip = settings.ip
    c.JupyterHub.port = settings.port
    if settings.user_subdomains:
        c.JupyterHub.subdomain_host = settings.public_url
    else:
        c.JupyterHub.public_url = settings.public_url + "/"
    c.JupyterHub.hub_ip = "127.0.0.1"
    c.JupyterHub.hub_port = settings.hub_port
    c.JupyterHub.db_url = settings.hub_db_url
    # A newer release of the hub migrates the hub database of an older one at start (JupyterHub's upgrade-db;
    # a SQLite database is copied aside first), instead of refusing to start.
    c.JupyterHub.upgrade_db = True
    c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
    c.ConfigurableHTTPProxy.command = [settings.proxy_executable() or settings.proxy_command]
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings.proxy_api_port}"
    c.ConfigurableHTTPProxy.pid_file = str(state / "jupyterhub-proxy.pid")


def configure_pages(c, settings: WorkbenchSettings) -> None:
    """The home page's dashboards and shares, over nativeauthenticator's sign-up pages."""
    offered = offered_dashboards()
    c.JupyterHub.template_paths = [str(TEMPLATES), str(Path(nativeauthenticator.__file__).parent / "templates")]
    c.JupyterHub.template_vars = {
        "workbench_dashboards": offered,
        "workbench_studies": dashboards.load_studies(dashboards.shipped_manifest()),
        "workbench_shared_with_me": pages.shared_with_me(offered, "/"),
        "workbench_publications": pages.my_publications(offered),
        "workbench_share_revocation_seconds": settings.share_revocation_seconds,
        "workbench_dashboard_max_viewers": settings.dashboard_max_viewers,
        "workbench_everyone_group": rules.EVERYONE,
        "workbench_server_memory_limit": settings.server_memory_limit,
        **({"workbench_signup_url": "/hub/signup"} if settings.auth == "local" else {}),
        # JupyterHub shows it on every page: sign-up, login, home and admin included
        **({} if settings.isolated else {"announcement": NOT_ISOLATED}),
    }


def configure_login(c, settings: WorkbenchSettings) -> None:
    c.Authenticator.admin_users = set(settings.admin_users)
    if settings.auth != "local":
        configure_oauth(c, settings)
        return
    c.JupyterHub.authenticator_class = "hub.auth.local.WorkbenchAuthenticator"
    c.NativeAuthenticator.enable_signup = True
    c.NativeAuthenticator.open_signup = settings.effective_open_signup
    c.NativeAuthenticator.minimum_password_length = settings.min_password_length
    c.NativeAuthenticator.check_common_password = True
    c.NativeAuthenticator.allowed_failed_logins = settings.failed_logins_before_lockout
    c.NativeAuthenticator.seconds_before_next_try = settings.lockout_seconds
    # Who may log in is decided by the sign-up approval itself (open sign-up or an admin's approval).
    c.Authenticator.allow_all = True


def configure_services(c, settings: WorkbenchSettings) -> None:
    """The managed services: the local AWS (when the hub runs its own) and the playground reaper; what a restart
    leaves running."""
    c.JupyterHub.services = []
    c.JupyterHub.load_roles = []
    c.WorkbenchHub.keep_servers_on_restart = settings.keep_servers_on_restart
    if settings.runs_local_aws:
        c.JupyterHub.services.append(local_aws.service_definition(settings.local_aws_port, settings.state_path))
    if settings.playground:
        c.JupyterHub.services.append(reaper.service_definition(settings))
        c.JupyterHub.load_roles.append(reaper.ROLE)
    culler.configure(c, settings)
    # JupyterHub's default, said here because the workbench adds per-user metrics to the page: a token or login
    # holding read:metrics only
    c.JupyterHub.authenticate_prometheus = True
    metrics.install(f"http://127.0.0.1:{settings.local_aws_port}" if settings.runs_local_aws else None)


def configure_spawner(c, settings: WorkbenchSettings) -> None:
    """Each user's server: their data space, their playground and the dashboards, over the chosen base."""
    state = settings.state_path
    c.JupyterHub.spawner_class = SPAWNERS[settings.spawner]
    c.JupyterHub.allow_named_servers = True
    c.JupyterHub.named_server_limit_per_user = settings.named_servers_per_user
    # The server runs in this same environment, whatever PATH the hub was started with.
    c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]
    # People land on the hub's home page after login, where the dashboards are (it also opens JupyterLab); the
    # server's own address, /user/NAME/, still opens JupyterLab.
    c.JupyterHub.redirect_to_server = False
    c.Spawner.default_url = "/lab"
    c.Spawner.start_timeout = settings.start_timeout
    c.Spawner.http_timeout = settings.http_timeout
    # JupyterHub's own names for these two limits, which KubeSpawner honours as well
    c.Spawner.mem_limit = settings.server_memory_limit or None
    c.Spawner.cpu_limit = settings.server_cpu_limit or None
    if settings.spawner == "local":
        if os.geteuid() == 0:
            raise ValueError(LOCAL_AS_ROOT)
        c.SimpleLocalProcessSpawner.home_dir_template = str(state / "users" / "{username}")
    else:
        c.SystemAccountSpawnerMixin.homes_dir = settings.homes_dir
        c.SystemAccountSpawnerMixin.account_prefix = settings.account_prefix
        c.SystemAccountSpawnerMixin.account_hub_id = settings.hub_id
        c.SystemAccountSpawnerMixin.max_processes = settings.server_max_processes
        c.SystemAccountSpawnerMixin.max_open_files = settings.server_max_open_files

    c.WorkbenchSpawnerMixin.dashboard_pool_size = settings.dashboard_pool_size
    c.WorkbenchSpawnerMixin.dashboard_warming = settings.dashboard_warming
    c.WorkbenchSpawnerMixin.preheat_busy_threshold = settings.preheat_busy_threshold
    c.WorkbenchSpawnerMixin.preheat_release_after = settings.preheat_release_after
    c.WorkbenchSpawnerMixin.share_revocation_seconds = settings.share_revocation_seconds
    c.WorkbenchSpawnerMixin.dashboard_max_viewers = settings.dashboard_max_viewers

    c.PlaygroundSpawnerMixin.playground_enabled = settings.playground
    c.PlaygroundSpawnerMixin.aws_region = settings.aws_region
    c.PlaygroundSpawnerMixin.aws_endpoint_url = settings.effective_aws_endpoint or ""
    c.PlaygroundSpawnerMixin.hub_id = settings.hub_id
    c.PlaygroundSpawnerMixin.retention = settings.playground_retention
    c.PlaygroundSpawnerMixin.vpc_id = settings.playground_vpc_id
    c.PlaygroundSpawnerMixin.subnet_ids = list(settings.playground_subnet_ids)
    c.PlaygroundSpawnerMixin.permissions_boundary = settings.playground_permissions_boundary
    c.PlaygroundSpawnerMixin.playground_timeout = max(60, settings.start_timeout - 120)
    c.PlaygroundSpawnerMixin.credentials_dir = str(state / "credentials")

    if settings.data_admin_url:
        c.UserDataSpawnerMixin.data_admin_url = settings.data_admin_url
        c.UserDataSpawnerMixin.data_passwords_dir = str(provisioning.data_passwords_dir(settings))
    else:
        c.UserDataSpawnerMixin.builtin_data_file = str(provisioning.builtin_file(settings))


def configure_kubernetes(c, settings: WorkbenchSettings) -> None:
    """The hub as Zero to JupyterHub runs it: ``hub.extraConfig`` in deploy/kubernetes/values.yaml calls this after
    the chart's own configuration, which has set the proxy, the hub's addresses, its database and cookie secret,
    the culler (``cull.*``) and the image. This adds the workbench's login, pages, sharing, services and spawner."""
    if settings.spawner != "kubernetes":
        raise ValueError("On Kubernetes set WORKBENCH_SPAWNER=kubernetes (users' servers are pods)")
    if settings.runs_local_aws:
        raise ValueError("On Kubernetes set WORKBENCH_LOCAL_AWS=false: playgrounds are made in real AWS with the "
                         "hub's service-account role")
    if not settings.data_admin_url:
        raise ValueError("On Kubernetes set WORKBENCH_DATA_ADMIN_URL: users' data lives in PostgreSQL (a pod has "
                         "no place for the SQLite files)")
    configure_login(c, settings)
    configure_pages(c, settings)
    configure_sharing(c, settings)
    if settings.playground:
        c.JupyterHub.services.append(reaper.service_definition(settings))
        c.JupyterHub.load_roles.append(reaper.ROLE)
    culler.configure(c, settings)  # servers and kernels alike (the chart's own culler is left off)
    metrics.install(None)  # users' servers are pods: the cluster's metrics have their memory
    configure_kubernetes_spawner(c, settings)


def configure_kubernetes_spawner(c, settings: WorkbenchSettings) -> None:
    """The spawner part of :func:`configure_kubernetes`. The chart writes its values into the ``KubeSpawner``
    section, which outranks ``Spawner``: what the workbench's settings decide is written there too."""
    from spawner import kube

    configure_spawner(c, settings)
    chart_environment = _config_dict(c.KubeSpawner.get("environment", {}))
    c.Spawner.cmd = list(kube.SERVER_COMMAND)  # the image's server, not this interpreter
    c.KubeSpawner.start_timeout = settings.start_timeout
    c.KubeSpawner.mem_limit = settings.server_memory_limit or None
    c.KubeSpawner.cpu_limit = settings.server_cpu_limit or None
    c.KubeSpawner.mem_guarantee = settings.server_memory_request or None
    c.KubeSpawner.cpu_guarantee = settings.server_cpu_request or None
    c.KubeSpawner.environment = {**chart_environment, **_config_dict(c.Spawner.get("environment", {}))}


def _config_dict(value) -> dict:
    """A dict from configuration, which holds a LazyConfigValue where only .update() was called."""
    return value.get_value({}) if isinstance(value, LazyConfigValue) else dict(value)


def configure_sharing(c, settings: WorkbenchSettings) -> None:
    """Users may share their published dashboards, and only those: the rules of :mod:`hub.sharing.rules` are
    put into this process's JupyterHub (in memory, before it builds its routes)."""
    c.JupyterHub.extra_user_scopes = set(pages.SHARING_SCOPES)
    rules.install(offered_dashboards())
    # a page of the hub's own (deprecated in favour of services, but publishing needs the hub's root to copy as
    # the owner, and its own database to record the publication on the server)
    c.JupyterHub.extra_handlers = publishing.handlers(offered_dashboards(), settings.own_dashboards_per_user)
