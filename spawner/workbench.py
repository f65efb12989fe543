"""The spawners the hub really uses: a user's server is their database space, their AWS playground and the
dashboards, over a base spawner.

:class:`WorkbenchSpawnerMixin` puts the dashboards into the user's server before each start, runs a server named
``dash-*`` as that one published dashboard (:mod:`spawner.published`), and hands every server the user-server
configuration (:mod:`spawner.user_server_files`) and the dashboards to preheat. The concrete classes below are
registered as ``jupyterhub.spawners`` entry points and chosen by the hub's ``spawner`` setting:

- ``workbench-system-users``, :class:`SystemUserSpawner`: each user's servers run as their own system account;
- ``workbench-shared-account``, :class:`SharedAccountSpawner`: every server runs as the hub's own account (a
  laptop; not isolated);
- ``workbench-kubernetes``, ``KubeWorkbenchSpawner``: KubeSpawner, imported only when asked for.

May import jupyterhub, traitlets, tornado and the other :mod:`spawner` modules; never ``hub`` nor the user side.
"""

from __future__ import annotations

import asyncio
from functools import cached_property
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner, SimpleLocalProcessSpawner, Spawner
from jupyterhub.utils import maybe_future
from tornado.web import HTTPError
from traitlets import Bool, Integer, Unicode, default

from spawner import dashboards as shipped
from spawner.playground import KubePlaygroundMixin, PlaygroundSpawnerMixin
from spawner.published import PublishError, published_dashboard, published_server
from spawner.user_server_files import jupyter_environment
from spawner.userdata import UserDataSpawnerMixin, server_home


class WorkbenchSpawnerMixin(Spawner):
    """Dashboards and publishing for any spawner. Put it first in the bases."""

    dashboards_folder = Unicode(
        help="Folder holding the dashboards' notebooks and their manifest (dashboards.json). Default: the "
        "notebooks shipped with the hub.",
    ).tag(config=True)

    install_dashboards = Bool(
        True,
        help="Copy the offered dashboards into <home>/dashboards before each start (replacing older copies). "
        "False where the server's image already holds them (Kubernetes).",
    ).tag(config=True)

    dashboard_pool_size = Integer(
        1,
        min=0,
        help="Kernels kept ready per dashboard in each server, each having already run its dashboard "
        "(Voila kernel preheating); 0 turns preheating off.",
    ).tag(config=True)

    share_revocation_seconds = Integer(
        10,
        min=1,
        help="A published dashboard's server trusts the hub's word that someone may view it for this long: the "
        "delay before a revoked viewer is refused.",
    ).tag(config=True)

    @default("dashboards_folder")
    def _shipped_dashboards(self) -> str:
        return str(shipped.shipped_folder())

    @cached_property
    def offered_dashboards(self) -> list[shipped.Dashboard]:
        return shipped.load_manifest(Path(self.dashboards_folder) / "dashboards.json")

    @property
    def publishes(self) -> shipped.Dashboard | None:
        """The dashboard this server publishes; None for a user's own (Lab) server."""
        try:
            return published_dashboard(self.name, self.offered_dashboards)
        except PublishError as error:
            raise HTTPError(400, str(error)) from None  # shown to the person, not a bare "Internal Server Error"

    async def run_pre_spawn_hook(self):
        dashboard = self.publishes
        if self.install_dashboards:
            home = server_home(self)
            if home is None:
                self.log.warning("No home folder known for %s: dashboards not installed", self.user.name)
            else:
                await asyncio.to_thread(shipped.install, self.offered_dashboards, Path(self.dashboards_folder), home)
        if dashboard is not None:
            self.default_url = published_server(dashboard, self.share_revocation_seconds).default_url
        return await maybe_future(super().run_pre_spawn_hook())

    # JupyterHub requires every Spawner subclass to define all three; this layer changes none of them.
    async def start(self):
        return await super().start()

    async def stop(self, now=False):
        return await super().stop(now=now)

    async def poll(self):
        return await super().poll()

    def get_args(self):
        args = list(super().get_args())
        dashboard = self.publishes
        if dashboard is not None:
            args += published_server(dashboard, self.share_revocation_seconds).args
        return args

    def get_env(self):
        env = super().get_env()
        env.update(jupyter_environment())
        dashboard = self.publishes
        if dashboard is None:
            env.update(shipped.preheat_environment(self.offered_dashboards, self.dashboard_pool_size))
        else:
            env.update(published_server(dashboard, self.share_revocation_seconds, self.dashboard_pool_size).environment)
        return env


class SharedAccountSpawner(WorkbenchSpawnerMixin, UserDataSpawnerMixin, PlaygroundSpawnerMixin,
                           SimpleLocalProcessSpawner):
    """Every user's server as a process of the hub's own account: for one person's laptop, not isolated."""


class SystemUserSpawner(WorkbenchSpawnerMixin, UserDataSpawnerMixin, PlaygroundSpawnerMixin, LocalProcessSpawner):
    """Each user's servers as a process of their own system account (the hub runs as root)."""


def kube_workbench_spawner_class(base: type | None = None) -> type:
    """KubeSpawner with the user's data space and playground; ``base`` replaces KubeSpawner (tests pass a
    stand-in). The server's image holds the dashboards, so none are copied."""
    if base is None:
        try:
            from kubespawner import KubeSpawner as base  # optional: only Kubernetes deployments install it
        except ImportError as error:
            raise ImportError("KubeWorkbenchSpawner needs `pip install jupyterhub-kubespawner`") from error
    image_holds_dashboards = default("install_dashboards")(lambda self: False)
    return type("KubeWorkbenchSpawner", (WorkbenchSpawnerMixin, UserDataSpawnerMixin, KubePlaygroundMixin, base),
                {"__module__": __name__, "_image_holds_dashboards": image_holds_dashboards})


def __getattr__(name: str):
    # The `workbench-kubernetes` entry point imports KubeSpawner only when a hub asks for it.
    if name == "KubeWorkbenchSpawner":
        cls = kube_workbench_spawner_class()
        globals()[name] = cls
        return cls
    raise AttributeError(name)
