"""Who listens on a TCP port of this machine, in the kernel's own words.

``/proc/net/tcp`` and ``/proc/net/tcp6`` list every socket of the machine's network namespace with the uid of the
account that opened it, and every account may read them. Users' servers share the machine's ports with everything
their owners run, so a port chosen free for one user's server can be taken by someone else's process before the
server binds it; the hub then finds *something* answering HTTP there and would send the user to it.
:class:`spawner.workbench.SystemAccountSpawnerMixin` hands a server to the proxy only once every socket listening
where the hub will connect belongs to the server's own account.

May import only the standard library.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path

SOCKET_TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
LISTENING = "0A"  # the kernel's TCP_LISTEN state, as the tables print it


@dataclass(frozen=True)
class Listener:
    address: IPv4Address | IPv6Address
    port: int
    uid: int

    def accepts_connections_to(self, ip: str) -> bool:
        """Whether a connection to ``ip`` on this port could reach this socket ('' or 0.0.0.0: any address)."""
        address = self.address
        if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        # A socket on :: takes IPv4 connections too unless it set IPV6_V6ONLY, which the tables do not show: counted.
        if address.is_unspecified or not ip or ip_address(ip).is_unspecified:
            return True
        return address == ip_address(ip)


def _address(hex_address: str) -> IPv4Address | IPv6Address:
    # The tables print each 32-bit word of the address in the machine's byte order.
    raw = bytes.fromhex(hex_address)
    if sys.byteorder == "little":
        raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return IPv4Address(raw) if len(raw) == 4 else IPv6Address(raw)


def listeners(port: int, tables: tuple[Path, ...] = SOCKET_TABLES) -> list[Listener]:
    """Every socket listening on ``port`` (any address), with the uid that opened it."""
    found = []
    for table in tables:
        try:
            lines = table.read_text().splitlines()[1:]
        except FileNotFoundError:  # a kernel without IPv6
            continue
        for line in lines:
            fields = line.split()
            local, state, uid = fields[1], fields[3], fields[7]
            hex_address, hex_port = local.split(":")
            if state == LISTENING and int(hex_port, 16) == port:
                found.append(Listener(_address(hex_address), port, int(uid)))
    return found


def holders(ip: str, port: int, tables: tuple[Path, ...] = SOCKET_TABLES) -> set[int]:
    """The uids of the sockets a connection to ``ip``:``port`` could reach (empty: nothing listens there)."""
    return {listener.uid for listener in listeners(port, tables) if listener.accepts_connections_to(ip)}


async def accepts(ip: str, port: int, timeout: float = 2.0) -> bool:
    """Whether something accepts a TCP connection at ``ip``:``port`` now (closed again at once). Much cheaper than
    reading the socket tables, whose size grows with every connection on the machine: wait with this, then read
    them once."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(ip or "127.0.0.1", port), timeout)
    except (OSError, asyncio.TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True
