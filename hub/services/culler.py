"""The idle culler: servers nobody uses are stopped, and inside running servers kernels nobody has open are shut
down, both after ``idle_timeout`` seconds (the ``WORKBENCH_IDLE_TIMEOUT`` setting; 0 turns both off).

Servers: ``jupyterhub-idle-culler`` runs as a JupyterHub managed service with a role holding only what it needs
(list the users, read their servers' last activity, stop servers). It stops every kind of server the same way,
published dashboards' servers (``dash-*``) included: their viewers' use is their activity, since the proxy
(configurable-http-proxy) counts every successful request to a server and every websocket frame a browser sends
it, and the server itself counts its kernels' messages. An open dashboard page is activity even without clicks:
jupyter_server pings each kernel websocket every 30 s and the browser's answer is such a frame (measured with
jupyterhub 6.1.1 and Chromium: a viewer's page left open without a click moved the published server's last
activity every 30 s and kept it running for 90 s with a 40 s idle time). A culled
published server is stopped, never removed, so its shares stay: the owner publishing it again gives every viewer
their access back.

How fresh the hub's idea of "last activity" is follows the timeout: the hub asks the proxy, and users' servers
report their kernels' activity, every ``activity_interval`` seconds (JupyterHub's 300 s by default, shorter for
short timeouts), so a server in use never looks idle for as long as the timeout.

Kernels: users' servers read :data:`KERNEL_IDLE_VARIABLE` (``user_server/jupyter_config/jupyter_server_config.py``)
and let jupyter_server shut down kernels idle that long with no connection open. Voila's pooling kernel manager,
which preheating uses, exempts the kernels waiting in its pool, so they are not shut down and started again in a
loop (``tests/hub/test_culler.py`` checks it).

May import :mod:`hub.settings`; never the user side (the variable's name is written on both sides, a test keeps
them equal).
"""

from __future__ import annotations

import sys

SERVICE_NAME = "idle-culler"
ROLE = {
    "name": SERVICE_NAME,
    "description": "Stops users' servers that have been idle for WORKBENCH_IDLE_TIMEOUT seconds",
    "services": [SERVICE_NAME],
    "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
}
# Read by users' servers (user_server/jupyter_config/jupyter_server_config.py): seconds after which a kernel no
# page has open is shut down.
KERNEL_IDLE_VARIABLE = "WORKBENCH_KERNEL_IDLE_TIMEOUT"
# jupyterhub.singleuser's own variable: how often a server reports its last activity to the hub.
ACTIVITY_VARIABLE = "JUPYTERHUB_ACTIVITY_INTERVAL"
# JupyterHub's default for both the proxy poll and the servers' reports; kept for timeouts where it is small.
LONGEST_ACTIVITY_INTERVAL = 300


def activity_interval(timeout: int) -> int:
    """Seconds between two updates of the hub's last-activity times, and between two passes of the culler.

    A server is stopped between ``timeout`` and ``timeout + interval`` seconds after its last activity; activity
    the hub has not heard of yet is at most ``interval`` old, a fifth of the timeout.
    """
    return max(1, min(LONGEST_ACTIVITY_INTERVAL, timeout // 5))


def service_definition(timeout: int) -> dict:
    interval = activity_interval(timeout)
    return {
        "name": SERVICE_NAME,
        "command": [
            sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={timeout}", f"--cull-every={interval}",
            # stopped, not removed: a published dashboard's shares live as long as its server does
            "--remove-named-servers=False", "--cull-users=False",
            # Without it the culler executes ./idle_culler_config.py from its working directory, the hub's
            # (seen with jupyterhub-idle-culler 2.0.0): no file there may run with this service's token.
            "--config=",
        ],
        "display": False,
    }


def configure(c, settings) -> None:
    """Add the culler to ``c.JupyterHub.services`` / ``load_roles`` (already lists) and tell the hub and users'
    servers how often to refresh activity and when to shut kernels down; nothing when ``idle_timeout`` is 0.
    ``settings`` is a ``hub.settings.WorkbenchSettings``."""
    timeout = settings.idle_timeout
    if timeout <= 0:
        return
    interval = activity_interval(timeout)
    c.JupyterHub.services.append(service_definition(timeout))
    c.JupyterHub.load_roles.append(ROLE)
    c.JupyterHub.last_activity_interval = interval
    c.Spawner.environment.update({ACTIVITY_VARIABLE: str(interval), KERNEL_IDLE_VARIABLE: str(timeout)})
