"""Every deployment setting of the hub side, read from ``WORKBENCH_*`` environment variables.

This is the one place that names a setting, its default and its meaning. ``hub/jupyterhub_config.py`` reads
them through :func:`load`; README.md's settings table is generated from :data:`SETTINGS`
(``python -m spawner.settings --markdown``) and a test keeps the two in step.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

PREFIX = "WORKBENCH_"


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


def _csv(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _port(raw: str) -> int:
    port = int(raw)
    if not 0 < port < 65536:
        raise ValueError(f"{port} is not a TCP port")
    return port


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError(f"expected a positive whole number, got {raw!r}")
    return value


def _non_negative_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError(f"expected 0 or a positive whole number, got {raw!r}")
    return value


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, got {raw!r}")
        return value

    parse.choices = choices  # type: ignore[attr-defined]
    return parse


@dataclass(frozen=True)
class Setting:
    key: str  # attribute name; the variable is PREFIX + key.upper()
    default: str
    help: str
    parse: Callable[[str], Any] = str

    @property
    def variable(self) -> str:
        return PREFIX + self.key.upper()


SETTINGS: tuple[Setting, ...] = (
    # where the hub listens
    Setting("ip", "127.0.0.1", "Address the public proxy listens on."),
    Setting("port", "8000", "Public port: the address people open in a browser.", _port),
    Setting("hub_port", "8081", "Port of the hub's own API behind the proxy.", _port),
    Setting("proxy_api_port", "8001", "Port of the proxy's REST API (hub to proxy).", _port),
    Setting(
        "state_dir",
        ".state",
        "Folder for the hub's runtime state: its database, cookie secret and the users' home folders. "
        "Relative paths are taken from the repository root.",
    ),
    Setting(
        "db_url",
        "",
        "Hub database URL. Empty: a SQLite file in the state folder. Production: a PostgreSQL URL.",
    ),
    # login
    Setting(
        "auth",
        "local",
        "How people log in: `local` (sign-up page and passwords kept hashed by the hub), `github` or `oidc` "
        "(OAuth through oauthenticator).",
        _choice("local", "github", "oidc"),
    ),
    Setting(
        "open_signup",
        "true",
        "Local login: accounts made at /hub/signup can log in at once. `false`: an admin approves each one "
        "at /hub/authorize first.",
        _bool,
    ),
    Setting("min_password_length", "8", "Local login: the shortest password sign-up accepts.", _positive_int),
    Setting("admin_users", "", "Comma-separated usernames that are hub admins."),
    Setting("oauth_client_id", "", "OAuth: the client id registered with the provider."),
    Setting("oauth_client_secret", "", "OAuth: the client secret registered with the provider."),
    Setting(
        "oauth_callback_url",
        "",
        "OAuth: the callback URL registered with the provider. Empty: http://IP:PORT/hub/oauth_callback.",
    ),
    Setting("oauth_allowed_users", "", "OAuth: comma-separated usernames allowed to log in."),
    Setting(
        "oauth_allow_all",
        "false",
        "OAuth: let every account the provider authenticates log in (otherwise only the allowed users, "
        "organisations or groups).",
        _bool,
    ),
    Setting("github_url", "https://github.com", "GitHub: the server to log in with (GitHub Enterprise: its URL)."),
    Setting("github_allowed_organizations", "", "GitHub: comma-separated organisations whose members may log in."),
    Setting("oidc_authorize_url", "", "OIDC: the provider's authorization endpoint."),
    Setting("oidc_token_url", "", "OIDC: the provider's token endpoint."),
    Setting("oidc_userdata_url", "", "OIDC: the provider's userinfo endpoint."),
    Setting("oidc_scopes", "openid,profile,email", "OIDC: comma-separated scopes to request."),
    Setting("oidc_username_claim", "preferred_username", "OIDC: the userinfo claim that becomes the username."),
    Setting("oidc_groups_claim", "groups", "OIDC: the userinfo claim that lists the user's groups."),
    Setting("oidc_allowed_groups", "", "OIDC: comma-separated groups whose members may log in."),
    Setting("oidc_admin_groups", "", "OIDC: comma-separated groups whose members are hub admins."),
    # AWS
    Setting(
        "local_aws",
        "true",
        "Start a moto server as local AWS (a hub-managed service) and point every AWS client at it. "
        "`false`: real AWS, with the hub's credentials from the usual boto3 sources.",
        _bool,
    ),
    Setting("local_aws_port", "5000", "Port of the local AWS (moto) server.", _port),
    Setting("aws_region", "us-east-1", "AWS region of the playgrounds."),
    Setting(
        "aws_endpoint_url",
        "",
        "AWS endpoint override. Empty: the local AWS when it is on, real AWS otherwise.",
    ),
    # playgrounds
    Setting(
        "playground",
        "true",
        "Create each user's AWS playground (a CloudFormation stack from stacks/playground.yaml) when their "
        "server starts. `false`: servers start without one.",
        _bool,
    ),
    Setting(
        "playground_retention",
        "keep",
        "When a user's server stops: `keep` their playground (tables and data survive until the next login) "
        "or `delete` it. Deleting a user from the hub always deletes theirs.",
        _choice("keep", "delete"),
    ),
    Setting(
        "hub_id",
        "profiler-workbench",
        "Tag that marks the playgrounds of this hub; the orphan reaper only touches stacks with this tag, so "
        "hubs sharing one AWS account need different ids.",
    ),
    Setting(
        "reaper_interval",
        "600",
        "Seconds between two passes of the playground reaper (a hub-managed service) that deletes stacks of "
        "deleted users, broken or stuck stacks, and what the backend left behind.",
        _positive_int,
    ),
    # workbench data
    Setting(
        "data_admin_url",
        "",
        "SQLAlchemy URL of the workbench's PostgreSQL database with an admin role (superuser, or CREATEROLE "
        "as on RDS/Aurora; the database may be on another host). Set: one role + schema per user and a "
        "read-only `builtin` schema. Empty: SQLite files (one per user, a read-only built-in file).",
    ),
    Setting(
        "builtin_messages",
        "5000",
        "Messages in the built-in conversations dataset installed at hub start (0: none). Re-running with the "
        "same size adds nothing.",
        _non_negative_int,
    ),
    # user servers
    Setting(
        "spawner",
        "local",
        "Base of each user's server: `local` (a process on this machine run as the hub's own user) or "
        "`system-users` (a process run as the matching system user, who must exist).",
        _choice("local", "system-users"),
    ),
    Setting(
        "start_timeout",
        "900",
        "Seconds a user's server (playground included) may take to start: CloudFormation needs minutes, "
        "not JupyterHub's 60 s default.",
        _positive_int,
    ),
    Setting(
        "http_timeout",
        "120",
        "Seconds the hub waits for a started server to answer HTTP.",
        _positive_int,
    ),
    Setting(
        "dashboard_pool_size",
        "1",
        "Kernels kept ready per dashboard in each user's server, each having already run its dashboard, so a "
        "page load only sends the rendered page (Voila kernel preheating). Each costs one idle kernel's memory "
        "per dashboard per running server; a page load takes one and a new one starts a second later. 0 turns "
        "preheating off.",
        _non_negative_int,
    ),
    # sharing dashboards
    Setting(
        "share_revocation_seconds",
        "10",
        "How long a published dashboard's server trusts the hub's word that someone may view it: after a "
        "share is revoked, a viewer who already opened the dashboard is refused within this many seconds "
        "(JupyterHub's default is 300). Lower means more requests to the hub.",
        _positive_int,
    ),
)

_BY_KEY = {setting.key: setting for setting in SETTINGS}


class SettingsError(ValueError):
    """A WORKBENCH_* variable holds a value that cannot be used; the message names it."""


class Settings:
    """Parsed settings: one attribute per :data:`SETTINGS` entry, plus derived values."""

    def __init__(self, values: Mapping[str, Any], repo_root: Path):
        self._values = dict(values)
        self.repo_root = repo_root

    def __getattr__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(key) from None

    @property
    def state_path(self) -> Path:
        path = Path(self.state_dir)
        return path if path.is_absolute() else self.repo_root / path

    @property
    def public_url(self) -> str:
        return f"http://{self.ip}:{self.port}"

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


def load(environ: Mapping[str, str] | None = None, repo_root: Path | None = None) -> Settings:
    environ = os.environ if environ is None else environ
    repo_root = repo_root or Path(__file__).resolve().parent.parent
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = environ.get(setting.variable, setting.default)
        try:
            values[setting.key] = setting.parse(raw)
        except ValueError as error:
            raise SettingsError(f"{setting.variable}={raw!r}: {error}") from None
    return Settings(values, repo_root)


def markdown_table() -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for setting in SETTINGS:
        default = f"`{setting.default}`" if setting.default else "(empty)"
        rows.append(f"| `{setting.variable}` | {default} | {setting.help} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--markdown", action="store_true", help="print README's settings table")
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown_table())
    else:
        settings = load()
        for setting in SETTINGS:
            print(f"{setting.variable}={getattr(settings, setting.key)!r}")


if __name__ == "__main__":
    main()
