"""Every deployment option of the hub, declared once: its type, default and meaning.

:class:`WorkbenchSettings` is a traitlets ``Configurable``, as every JupyterHub option is. Each option is fed by
the environment variable ``WORKBENCH_<NAME>`` (read once, by :func:`load`), and the configuration functions in
:mod:`hub.configure` turn the result into JupyterHub's and the spawner's traits. Lists are comma-separated and
parsed here only; secrets are tagged and masked whenever settings are shown (:func:`describe`). README.md's
settings table is :func:`markdown_table` (``workbench settings --markdown``); a test keeps the two in step.

Options that configure a spawner trait take that trait's default, so each default is written once. May import
traitlets and :mod:`spawner` (for those defaults); reading settings changes nothing anywhere.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Iterator, Mapping
from urllib.parse import unquote_plus, urlsplit, urlunsplit

from jupyterhub.traitlets import ByteSpecification
from traitlets import Bool, CaselessStrEnum, Float, Integer, List, TraitError, TraitType, Unicode, default, validate
from traitlets.config import Configurable

from spawner import names
from spawner.playground import PlaygroundSpawnerMixin
from spawner.workbench import SystemAccountSpawnerMixin, WorkbenchSpawnerMixin

PREFIX = "WORKBENCH_"
MASK = "********"


LOCAL_AS_ROOT = (
    "WORKBENCH_SPAWNER=local runs every user's server as the hub's own account, which is root here: users' code "
    "would run as root. As root keep the default (system-users: an account of their own per user), or start the "
    "hub as an unprivileged account."
)


class SettingsError(ValueError):
    """A WORKBENCH_* variable holds a value that cannot be used; the message names it."""


def _port(value: int, help: str) -> Integer:
    return Integer(value, min=1, max=65535, help=help).tag(config=True, port=True)


def _names(help: str) -> List:
    return List(Unicode(), help=help).tag(config=True)


def default_state_dir(euid: int | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """Where a hub keeps its state unless told: never inside the installed code or a checkout."""
    environ = os.environ if environ is None else environ
    if (os.geteuid() if euid is None else euid) == 0:
        return Path("/var/lib/profiler-workbench")
    base = environ.get("XDG_STATE_HOME") or str(Path(environ.get("HOME") or Path.home()) / ".local" / "state")
    return Path(base) / "profiler-workbench"


class WorkbenchSettings(Configurable):
    """The options an operator of a Profiler Workbench hub turns."""

    # --- where the hub listens and what it keeps ------------------------------------------------------------
    ip = Unicode("127.0.0.1", help="Address the public proxy listens on.").tag(config=True)
    port = _port(8000, "Public port: the address people open in a browser.")
    hub_port = _port(8081, "Port of the hub's own API behind the proxy.")
    public_url = Unicode(
        help="The address people open, without a trailing slash. With `user_subdomains`, each user's servers "
        "are served from `<user>.<its host>` (JupyterHub's subdomain_host): production needs a wildcard DNS name "
        "and a wildcard TLS certificate for it, e.g. `https://workbench.example.org` with "
        "`*.workbench.example.org`.",
    ).tag(config=True, default_text="http://hub.localhost:PORT with user_subdomains, else http://IP:PORT")
    user_subdomains = Bool(
        True,
        help="Serve each user's servers from an origin of their own (`alice.hub.localhost` locally: browsers resolve "
        "every *.localhost name to this machine), so a page one user publishes cannot act with a viewer's login "
        "on the hub or on the viewer's own server. Off: every server shares the hub's origin.",
    ).tag(config=True)
    proxy_api_port = _port(8001, "Port of the proxy's REST API (hub to proxy).")
    proxy_command = Unicode(
        "configurable-http-proxy",
        help="The npm `configurable-http-proxy` (its PyPI namesake buffers the spawn-progress stream). A bare "
        "name is looked up on PATH, then in ./node_modules/.bin (where `make hub` installs it).",
    ).tag(config=True)
    state_dir = Unicode(
        help="Folder for the hub's runtime state: its database, cookie secret, the users' credentials and "
        "(shared-account mode) home folders. Default: /var/lib/profiler-workbench as root, "
        "~/.local/state/profiler-workbench otherwise; never inside the code.",
    ).tag(config=True, default_text="/var/lib/profiler-workbench (root), ~/.local/state/profiler-workbench")
    db_url = Unicode(
        "",
        help="Hub database URL. Empty: a SQLite file in the state folder. Production: a PostgreSQL URL.",
    ).tag(config=True, secret_url=True)

    # --- login ------------------------------------------------------------------------------------------------
    auth = CaselessStrEnum(
        ["local", "github", "oidc"],
        "local",
        help="How people log in: `local` (sign-up page and passwords kept hashed by the hub), `github` or "
        "`oidc` (OAuth through oauthenticator).",
    ).tag(config=True)
    open_signup = Bool(
        None,
        allow_none=True,
        help="Local login: `true`, accounts made at /hub/signup can log in at once; `false`, an admin approves "
        "each one at /hub/authorize first. Unset: open only when every user's server runs as their own system "
        "account (`WORKBENCH_SPAWNER=system-users`); while servers share one account users are not isolated, so "
        "strangers are not let in unless this is set to `true`.",
    ).tag(config=True, default_text="unset")
    min_password_length = Integer(8, min=1, help="Local login: the shortest password sign-up accepts.").tag(
        config=True
    )
    failed_logins_before_lockout = Integer(
        5,
        min=0,
        help="Local login: after this many failed logins in a row an account is locked for `lockout_seconds` "
        "(then each further failure locks it again). 0: never locked.",
    ).tag(config=True)
    lockout_seconds = Integer(
        600, min=1, help="Local login: how long an account stays locked after too many failed logins."
    ).tag(config=True)
    admin_users = _names("Comma-separated usernames that are hub admins.")
    oauth_client_id = Unicode("", help="OAuth: the client id registered with the provider.").tag(config=True)
    oauth_client_secret = Unicode("", help="OAuth: the client secret registered with the provider.").tag(
        config=True, secret=True
    )
    oauth_callback_url = Unicode(
        "",
        help="OAuth: the callback URL registered with the provider. Empty: http://IP:PORT/hub/oauth_callback.",
    ).tag(config=True)
    oauth_allowed_users = _names("OAuth: comma-separated usernames allowed to log in.")
    oauth_allow_all = Bool(
        False,
        help="OAuth: let every account the provider authenticates log in (otherwise only the allowed users, "
        "organisations or groups).",
    ).tag(config=True)
    github_url = Unicode(
        "https://github.com", help="GitHub: the server to log in with (GitHub Enterprise: its URL)."
    ).tag(config=True)
    github_allowed_organizations = _names("GitHub: comma-separated organisations whose members may log in.")
    oidc_authorize_url = Unicode("", help="OIDC: the provider's authorization endpoint.").tag(config=True)
    oidc_token_url = Unicode("", help="OIDC: the provider's token endpoint.").tag(config=True)
    oidc_userdata_url = Unicode("", help="OIDC: the provider's userinfo endpoint.").tag(config=True)
    oidc_scopes = List(
        Unicode(), ["openid", "profile", "email"], help="OIDC: comma-separated scopes to request."
    ).tag(config=True)
    oidc_username_claim = Unicode(
        "preferred_username", help="OIDC: the userinfo claim that becomes the username."
    ).tag(config=True)
    oauth_identity_claim = Unicode(
        "",
        help="OAuth: the user-info field that identifies an account for good, to which each hub name is pinned "
        "at its first login (a later login under that name by another account is refused). Empty: `id` for "
        "GitHub, `sub` for OIDC.",
    ).tag(config=True)
    oidc_groups_claim = Unicode("groups", help="OIDC: the userinfo claim that lists the user's groups.").tag(
        config=True
    )
    oidc_allowed_groups = _names("OIDC: comma-separated groups whose members may log in.")
    oidc_admin_groups = _names("OIDC: comma-separated groups whose members are hub admins.")

    # --- AWS ----------------------------------------------------------------------------------------------------
    local_aws = Bool(
        True,
        help="Start a moto server as local AWS (a hub-managed service) and point every AWS client at it. "
        "`false`: real AWS, with the hub's credentials from the usual boto3 sources.",
    ).tag(config=True)
    local_aws_port = _port(5000, "Port of the local AWS (moto) server.")
    aws_region = Unicode(PlaygroundSpawnerMixin.aws_region.default_value, help="AWS region of the playgrounds.").tag(
        config=True
    )
    aws_endpoint_url = Unicode(
        "", help="AWS endpoint override. Empty: the local AWS when it is on, real AWS otherwise."
    ).tag(config=True)

    # --- playgrounds --------------------------------------------------------------------------------------------
    playground = Bool(
        True,
        help="Create each user's AWS playground (a CloudFormation stack from stacks/playground.yaml) when their "
        "server starts. `false`: servers start without one.",
    ).tag(config=True)
    playground_retention = CaselessStrEnum(
        PlaygroundSpawnerMixin.retention.values,
        PlaygroundSpawnerMixin.retention.default_value,
        help="When a user's server stops: `keep` their playground (tables and data survive until the next "
        "login) or `delete` it. Deleting a user from the hub always deletes theirs.",
    ).tag(config=True)
    hub_id = Unicode(
        PlaygroundSpawnerMixin.hub_id.default_value,
        help="Tag that marks the playgrounds of this hub; the orphan reaper only touches stacks with this tag, "
        "so hubs sharing one AWS account need different ids.",
    ).tag(config=True)
    playground_vpc_id = Unicode(
        PlaygroundSpawnerMixin.vpc_id.default_value,
        help="On AWS with stacks/deployment.yaml: its `VpcId` output, so each playground makes its target group in "
        "the deployment's VPC. Empty: each playground makes a minimal VPC of its own.",
    ).tag(config=True)
    playground_subnet_ids = _names(
        "On AWS with stacks/deployment.yaml: its `PrivateSubnetIds` output (comma-separated), handed to each "
        "playground with `playground_vpc_id`."
    )
    playground_permissions_boundary = Unicode(
        PlaygroundSpawnerMixin.permissions_boundary.default_value,
        help="On AWS with stacks/deployment.yaml: its `PlaygroundPermissionsBoundaryArn` output, the permissions "
        "boundary each playground's server role carries (the deployment's hub role may create no role without "
        "it). Empty: none.",
    ).tag(config=True)
    reaper_interval = Integer(
        600,
        min=1,
        help="Seconds between two passes of the playground reaper (a hub-managed service) that deletes stacks "
        "of deleted users, broken or stuck stacks, and what the backend left behind.",
    ).tag(config=True)

    # --- workbench data -----------------------------------------------------------------------------------------
    data_admin_url = Unicode(
        "",
        help="SQLAlchemy URL of the workbench's PostgreSQL database with an admin role (superuser, or "
        "CREATEROLE as on RDS/Aurora; the database may be on another host). Set: one role + schema per user "
        "and a read-only `builtin` schema. Empty: SQLite files (one per user, a read-only built-in file).",
    ).tag(config=True, secret_url=True)
    builtin_messages = Integer(
        5000,
        min=0,
        help="Messages in the built-in conversations dataset installed when the hub starts (0: none). "
        "Re-running with the same size adds nothing.",
    ).tag(config=True)

    # --- users' servers -----------------------------------------------------------------------------------------
    spawner = CaselessStrEnum(
        ["local", "system-users", "kubernetes"],
        help="Base of each user's server: `system-users` (a process run as a system account of the user's own, "
        "made on their first login: needs the hub to run as root), `kubernetes` (a pod of the user's own through "
        "KubeSpawner, for a hub deployed with Zero to JupyterHub) or `local` (a process run as the hub's own "
        "account: users are not isolated; for one person's laptop, and refused as root, which would run users' "
        "code as root).",
    ).tag(config=True, default_text="system-users as root, local otherwise")
    homes_dir = Unicode(
        SystemAccountSpawnerMixin.homes_dir.default_value,
        help="`system-users`: folder of the users' homes, one `<homes_dir>/<account>` (mode 0700) each; it must "
        "be root's and traversable by others.",
    ).tag(config=True)
    account_prefix = Unicode(
        SystemAccountSpawnerMixin.account_prefix.default_value,
        help="`system-users`: start of each user's system account name (`wb-alice`): a lowercase letter, up to 10 "
        "more letters or digits, and a hyphen. Changing it gives everyone new, empty accounts.",
    ).tag(config=True)
    server_memory_limit = Unicode(
        "4G",
        help="Memory one user's server may use, its kernels included (K, M, G or T suffix; empty: no limit). "
        "Enforced by a control group with `system-users`, by the pod's limit on Kubernetes.",
    ).tag(config=True)
    server_cpu_limit = Float(
        2.0,
        min=0.0,
        help="CPUs one user's server may use at once (0: no limit). Enforced like the memory limit.",
    ).tag(config=True)
    server_memory_request = Unicode(
        "1G",
        help="`kubernetes`: memory reserved for each user's server when its pod is scheduled (the pod's memory "
        "request; K, M, G or T suffix; empty: none). Nodes are filled by requests, limits may overcommit them.",
    ).tag(config=True)
    server_cpu_request = Float(
        0.5,
        min=0.0,
        help="`kubernetes`: CPUs reserved for each user's server when its pod is scheduled (its CPU request; 0: none).",
    ).tag(config=True)
    server_max_processes = Integer(
        SystemAccountSpawnerMixin.max_processes.default_value,
        min=0,
        help="`system-users`: processes and threads one server may run at once, kernels included (0: no limit).",
    ).tag(config=True)
    server_max_open_files = Integer(
        SystemAccountSpawnerMixin.max_open_files.default_value,
        min=0,
        help="`system-users`: open files per process of a server (0: the system's default).",
    ).tag(config=True)
    named_servers_per_user = Integer(
        10,
        min=0,
        help="Named servers a user may have at once, published dashboards (one each) included; one more is "
        "refused with a message. 0: no limit.",
    ).tag(config=True)
    start_timeout = Integer(
        900,
        min=1,
        help="Seconds a user's server (playground included) may take to start: CloudFormation needs minutes, "
        "not JupyterHub's 60 s default.",
    ).tag(config=True)
    http_timeout = Integer(120, min=1, help="Seconds the hub waits for a started server to answer HTTP.").tag(
        config=True
    )
    dashboard_pool_size = Integer(
        WorkbenchSpawnerMixin.dashboard_pool_size.default_value,
        min=0,
        help="Kernels kept ready per dashboard in each user's server, each having already run its dashboard, so "
        "a page load only sends the rendered page (Voila kernel preheating). Each costs one idle kernel's "
        "memory per dashboard per running server; a page load takes one and a new one starts a second later. "
        "0 turns preheating off.",
    ).tag(config=True)
    dashboard_warming = CaselessStrEnum(
        WorkbenchSpawnerMixin.dashboard_warming.values,
        default_value=WorkbenchSpawnerMixin.dashboard_warming.default_value,
        help="How each user's server keeps dashboards quick to open. 'pools': dashboard_pool_size kernels per "
        "dashboard, each having already run it (a page only sends the rendered notebook; five kernels per "
        "server, about 70 MiB each). 'kernels': dashboard_pool_size kernels in all that imported the "
        "dashboards' code and run whichever dashboard is opened (one kernel per server; a page also waits for "
        "its notebook's cells). Either way they start when the machine is quiet and yield to people's work.",
    ).tag(config=True)

    preheat_busy_threshold = Float(
        None,
        allow_none=True,
        min=0.0,
        max=1.0,
        help="Share of the machine's CPU time in use (all CPUs) above which users' servers wait to start their "
        "dashboard kernels (for at most PreheatingKernelManager.max_wait), so preheating never slows a login or a "
        "page: 1 never waits. Unset: the users' server's own default (PreheatingKernelManager.busy_threshold, "
        "user_server/voila_preheat.py).",
    ).tag(config=True, default_text="unset")

    preheat_release_after = Float(
        None,
        allow_none=True,
        min=0.0,
        help="Seconds without use of a user's server (no request, no dashboard page, no kernel at work) after "
        "which the kernels it keeps ready for the dashboards are shut down, until the person uses it again: an "
        "idle person then costs only their server. 0: kept as long as the server runs. Unset: the users' "
        "server's own default (PreheatingKernelManager.release_after, user_server/idle_release.py).",
    ).tag(config=True, default_text="unset")

    # --- sharing dashboards -------------------------------------------------------------------------------------
    share_revocation_seconds = Integer(
        WorkbenchSpawnerMixin.share_revocation_seconds.default_value,
        min=1,
        help="How long a published dashboard's server trusts the hub's word that someone may view it: after a "
        "share is revoked, a viewer who already opened the dashboard is refused within this many seconds "
        "(JupyterHub's default is 300). Lower means more requests to the hub.",
    ).tag(config=True)

    dashboard_max_viewers = Integer(
        WorkbenchSpawnerMixin.dashboard_max_viewers.default_value,
        min=0,
        help="Viewers one published dashboard serves at once: each open page is a kernel of the owner's, in the "
        "dashboard server's memory limit. One more is shown a page saying the dashboard is full and to try again "
        "later. 0: no limit.",
    ).tag(config=True)

    own_dashboards_per_user = Integer(
        5,
        min=0,
        help="How many of their own notebooks one person may publish as dashboards at once (each is a named server, "
        "counted in named_servers_per_user too); publishing one more is refused with a message until they "
        "unpublish one. 0: no limit of its own.",
    ).tag(config=True)

    keep_servers_on_restart = Bool(
        True,
        help="Stopping the hub with SIGTERM (a service manager's restart, an upgrade, `kill`) leaves users' "
        "servers, their kernels and running load tests, and the local AWS running; the hub takes them up again "
        "when it starts on the same state folder. Ctrl-C (SIGINT) stops everything, users' servers first. "
        "`false`: SIGTERM stops everything too.",
    ).tag(config=True)

    # --- idle servers and kernels -------------------------------------------------------------------------------
    idle_timeout = Integer(
        3600,
        min=0,
        help="Seconds without activity after which a user's server is stopped, published dashboards' servers "
        "included (a page someone has open, or a kernel at work, is activity), and after which a kernel that no "
        "page has open is shut down inside a running server (kernels kept ready for the dashboards excepted). "
        "0: nothing is stopped for being idle.",
    ).tag(config=True)

    @default("state_dir")
    def _default_state_dir(self) -> str:
        return str(default_state_dir())

    @default("spawner")
    def _default_spawner(self) -> str:
        # only root can make accounts and switch to them; anyone else runs servers as themselves
        return "system-users" if os.geteuid() == 0 else "local"

    @validate("account_prefix")
    def _valid_account_prefix(self, proposal):
        return names.check_account_prefix(proposal["value"])

    @validate("server_memory_limit", "server_memory_request")
    def _valid_memory_limit(self, proposal):
        if not proposal["value"]:
            return ""
        try:
            ByteSpecification().validate(self, proposal["value"])
            return proposal["value"]
        except TraitError:
            raise ValueError("expected a size such as 512M or 4G (K, M, G, T), or nothing for no limit") from None

    # --- derived values -----------------------------------------------------------------------------------------
    @property
    def state_path(self) -> Path:
        return Path(self.state_dir).expanduser().absolute()

    @property
    def isolated(self) -> bool:
        """Users' servers run as separate system accounts or pods, walled off from each other and from the hub."""
        return self.spawner in ("system-users", "kubernetes")

    @property
    def effective_open_signup(self) -> bool:
        return self.isolated if self.open_signup is None else self.open_signup

    @default("public_url")
    def _default_public_url(self) -> str:
        # Browsers resolve every name under localhost to this machine, users' subdomains included. A name with a
        # dot: cookies for a bare "localhost" are kept apart from its subdomains' by some clients (Python's
        # cookie jar files them under "localhost.local"), which broke the hub's session cookie for them.
        return f"http://hub.localhost:{self.port}" if self.user_subdomains else f"http://{self.ip}:{self.port}"

    @validate("public_url")
    def _valid_public_url(self, proposal):
        parts = urlsplit(proposal["value"])
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path.strip("/"):
            raise ValueError("expected http(s)://HOST[:PORT], with no path")
        return proposal["value"].rstrip("/")

    @property
    def runs_local_aws(self) -> bool:
        """The hub starts the local AWS itself (on, and no other endpoint named)."""
        return self.local_aws and not self.aws_endpoint_url

    @property
    def effective_aws_endpoint(self) -> str | None:
        """Where AWS clients should point, or None for real AWS."""
        if self.aws_endpoint_url:
            return self.aws_endpoint_url
        if self.local_aws:
            return f"http://127.0.0.1:{self.local_aws_port}"
        return None

    @property
    def effective_oauth_callback_url(self) -> str:
        return self.oauth_callback_url or f"{self.public_url}/hub/oauth_callback"

    @property
    def hub_db_url(self) -> str:
        return self.db_url or f"sqlite:///{self.state_path / 'jupyterhub.sqlite'}"

    def proxy_executable(self, cwd: Path | None = None) -> str | None:
        """The proxy's path, or None when it is nowhere to be found."""
        command = self.proxy_command
        if os.sep in command:
            return command if os.access(command, os.X_OK) else None
        local_bin = (cwd or Path.cwd()) / "node_modules" / ".bin"
        return shutil.which(command, path=os.pathsep.join(filter(None, [os.environ.get("PATH"), str(local_bin)])))


