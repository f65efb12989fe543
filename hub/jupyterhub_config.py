"""The Profiler Workbench hub's configuration: every value comes from a setting (:mod:`hub.settings`).

This file only assigns configuration. ``workbench hub`` provisions what the hub needs first (state folder,
databases, built-in data: :mod:`hub.services.provisioning`), then starts ``jupyterhub -f`` this file.
"""

from hub.configure import (
    configure_login,
    configure_network,
    configure_pages,
    configure_services,
    configure_sharing,
    configure_spawner,
)
from hub.settings import load

c = get_config()  # noqa: F821 - JupyterHub provides get_config when it loads this file
settings = load()

configure_network(c, settings)
configure_login(c, settings)
configure_pages(c, settings)
configure_services(c, settings)
configure_spawner(c, settings)
configure_sharing(c, settings)
