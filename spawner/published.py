"""What a published dashboard's server is: its name, and how the spawner starts it restricted to one page.

A user publishes a dashboard by starting the named server ``dash-<notebook stem>`` ('_' becomes '-',
e.g. ``dash-query-optimization``). That server is a JupyterHub single-user server restricted to the one dashboard
(see :mod:`user_server.dashboard_only`): only the Voila page, its assets and the kernel websocket answer, and the
websocket passes only the widget (comm) messages, so a viewer can use the widgets but cannot execute code,
open JupyterLab, a terminal or the contents API. Its environment sets ``WORKBENCH_DASHBOARD_VIEWER=1`` so
dashboards turn off actions that would spend the owner's AWS.

Owners share such a server with users or groups through JupyterHub's sharing API
(``/hub/api/shares/{owner}/{server}``, share codes at ``/hub/api/share-codes/...`` accepted at
``/hub/accept-share``). A share grants access to the whole server, which is why the server itself must be the
restricted one, and why the hub refuses to share any other server (except for admins), whatever the API caller
(:mod:`hub.sharing.rules`, which also makes group shares reach the members: JupyterHub 6.1.1 alone leaves them
out of their tokens). After a revoke, or when a member leaves a group it was shared with, a viewer who already
opened the dashboard keeps it for at most the server's auth cache age (``WORKBENCH_SHARE_REVOCATION_SECONDS``).
The hub's pages about shares are :mod:`hub.sharing.pages`. May import only :mod:`spawner` modules.

A user's own notebook is published the same way, on the same restricted server: ``dash-<URL name>`` shows the
snapshot ``dashboards/published/<URL name>.ipynb`` taken when it was published (:mod:`spawner.own_dashboards`),
and the server's ``user_options`` (kept by JupyterHub in its database) carry the publication under
:data:`OWN_OPTION`: where it came from, its title, its version and when it was published.

A published dashboard's kernels hold no more of the owner's AWS playground than the owner chose: none unless they
ticked it when publishing, read-only credentials when they did, read and write only when they asked for it
(:func:`playground_access`). The built-in dashboards, which show runs and let viewers start nothing, get
read-only credentials.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Iterable

from spawner.credentials import ACCESS_LEVELS, ACCESS_NONE, ACCESS_READ
from spawner.dashboards import FOLDER, PREHEAT_VARIABLE, Dashboard, preheat_environment

PREFIX = "dash-"
EXTENSION = "user_server.dashboard_only"
# The environment the published server reads (user_server/dashboard_only.py) and gives the dashboards.
DASHBOARD_VARIABLE = "WORKBENCH_PUBLISHED_DASHBOARD"
VIEWER_VARIABLE = "WORKBENCH_DASHBOARD_VIEWER"
MAX_VIEWERS_VARIABLE = "WORKBENCH_DASHBOARD_MAX_VIEWERS"

# What ipywidgets needs from the browser; everything else (execute_request first) is dropped by the server.
WIDGET_MESSAGE_TYPES = ("comm_open", "comm_msg", "comm_close", "comm_info_request", "kernel_info_request")
# Server extensions installed in the environment that a dashboard does not need (each one is more surface).
UNNEEDED_EXTENSIONS = ("jupyterlab", "jupyter_lsp", "jupyter_server_terminals", "notebook_shim", "notebook")

# JupyterHub accepts only "safe slugs" as server names: lowercase letters, digits and single hyphens.
_SLUG = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


# Below FOLDER in the owner's home: the snapshots of their own published notebooks.
OWN_FOLDER = "published"
# The key of a server's user_options that makes dash-<name> one of its owner's own notebooks.
OWN_OPTION = "workbench_own_dashboard"


class PublishError(ValueError):
    """A server name that claims to publish a dashboard the hub does not offer, or a publication refused."""


def is_slug(text: str) -> bool:
    return bool(_SLUG.fullmatch(text))


def own_notebook(url_name: str) -> str:
    """The snapshot of an owner's notebook published under ``url_name``, relative to the dashboards folder."""
    return f"{OWN_FOLDER}/{url_name}.ipynb"