def variable(name: str) -> str:
    return PREFIX + name.upper()


def options() -> Iterator[tuple[str, TraitType]]:
    """Every option in the order declared."""
    traits = WorkbenchSettings.class_traits(config=True)
    order = list(WorkbenchSettings.__dict__)
    yield from sorted(traits.items(), key=lambda item: order.index(item[0]))


def parse(trait: TraitType, raw: str) -> Any:
    """A variable's text as the option's value: lists are comma-separated, booleans true/false (1/0, yes/no)."""
    if isinstance(trait, List):
        return [part.strip() for part in raw.split(",") if part.strip()]
    if isinstance(trait, Bool):
        value = raw.strip().lower()
        if value in {"1", "true", "yes", "on"}:
            return True
        if value in {"0", "false", "no", "off", ""}:
            return False
        raise ValueError("expected true or false")
    if isinstance(trait, Integer):
        try:
            return int(raw.strip())
        except ValueError:
            raise ValueError("expected a whole number") from None
    if isinstance(trait, Float):
        try:
            return float(raw.strip())
        except ValueError:
            raise ValueError("expected a number") from None
    if isinstance(trait, CaselessStrEnum):
        value = raw.strip().lower()
        if value not in trait.values:
            raise ValueError(f"expected one of {', '.join(trait.values)}")
        return value
    return raw


