"""Pieces of the simulated node topologies the kube-proxy and NetworkPolicy tests build: a node
namespace, TCP servers in pod namespaces, teardown, and a snapshot of the root namespace to prove
it was left alone. Addresses stay in 198.18.0.0/16; nothing gets a default route.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pyroute2 import IPRoute  # type: ignore[import-untyped]

from kubeplane.network.vpc.names import netns_path
from kubeplane.network.vpc.netlink import socket_in_netns

NODE_IP = "198.18.0.1"


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


def add_node_netns(name: str, node_ip: str = NODE_IP) -> None:
    """A node namespace: loopback up with the node's /32 on it (as a kubeplane node has)."""
    ip("netns", "add", name)
    ip("-n", name, "link", "set", "lo", "up")
    ip("-n", name, "addr", "add", f"{node_ip}/32", "dev", "lo")


def delete_netns(names: Iterable[str]) -> None:
    for name in names:
        if name and Path(netns_path(name)).exists():
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)


@dataclass
class Servers:
    """TCP servers, each a thread of the test process accepting on a socket made in a namespace
    and answering every connection with one reply, then closing it."""

    sockets: list[socket.socket] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)

    def serve(self, netns: str, address: str, port: int, reply: Callable[[str], str]) -> socket.socket:
        """Listen on ``address:port`` in ``netns``; ``reply`` maps the client's address to the answer."""
        server = socket_in_netns(netns)
        server.bind((address, port))
        server.listen(64)
        self.sockets.append(server)

        def loop() -> None:
            while True:
                try:
                    conn, peer = server.accept()
                except OSError:
                    return  # closed by close()
                with conn:
                    conn.sendall(reply(peer[0]).encode())

        thread = threading.Thread(target=loop, name=f"server-{netns}-{port}", daemon=True)
        thread.start()
        self._threads.append(thread)
        return server

    def close(self) -> None:
        for server in self.sockets:
            with contextlib.suppress(OSError):
                server.shutdown(socket.SHUT_RDWR)
            server.close()
        for thread in self._threads:
            thread.join(timeout=5)


def root_netns_snapshot() -> dict[str, object]:
    """Links, IPv4 routes and rules, forwarding and iptables rules of the root namespace (counters
    stripped), to compare before and after a test."""
    with IPRoute() as ipr:
        links = sorted((link["index"], link.get("ifname")) for link in ipr.link("dump"))
        routes = sorted(repr((route.get("table"), route.get("dst"), route["dst_len"], route.get("gateway"),
                              route.get("oif"))) for route in ipr.route("dump", family=socket.AF_INET))
        rules = sorted(repr((rule.get("priority"), rule.get("src"), rule.get("dst"), rule.get("table")))
                       for rule in ipr.rule("dump", family=socket.AF_INET))
    saved = subprocess.run(["iptables-save"], check=True, capture_output=True, text=True, timeout=10).stdout
    iptables = sorted(line.split(" [")[0] for line in saved.splitlines() if line and not line.startswith("#"))
    return {"links": links, "routes": routes, "rules": rules, "iptables": iptables,
            "ip_forward": Path("/proc/sys/net/ipv4/ip_forward").read_text()}
