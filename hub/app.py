"""The JupyterHub application the workbench runs (``python -m hub.app -f hub/jupyterhub_config.py``): JupyterHub
itself, with two changes to how it starts and stops.

- **Stopping**: users' servers stop before the managed services they use. JupyterHub stops its services first,
  so a server stopping afterwards (whose playground may be deleted on stop) found the local AWS gone.
- **Starting**: a server whose hub was killed before it recorded it (a crash mid-spawn) keeps running with nobody
  to stop it. With system accounts each server lives in a control group of its own (:mod:`spawner.limits`); at
  start, every group that belongs to no server the hub knows as running is emptied and removed.

May import jupyterhub and :mod:`spawner`.
"""

from __future__ import annotations

import asyncio

from jupyterhub.app import JupyterHub

from spawner import limits
from spawner.workbench import SystemAccountSpawnerMixin


class WorkbenchHub(JupyterHub):
    """JupyterHub, stopping users' servers before its services and stopping orphaned servers at start."""

    name = "jupyterhub"  # the same configuration sections and log names as JupyterHub's own

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