def own_publication(name: str, user_options: dict | None) -> dict | None:
    """The publication recorded for the server ``name`` if it shows one of its owner's notebooks, else None."""
    record = (user_options or {}).get(OWN_OPTION) if isinstance(user_options, dict) else None
    if not name.startswith(PREFIX) or not is_slug(name[len(PREFIX):]) or not isinstance(record, dict):
        return None
    return record


def playground_access(name: str, user_options: dict | None) -> str:
    """How much of its owner's playground the published server ``name`` gets: what the owner chose for one of
    their notebooks (nothing unless they chose), read-only for a built-in dashboard."""
    record = own_publication(name, user_options)
    if record is None:
        return ACCESS_READ
    chosen = record.get("playground", ACCESS_NONE)
    return chosen if chosen in ACCESS_LEVELS else ACCESS_NONE


def own_dashboard(name: str, user_options: dict | None) -> Dashboard | None:
    record = own_publication(name, user_options)
    if record is None:
        return None
    title = record.get("title") if isinstance(record.get("title"), str) else name[len(PREFIX):]
    return Dashboard(own_notebook(name[len(PREFIX):]), title, f"published from {record.get('source', '?')}")


def server_name(dashboard: Dashboard) -> str:
    slug = PurePosixPath(dashboard.notebook).stem.replace("_", "-")
    if not _SLUG.fullmatch(slug):
        raise PublishError(f"{dashboard.notebook}: a server name takes only lowercase letters, digits, '_' and '-'")
    return PREFIX + slug


def render_path(dashboard: Dashboard) -> str:
    """The dashboard's Voila page inside a server, as a path below the server's URL."""
    return f"/voila/render/{FOLDER}/{dashboard.notebook}"


def published_dashboard(name: str, offered: Iterable[Dashboard], user_options: dict | None = None) -> Dashboard | None:
    """The dashboard a server of this name (started with these ``user_options``) publishes: a built-in one, or
    its owner's own notebook; None for servers that publish nothing (Lab servers)."""
    if not name.startswith(PREFIX):
        return None
    for dashboard in offered:
        if server_name(dashboard) == name:
            return dashboard
    own = own_dashboard(name, user_options)
    if own is not None:
        return own
    known = ", ".join(server_name(d) for d in offered) or "none"
    raise PublishError(f"No dashboard to publish as {name!r}; published dashboards are named: {known}")


@dataclass(frozen=True)
class PublishedServer:
    """How the spawner starts a published dashboard's server (on top of its usual command)."""

    args: list[str]
    environment: dict[str, str]
    default_url: str


def published_server(dashboard: Dashboard, auth_cache_seconds: int, pool_size: int = 0,
                     max_viewers: int = 0) -> PublishedServer:
    extensions = {EXTENSION: True, "voila": True, **{name: False for name in UNNEEDED_EXTENSIONS}}
    args = [f"--ServerApp.jpserver_extensions={name}={enabled}" for name, enabled in extensions.items()]
    args += [f"--MappingKernelManager.allowed_message_types={kind}" for kind in WIDGET_MESSAGE_TYPES]
    args += [
        "--ServerApp.terminals_enabled=False",
        # fail closed: without the restricting extension the server must not run at all
        "--ServerApp.reraise_server_extension_failures=True",
        # how long the server trusts the hub's answer "this person may use me": the revocation delay
        f"--HubOAuth.cache_max_age={auth_cache_seconds}",
    ]
    # kernels ready for this one dashboard only (replacing the list a user's Lab server preheats)
    preheat = preheat_environment([dashboard], pool_size) or {PREHEAT_VARIABLE: ""}
    environment = {DASHBOARD_VARIABLE: dashboard.notebook, VIEWER_VARIABLE: "1", MAX_VIEWERS_VARIABLE: str(max_viewers),
                   **preheat}
    return PublishedServer(args, environment, render_path(dashboard))
