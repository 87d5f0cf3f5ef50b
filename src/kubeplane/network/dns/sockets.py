"""The server's listening sockets, optionally made inside another network namespace.

A socket belongs for life to the namespace it was created in, whatever thread later uses it. So
with ``--netns`` a short-lived thread joins the namespace (setns(2) moves only that thread),
creates and binds the UDP and TCP sockets there and hands them back; the event loop then serves
them from the process's own namespace. No process or thread stays inside the namespace.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
from dataclasses import dataclass
from typing import Any

from pyroute2 import netns  # type: ignore[import-untyped]

DEFAULT_LISTEN = "0.0.0.0:53"
TCP_BACKLOG = 128


@dataclass
class ListenSockets:
    udp: socket.socket
    tcp: socket.socket

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.udp.getsockname()[:2]
        return host, port

    def close(self) -> None:
        self.udp.close()
        self.tcp.close()


def parse_listen(text: str) -> tuple[str, int]:
    """``0.0.0.0:53``, ``:53`` (all IPv4 addresses), ``[::]:53`` -> (host, port)."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    else:
        host, _, port_text = text.rpartition(":")
    host = host or "0.0.0.0"
    ipaddress.ip_address(host)  # ValueError for anything but an address
    port = int(port_text)
    if not 0 <= port < 65536:
        raise ValueError(f"port out of range in {text!r}")
    return host, port


def _bind_pair(host: str, port: int) -> ListenSockets:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    tcp = socket.socket(family, socket.SOCK_STREAM)
    udp = socket.socket(family, socket.SOCK_DGRAM)
    try:
        # Rebinding right after a restart must not wait for old connections' TIME_WAIT.
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind((host, port))
        # Port 0 (tests): UDP takes the port the kernel gave TCP, so both serve one address.
        udp.bind((host, tcp.getsockname()[1]))
        tcp.listen(TCP_BACKLOG)
        tcp.setblocking(False)
        udp.setblocking(False)
    except BaseException:
        tcp.close()
        udp.close()
        raise
    return ListenSockets(udp, tcp)


def _in_netns(path: str, host: str, port: int) -> ListenSockets:
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            netns.setns(path, flags=0)  # flags=0: never create the namespace, only join it
            outcome["value"] = _bind_pair(host, port)
        except BaseException as err:
            outcome["error"] = err

    thread = threading.Thread(target=target, name="dns-listen-netns")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    sockets: ListenSockets = outcome["value"]
    return sockets


def bind(host: str, port: int, netns_path: str = "") -> ListenSockets:
    """Bound UDP and listening TCP sockets on ``host:port``, in ``netns_path`` when given.
    Port 0 picks a free port (the same for both, retried if UDP's is taken)."""
    attempts = 5 if port == 0 else 1
    for attempt in range(attempts):
        try:
            return _in_netns(netns_path, host, port) if netns_path else _bind_pair(host, port)
        except OSError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def close_quietly(sockets: ListenSockets | None) -> None:
    if sockets is not None:
        with contextlib.suppress(OSError):
            sockets.close()