def _explain(trait: TraitType, value: Any) -> str:
    minimum, maximum = getattr(trait, "min", None), getattr(trait, "max", None)
    if trait.metadata.get("port"):
        return f"{value} is not a TCP port (1-65535)"
    if minimum is not None and isinstance(trait, Float) and maximum in (None, float("inf")):
        return "expected 0 or a positive number"
    if minimum is not None and maximum is None:
        return "expected a positive whole number" if minimum >= 1 else "expected 0 or a positive whole number"
    return "out of range"


def load(environ: Mapping[str, str] | None = None) -> WorkbenchSettings:
    """The settings in force: each option from its WORKBENCH_* variable when set, its default otherwise."""
    environ = os.environ if environ is None else environ
    settings = WorkbenchSettings()
    for name, trait in options():
        raw = environ.get(variable(name))
        if raw is None:
            continue
        try:
            value = parse(trait, raw)
            setattr(settings, name, value)
        except ValueError as error:
            raise SettingsError(f"{variable(name)}={raw!r}: {error}") from None
        except TraitError:
            raise SettingsError(f"{variable(name)}={raw!r}: {_explain(trait, value)}") from None
    return settings


def _mask_url(url: str) -> str:
    """The URL with its password masked, wherever it is given: after the user name, or as a ``password`` query
    parameter (``postgresql://hub@db/hub?password=...``, which libpq and SQLAlchemy accept as well)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        userinfo, _, host = netloc.rpartition("@")
        netloc = f"{userinfo.partition(':')[0]}:{MASK}@{host}"  # the host as written ([::1]:5432 included)
    query = "&".join(
        f"{field.partition('=')[0]}={MASK}" if unquote_plus(field.partition("=")[0]).strip().lower() == "password"
        else field
        for field in parts.query.split("&")
    )
    if (netloc, query) == (parts.netloc, parts.query):
        return url  # nothing to mask: as written (urlunsplit would drop the empty host of sqlite:///...)
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def shown(name: str, value: Any) -> str:
    """A value as it may be printed or logged: secrets masked, lists comma-separated."""
    trait = WorkbenchSettings.class_traits()[name]
    if trait.metadata.get("secret"):
        return MASK if value else ""
    if trait.metadata.get("secret_url"):
        return _mask_url(value)
    if isinstance(value, (list, tuple)):
        return ",".join(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def describe(settings: WorkbenchSettings) -> list[str]:
    """``VARIABLE=value`` lines for every option, secrets masked."""
    return [f"{variable(name)}={shown(name, getattr(settings, name))}" for name, _ in options()]


def markdown_table() -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, trait in options():
        text = trait.metadata.get("default_text") or shown(name, trait.default())
        rows.append(f"| `{variable(name)}` | {f'`{text}`' if text else '(empty)'} | {trait.help} |")
    return "\n".join(rows)
