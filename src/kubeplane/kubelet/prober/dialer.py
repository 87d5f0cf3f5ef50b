"""Outgoing TCP connections for network probes, opened from the node's network namespace.

The kubelet process lives in the root namespace, while pod addresses are reachable only inside the
node's namespace. setns(2) moves only the calling thread and a socket keeps the namespace it was
created in, so each socket is created by a short-lived thread that has joined the node namespace
(``kubeplane.network.vpc.netlink.socket_in_netns``) and then used from the event loop like any
other. With ``netns=None`` sockets are made in the current namespace (unit tests, hollow nodes).

Failures raise ``DialError`` whose text has the shape of Go's ``net.OpError`` (``dial tcp
198.18.0.5:80: connect: connection refused``), which is what upstream's probe messages embed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket

from kubeplane.kubelet.prober.spec import join_host_port
from kubeplane.network.vpc.netlink import socket_in_netns


class DialError(Exception):
    """The connection could not be made; ``str()`` is Go's rendering of the error."""

    def __init__(self, message: str, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


def go_errno_text(error: OSError) -> str:
    """Go prints syscall errors in lower case (``connection refused``, ``no route to host``)."""
    text = os.strerror(error.errno) if error.errno else str(error)
    return text[:1].lower() + text[1:]


def dial_error(host: str, port: int, error: BaseException) -> DialError:
    address = join_host_port(host, port)
    if isinstance(error, TimeoutError):
        return DialError(f"dial tcp {address}: i/o timeout", timed_out=True)
    if isinstance(error, socket.gaierror):
        return DialError(f"dial tcp: lookup {host}: no such host")
    if isinstance(error, OSError) and error.errno:
        return DialError(f"dial tcp {address}: connect: {go_errno_text(error)}")
    return DialError(f"dial tcp {address}: {error}")


class Dialer:
    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns

    def new_socket(self, family: int, kind: int, proto: int = 0) -> socket.socket:
        """A socket in the node namespace. Synchronous (a thread is started and joined), so it also
        serves as aiohttp's ``socket_factory``."""
        if self.netns is None:
            sock = socket.socket(family, kind, proto)
        else:
            sock = socket_in_netns(self.netns, family, kind, proto)
        sock.setblocking(False)
        return sock

    async def _resolve(self, host: str, port: int) -> tuple[int, tuple[str, int]]:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            # A name: resolved by the host's resolver, as upstream's kubelet does (probes run "at the node").
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
            family, _, _, _, sockaddr = infos[0]
            return family, (str(sockaddr[0]), port)
        return (socket.AF_INET6 if address.version == 6 else socket.AF_INET), (host, port)

    async def connect(self, host: str, port: int, timeout: float) -> socket.socket:
        """A connected non-blocking socket to host:port, or ``DialError`` after at most ``timeout``."""
        loop = asyncio.get_running_loop()
        sock: socket.socket | None = None
        try:
            async with asyncio.timeout(timeout):
                family, sockaddr = await self._resolve(host, port)
                # Off the event loop: creating the socket starts and joins a thread.
                sock = await asyncio.to_thread(self.new_socket, family, socket.SOCK_STREAM)
                await loop.sock_connect(sock, sockaddr)
        except (OSError, TimeoutError) as error:
            if sock is not None:
                sock.close()
            raise dial_error(host, port, error) from None
        except BaseException:
            if sock is not None:
                sock.close()
            raise
        return sock
