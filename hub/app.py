"""The JupyterHub application the workbench runs (``python -m hub.app -f hub/jupyterhub_config.py``): JupyterHub
itself, with two changes to how it starts and stops.

- **Stopping**: users' servers stop before the managed services they use. JupyterHub stops its services first,
  so a server stopping afterwards (whose playground may be deleted on stop) found the local AWS gone.
- **Restarting**: SIGTERM (what a service manager, an upgrade or ``kill`` sends) stops only the hub and its
  proxy when :attr:`WorkbenchHub.keep_servers_on_restart` is on: users' servers, their kernels and runs, and the
  local AWS they use keep running, and the next start on the same state takes them up again (JupyterHub polls
  each recorded server; the local AWS it starts stands in for the one still serving, see
  :mod:`hub.services.aws_state`). Ctrl-C (SIGINT) stops everything.
- **Starting**: a server whose hub was killed before it recorded it (a crash mid-spawn) keeps running with nobody
  to stop it. With system accounts each server lives in a control group of its own (:mod:`spawner.limits`); at
  start, every group that belongs to no server the hub knows as running is emptied and removed.

May import jupyterhub, :mod:`hub.services` and :mod:`spawner`.
"""

from __future__ import annotations

import asyncio
import signal

from jupyterhub.app import JupyterHub
from traitlets import Bool

from hub.services import local_aws

from spawner import limits
from spawner.workbench import SystemAccountSpawnerMixin


class WorkbenchHub(JupyterHub):
    """JupyterHub, stopping users' servers before its services and stopping orphaned servers at start."""

    name = "jupyterhub"  # the same configuration sections and log names as JupyterHub's own

    keep_servers_on_restart = Bool(
        True,
        help="On SIGTERM, stop only the hub and its proxy: users' servers (their kernels and runs) and the local "
        "AWS keep running for the next start of the hub to take up. On SIGINT (Ctrl-C), everything stops.",
    ).tag(config=True)
    _restarting = False

    async def shutdown_cancel_tasks(self, sig=None):
        if sig == signal.SIGTERM and self.keep_servers_on_restart:
            self._restarting = True
            self.cleanup_servers = False
            self.log.info("Stopping the hub only: users' servers and the local AWS keep running until it is back")
        await super().shutdown_cancel_tasks(sig)

    async def init_spawners(self):
        await super().init_spawners()
        if isinstance(self.spawner_class, type) and issubclass(self.spawner_class, SystemAccountSpawnerMixin):
            prefix = SystemAccountSpawnerMixin(config=self.config).account_prefix
            await asyncio.to_thread(self._stop_orphaned_servers, prefix, self._known_control_groups())

    def _known_control_groups(self) -> set[str]:
        known = set()
        for user in self.users.values():
            for spawner in user.spawners.values():
                group = getattr(spawner, "control_group", None)
                if group is not None and (spawner.active or spawner.server is not None):
                    known.add(group.name)
        return known

    def _stop_orphaned_servers(self, account_prefix: str, known: set[str]) -> None:
        """Only this hub's groups: their names start with its account prefix (another hub on the machine has
        its own)."""
        if limits.available() is not None:
            return
        for group in limits.server_groups():
            if group.name.startswith(account_prefix) and group.name not in known:
                self.log.warning("Stopping an orphaned server (control group %s): no running server of this hub "
                                 "is recorded for it", group.name)
                group.remove()

    async def cleanup(self):
        if self._restarting:
            self._service_map.pop(local_aws.SERVICE_NAME, None)  # users' servers use it meanwhile: it serves on
        if self.cleanup_servers:
            self.log.info("Stopping users' servers before the services they use...")
            stops = [user.stop(name) for user in self.users.values()
                     for name, spawner in list(user.spawners.items()) if spawner.active]
            for outcome in await asyncio.gather(*stops, return_exceptions=True):
                if isinstance(outcome, Exception):
                    self.log.error("Failed to stop a server: %s", outcome)
            self.cleanup_servers = False  # done: JupyterHub's own cleanup now stops the services and the proxy
        await super().cleanup()


main = WorkbenchHub.launch_instance

if __name__ == "__main__":
    main()
