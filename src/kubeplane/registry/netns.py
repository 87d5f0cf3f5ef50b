"""HTTP clients whose connections start inside a network namespace.

The registry listens only inside the cluster's VPC. Rather than a relay on the machine's loopback
(a port anyone on the machine could reach), `image push` opens its sockets in the registry
instance's namespace: each socket is made by a short-lived thread that joined it (setns(2) moves
only that thread, and a socket keeps the namespace it was made in), then used from the event
loop as usual."""

from __future__ import annotations

import socket
from typing import Any

import aiohttp

from kubeplane.network.vpc.netlink import socket_in_netns


def _socket_factory(netns: str) -> Any:
    def make(info: Any) -> socket.socket:
        sock = socket_in_netns(netns, info[0], info[1], info[2])
        sock.setblocking(False)
        return sock

    return make


def session_in_netns(netns: str, timeout: float = 60.0) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(socket_factory=_socket_factory(netns), limit=4)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout))
