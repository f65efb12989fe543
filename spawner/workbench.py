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
import itertools
import os
import signal
import sys
from functools import cached_property
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner, SimpleLocalProcessSpawner, Spawner
from jupyterhub.utils import maybe_future
from tornado.web import HTTPError
from traitlets import Bool, Enum, Float, Integer, Unicode, default, validate

from spawner import accounts, kube, limits, names, ports
from spawner import dashboards as shipped
from spawner.playground import PlaygroundSpawnerMixin
from spawner.published import PublishError, playground_access, published_dashboard, published_server
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
        "(Voila kernel preheating); with dashboard_warming 'kernels', warm kernels in all; 0 turns it off.",
    ).tag(config=True)

    dashboard_warming = Enum(
        list(shipped.WARMING),
        default_value="pools",
        help="'pools': per dashboard, dashboard_pool_size kernels that already ran it (the quickest pages, five "
        "kernels per server); 'kernels': dashboard_pool_size kernels that imported the dashboards' code and run "
        "whichever is opened (one kernel per server; a page waits for its notebook's cells).",
    ).tag(config=True)

    preheat_busy_threshold = Float(
        None,
        allow_none=True,
        min=0.0,
        max=1.0,
        help="Share of the machine's CPU in use above which a server's preheated or warm kernels wait to start, "
        "so that preheating never slows a login or a page; 1 never waits. None: the users' server's own default "
        "(PreheatingKernelManager.busy_threshold).",
    ).tag(config=True)

    preheat_release_after = Float(
        None,
        allow_none=True,
        min=0.0,
        help="Seconds without use after which a server shuts down the kernels it keeps ready for the dashboards, "
        "until its next use; 0 never. None: the users' server's own default (PreheatingKernelManager.release_after).",
    ).tag(config=True)

    share_revocation_seconds = Integer(
        10,
        min=1,
        help="A published dashboard's server trusts the hub's word that someone may view it for this long: the "
        "delay before a revoked viewer is refused.",
    ).tag(config=True)

    dashboard_max_viewers = Integer(
        20,
        min=0,
        help="Viewers a published dashboard's server serves at once (each open page holds a kernel); one more is "
        "answered 503 with a page saying so. 0: no limit.",
    ).tag(config=True)

    @default("dashboards_folder")
    def _shipped_dashboards(self) -> str:
        return str(shipped.shipped_folder())

    @cached_property
    def offered_dashboards(self) -> list[shipped.Dashboard]:
        return shipped.load_manifest(Path(self.dashboards_folder) / "dashboards.json")

    @cached_property
    def installed_notebooks(self) -> list[shipped.Dashboard]:
        """What goes into the home's dashboards folder: the dashboards, then the studies (never preheated)."""
        return self.offered_dashboards + shipped.load_studies(Path(self.dashboards_folder) / "dashboards.json")

    @property
    def publishes(self) -> shipped.Dashboard | None:
        """The dashboard this server publishes; None for a user's own (Lab) server."""
        try:
            return published_dashboard(self.name, self.offered_dashboards, self.user_options)
        except PublishError as error:
            raise HTTPError(400, str(error)) from None  # shown to the person, not a bare "Internal Server Error"

    def playground_access(self) -> str:
        """A published dashboard's server gets what its owner chose of the playground (spawner/published.py);
        the user's own servers what the playground gives them."""
        if self.publishes is None:
            return super().playground_access()
        return playground_access(self.name, self.user_options)

    async def install_dashboards_in_home(self) -> None:
        """Copy the dashboards into the server's home (here as the hub's own account; see SystemUserSpawner)."""
        home = server_home(self)
        if home is None:
            self.log.warning("No home folder known for %s: dashboards not installed", self.user.name)
            return
        await asyncio.to_thread(shipped.install, self.installed_notebooks, Path(self.dashboards_folder), home)

    async def run_pre_spawn_hook(self):
        dashboard = self.publishes
        if self.install_dashboards:
            await self.install_dashboards_in_home()
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
            env.update(shipped.preheat_environment(self.offered_dashboards, self.dashboard_pool_size,
                                                   self.dashboard_warming, self.preheat_busy_threshold,
                                                   self.preheat_release_after))
        else:
            env.update(published_server(dashboard, self.share_revocation_seconds, self.dashboard_pool_size,
                                        self.dashboard_max_viewers).environment)
        return env


