"""Kernel websockets that send each message at once (Nagle's algorithm off), for widgets that answer clicks, and
that end when the person at the other end loses access.

Tornado leaves Nagle's algorithm on for websockets unless the handler turns it off (``set_nodelay``), and
jupyter_server's kernel websocket does not. A widget round trip ends with several small frames written back to
back (the kernel's ``busy`` status, the widget's answer, ``idle``): with Nagle on, a frame written while an
earlier one is unacknowledged waits for that ACK, which the browser's side may delay by tens of milliseconds.
``benchmarks/json_viewer.py`` measures this connection class against jupyter_server's own, side by side.
Configured for users' servers in ``user_server/jupyter_config/jupyter_server_config.py``.

A server run by JupyterHub checks who may use it only when a request arrives (``HubOAuth``, whose answers it
keeps ``cache_max_age`` seconds): a websocket is one request, so an open one would outlive a revoked share for
as long as the page stays open. :class:`AccessWatch`, started by :mod:`user_server.dashboard_only` in published
dashboards' servers, asks the hub again about every open kernel websocket's credentials, every
``cache_max_age`` seconds, and ends the connections, and their kernels, of whoever may no longer use the server.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from jupyter_core.utils import ensure_async
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from tornado.ioloop import PeriodicCallback
from tornado.web import HTTPError

# RFC 6455's "policy violation": the server ends the connection because of who is at the other end.
ACCESS_ENDED = 1008

log = logging.getLogger(__name__)


class PromptKernelWebsocketConnection(ZMQChannelsWebsocketConnection):
    """jupyter_server's kernel websocket connection with TCP_NODELAY set on the socket to the browser, watched by
    the server's :class:`AccessWatch` when there is one."""

    access_watch: "AccessWatch | None" = None  # set for the whole server by AccessWatch.start
    access_ended = False

    def connect(self):
        self.websocket_handler.set_nodelay(True)
        connected = super().connect()
        watch = PromptKernelWebsocketConnection.access_watch
        if watch is not None and connected is not None:  # None: the kernel did not answer, already disconnected
            watch.add(self)
        return connected

    def disconnect(self):
        watch = PromptKernelWebsocketConnection.access_watch
        if watch is not None:
            watch.discard(self)
        return super().disconnect()

    def handle_incoming_message(self, incoming_msg) -> None:
        # tornado still delivers what the browser sends until it answers the close (up to 5 s): not to the kernel
        if self.access_ended:
            return
        super().handle_incoming_message(incoming_msg)


@dataclass(frozen=True)
class Credentials:
    """Who opened a connection, and the token that let them in."""

    name: str
    token: str


def credentials_of(hub_auth, handler) -> Credentials:
    """The credentials a websocket's request carried, found as HubAuth finds them (URL or header, then cookie);
    no token (which the server's auth would not have let in) makes credentials the hub will refuse."""
    return Credentials(getattr(handler.current_user, "username", "") or "", hub_auth.get_token(handler) or "")


class AccessWatch:
    """Every ``period`` seconds, one question to the hub per set of credentials behind an open kernel websocket
    (the same question the server's auth asks, with the same scopes required, never from its cache); the
    connections whose person may no longer use the server are closed and their kernels shut down.

    If the hub does not answer, connections stay as they are until the next pass: a hub restart must not cut
    every viewer off.
    """

    def __init__(self, hub_auth, kernel_manager, period: float, log: logging.Logger = log):
        self.hub_auth = hub_auth
        self.log = log
        self.kernel_manager = kernel_manager
        self.period = period
        self.open: dict[PromptKernelWebsocketConnection, Credentials] = {}
        self._callback: PeriodicCallback | None = None

    def add(self, connection: PromptKernelWebsocketConnection) -> None:
        self.open[connection] = credentials_of(self.hub_auth, connection.websocket_handler)

    def discard(self, connection: PromptKernelWebsocketConnection) -> None:
        self.open.pop(connection, None)

    def start(self) -> None:
        PromptKernelWebsocketConnection.access_watch = self
        self._callback = PeriodicCallback(self.check, self.period * 1000)
        self._callback.start()

    def stop(self) -> None:
        if self._callback is not None:
            self._callback.stop()
        if PromptKernelWebsocketConnection.access_watch is self:
            PromptKernelWebsocketConnection.access_watch = None

    async def allowed(self, credentials: Credentials) -> bool:
        if not credentials.token:
            return False
        model = await self.hub_auth.user_for_token(credentials.token, use_cache=False, sync=False)
        return bool(model and model.get("name") == credentials.name
                    and self.hub_auth.check_scopes(self.hub_auth.access_scopes, model))

    async def check(self) -> None:
        """One pass over the open connections."""
        if not self.open:
            return
        watched = dict(self.open)
        asked = list(set(watched.values()))
        answers = await asyncio.gather(*(self.allowed(credentials) for credentials in asked), return_exceptions=True)
        refused = set()
        for credentials, answer in zip(asked, answers, strict=True):
            if isinstance(answer, HTTPError):
                self.log.warning("Could not ask the hub whether %s may still use this server, keeping their "
                            "connections until the next check: %s", credentials.name, answer)
            elif isinstance(answer, BaseException):
                self.log.error("Checking %s's access failed", credentials.name, exc_info=answer)
            elif not answer:
                refused.add(credentials)
        ended = [connection for connection, credentials in watched.items()
                 if credentials in refused and connection in self.open]
        for connection in ended:
            self.log.warning("%s may no longer use this server: closing their connection to kernel %s",
                        watched[connection].name, connection.kernel_id)
        kernels = {connection.kernel_id for connection in ended}
        for connection in ended:
            self._end(connection)
        # a kernel someone still allowed is connected to stays theirs
        still_used = {connection.kernel_id for connection in self.open}
        for kernel_id in kernels - still_used:
            await self._shut_down(kernel_id)

    def _end(self, connection: PromptKernelWebsocketConnection) -> None:
        connection.access_ended = True
        self.discard(connection)
        connection.websocket_handler.close(ACCESS_ENDED, "Your access to this server has ended.")

    async def _shut_down(self, kernel_id: str) -> None:
        if kernel_id not in self.kernel_manager:
            return
        try:
            await ensure_async(self.kernel_manager.shutdown_kernel(kernel_id))
        except KeyError:
            pass  # shut down meanwhile (the page's own shutdown request, the culler)
        self.log.info("Shut down kernel %s, whose viewer's access ended", kernel_id)