class SharedAccountSpawner(WorkbenchSpawnerMixin, UserDataSpawnerMixin, PlaygroundSpawnerMixin,
                           SimpleLocalProcessSpawner):
    """Every user's server as a process of the hub's own account: for one person's laptop, not isolated."""


class SystemAccountSpawnerMixin(LocalProcessSpawner):
    """Each user's servers as processes of a system account of their own, made on their first spawn
    (:mod:`spawner.accounts`), inside a control group with the server's limits (:mod:`spawner.limits`).
    Everything put into the user's home is written by a process that already is the user. The hub runs as root."""

    account_prefix = Unicode(
        names.DEFAULT_ACCOUNT_PREFIX,
        help="Start of every user's system account name (then the user's slug, e.g. `wb-alice`): a lowercase "
        "letter, up to 10 more letters or digits, and a hyphen. Changing it gives everyone new, empty accounts.",
    ).tag(config=True)

    homes_dir = Unicode(
        "/home",
        help="Folder of the users' home folders (each <homes_dir>/<account>, mode 0700). It must belong to root and "
        "be traversable by others.",
    ).tag(config=True)

    account_hub_id = Unicode(
        "profiler",
        help="Written into each account's comment field: an account of the right name made by another hub (or by "
        "anyone else) is never taken over.",
    ).tag(config=True)

    max_processes = Integer(
        512,
        min=0,
        help="Processes and threads one server (its kernels included) may run at once; 0: no limit. Enforced "
        "through the server's control group (pids.max), or per account (RLIMIT_NPROC) where there is none.",
    ).tag(config=True)

    max_open_files = Integer(
        4096, min=0, help="Open files per process of a server (RLIMIT_NOFILE); 0: the system's default."
    ).tag(config=True)

    port_attempts = Integer(
        3,
        min=1,
        help="Ports a server is started on before its spawn fails. A server's port is chosen free, but a process "
        "of another account can take it before the server binds it; the hub would then take that process's answer "
        "for the server's, so the server is started again on another port.",
    ).tag(config=True)

    @validate("account_prefix")
    def _valid_account_prefix(self, proposal):
        return names.check_account_prefix(proposal["value"])

    @property
    def account_name(self) -> str:
        return names.account_name(self.user.name, self.account_prefix)

    @property
    def home_dir(self) -> str:
        account = accounts.lookup(self.account_name)  # an older account keeps the home it was made with
        return str(account.home if account is not None else Path(self.homes_dir) / self.account_name)

    @property
    def server_limits(self) -> limits.ServerLimits:
        return limits.ServerLimits(memory_bytes=int(self.mem_limit or 0), cpus=float(self.cpu_limit or 0),
                                   processes=self.max_processes, open_files=self.max_open_files)

    @property
    def control_group(self) -> limits.ServerGroup:
        return limits.ServerGroup(f"{self.account_name}.{self.name or 'default'}")

    async def system_account(self) -> accounts.SystemAccount:
        """The user's account, made on first use. A refusal (a foreign account of that name) is shown to them."""
        comment = accounts.comment_for(self.account_hub_id, self.user.name)
        try:
            return await asyncio.to_thread(accounts.ensure_account, self.account_name, comment, Path(self.homes_dir))
        except accounts.AccountError as error:
            self.log.error("No system account for %s: %s", self.user.name, error)
            raise HTTPError(500, str(error)) from None

    def credentials_owner(self) -> tuple[int, int] | None:
        account = accounts.lookup(self.account_name)
        return None if account is None else (account.uid, account.gid)

    def playground_access(self) -> str:
        """A published dashboard's server gets what its owner chose of the playground (spawner/published.py);
        the user's own servers what the playground gives them."""
        if self.publishes is None:
            return super().playground_access()
        return playground_access(self.name, self.user_options)

    async def install_dashboards_in_home(self) -> None:
        account = await self.system_account()
        command = [sys.executable, "-I", "-m", "spawner.home_setup", "--from", str(self.dashboards_folder),
                   *[dashboard.notebook for dashboard in self.installed_notebooks]]
        await asyncio.to_thread(accounts.run_as, account, command, {"PATH": os.defpath})

    async def make_private_folder(self, folder: Path) -> None:
        account = await self.system_account()
        await asyncio.to_thread(accounts.run_as, account, ["mkdir", "-p", "-m", "700", "--", str(folder)],
                                {"PATH": os.defpath})

    def user_env(self, env):
        account = accounts.lookup(self.account_name)
        if account is not None:
            env.update(HOME=str(account.home), USER=account.name, LOGNAME=account.name, SHELL=account.shell)
        return env

    def make_preexec_fn(self, name):
        account = accounts.lookup(self.account_name)
        if account is None:
            raise HTTPError(500, f"{self.user.name} has no system account ({self.account_name})")
        server_limits = self.server_limits
        group = self.control_group if self._limits_by_control_group else None

        def limit() -> None:
            server_limits.set_rlimits()
            if group is not None:
                group.join()
            elif server_limits.processes:
                limits.resource.setrlimit(limits.resource.RLIMIT_NPROC, (server_limits.processes,) * 2)

        return accounts.become(account, before=limit)

    _limits_by_control_group = False

    async def start(self):
        account = await self.system_account()
        why_not = await asyncio.to_thread(limits.available)
        self._limits_by_control_group = why_not is None
        if why_not is None:
            await asyncio.to_thread(self.control_group.create, self.server_limits)
        else:
            self.log.warning("%s's server runs without a control group (%s): memory and CPU are not limited",
                             self.user.name, why_not)
        ip, port = await super().start()
        for attempt in itertools.count(1):
            others = await self._other_accounts_listening(ip, port, account.uid)
            if not others:
                return ip, port
            self.log.warning("%s's server was given port %d, which another account (uid %s) took before the server "
                             "could (attempt %d of %d)", self.user.name, port, sorted(others), attempt,
                             self.port_attempts)
            await self._end_process()
            if attempt >= self.port_attempts:
                raise HTTPError(503, f"Your server could not get a port of its own in {self.port_attempts} tries: "
                                "other programs on this machine took the port it was given. Please try again.")
            self.port = 0  # chosen free again
            ip, port = await LocalProcessSpawner.start(self)  # the process only: the rest of the start stands

    async def _end_process(self) -> None:
        """Kill the server process just started, with its process group (it leads a session of its own)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        await asyncio.to_thread(self.proc.wait)

    async def _other_accounts_listening(self, ip: str, port: int, own_uid: int) -> set[int]:
        """Wait until something accepts connections where the hub will connect to the server, the server has
        exited, or ``http_timeout`` has passed; then the uids of other accounts among the listeners there. (The hub
        takes any HTTP answer at the server's address for the server's, whoever gives it.)"""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.http_timeout
        while self.proc.poll() is None and loop.time() < deadline and not await ports.accepts(ip, port):
            await asyncio.sleep(0.1)
        return await asyncio.to_thread(ports.holders, ip, port) - {own_uid}

    async def stop(self, now=False):
        await super().stop(now=now)
        # the server is gone; its kernels may not be (a killed server leaves them running)
        await asyncio.to_thread(self.control_group.remove)

    async def poll(self):
        return await super().poll()

    async def delete_forever(self):
        """The user is deleted from the hub (JupyterHub calls this for each of their servers): with their default
        server, their account goes, home and files included, so whoever signs up with that name later starts
        with nothing of theirs. Removing one named server removes nothing of the user's."""
        await maybe_future(super().delete_forever())
        if not self.name:
            await asyncio.to_thread(self.control_group.remove)
            comment = accounts.comment_for(self.account_hub_id, self.user.name)
            if await asyncio.to_thread(accounts.remove_account, self.account_name, comment):
                self.log.info("Removed %s's system account %s and its home", self.user.name, self.account_name)


class SystemUserSpawner(SystemAccountSpawnerMixin, WorkbenchSpawnerMixin, UserDataSpawnerMixin,
                        PlaygroundSpawnerMixin, LocalProcessSpawner):
    """Each user's servers as processes of their own system account, made on first spawn (the hub runs as root)."""


def kube_workbench_spawner_class(base: type | None = None) -> type:
    """KubeSpawner with the user's data space and playground (:mod:`spawner.kube`); ``base`` replaces KubeSpawner
    (tests pass a stand-in). The server's image holds the dashboards, so none are copied."""
    base = base or kube.kubespawner_class()
    return type("KubeWorkbenchSpawner", (kube.KubeServerMixin, WorkbenchSpawnerMixin, UserDataSpawnerMixin,
                                         kube.KubePlaygroundMixin, base), {"__module__": __name__})


def __getattr__(name: str):
    # The `workbench-kubernetes` entry point imports KubeSpawner only when a hub asks for it.
    if name == "KubeWorkbenchSpawner":
        cls = kube_workbench_spawner_class()
        globals()[name] = cls
        return cls
    raise AttributeError(name)
