"""A node namespace with two "pod" namespaces behind it, for kube-proxy tests.

    pod kpp-<id>-p1 (198.18.1.2/32, eth0) ──veth── node kpp-<id>-n (198.18.0.1/32 on lo)
    pod kpp-<id>-p2 (198.18.1.3/32, eth0) ──veth──┘

Like aws-vpc-cni: a /32 per pod and a host route per pod on the node; each pod reaches the node
address on-link and everything else in 198.18.0.0/16 through it. No default route anywhere and
nothing touches the root namespace. Each pod runs a small TCP server (a thread of the test
process with a socket made in the pod's namespace) answering ``<pod name> <client address>``.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

from pyroute2 import IPRoute  # type: ignore[import-untyped]

from kubeplane.network.vpc.netlink import socket_in_netns

NODE_IP = "198.18.0.1"
POD_PORT = 8080


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


def in_netns(netns: str, *command: str, stdin: str | None = None) -> str:
    result = subprocess.run(["nsenter", f"--net=/run/netns/{netns}", *command], check=True, capture_output=True,
                            text=True, input=stdin, timeout=10)
    return result.stdout


@dataclass
class Pod:
    name: str
    netns: str
    ip: str
    server: socket.socket | None = None


@dataclass
class Topology:
    run_id: str = field(default_factory=lambda: secrets.token_hex(3))
    pods: list[Pod] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)

    @property
    def node(self) -> str:
        return f"kpp-{self.run_id}-n"

    @property
    def node_path(self) -> str:
        return f"/run/netns/{self.node}"

    def namespaces(self) -> list[str]:
        return [self.node, *(pod.netns for pod in self.pods)]

    def create(self) -> None:
        ip("netns", "add", self.node)
        ip("-n", self.node, "link", "set", "lo", "up")
        ip("-n", self.node, "addr", "add", f"{NODE_IP}/32", "dev", "lo")
        in_netns(self.node, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward")
        for index, pod_ip in enumerate(("198.18.1.2", "198.18.1.3"), start=1):
            pod = Pod(f"pod{index}", f"kpp-{self.run_id}-p{index}", pod_ip)
            self.pods.append(pod)
            host_veth = f"kpp{self.run_id}v{index}"
            ip("netns", "add", pod.netns)
            ip("-n", self.node, "link", "add", host_veth, "type", "veth", "peer", "name", "eth0",
               "netns", pod.netns)
            ip("-n", self.node, "link", "set", host_veth, "up")
            ip("-n", self.node, "route", "add", f"{pod.ip}/32", "dev", host_veth)
            ip("-n", pod.netns, "link", "set", "lo", "up")
            ip("-n", pod.netns, "link", "set", "eth0", "up")
            ip("-n", pod.netns, "addr", "add", f"{pod.ip}/32", "dev", "eth0")
            ip("-n", pod.netns, "route", "add", f"{NODE_IP}/32", "dev", "eth0", "scope", "link")
            ip("-n", pod.netns, "route", "add", "198.18.0.0/16", "via", NODE_IP, "dev", "eth0")
            self._serve(pod)

    def _serve(self, pod: Pod) -> None:
        server = socket_in_netns(pod.netns)
        server.bind((pod.ip, POD_PORT))
        server.listen(64)
        pod.server = server

        def loop() -> None:
            while True:
                try:
                    conn, peer = server.accept()
                except OSError:
                    return  # closed by teardown
                with conn:
                    conn.sendall(f"{pod.name} {peer[0]}".encode())

        thread = threading.Thread(target=loop, name=f"server-{pod.netns}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def delete(self) -> None:
        for pod in self.pods:
            if pod.server is not None:
                with contextlib.suppress(OSError):
                    pod.server.shutdown(socket.SHUT_RDWR)
                pod.server.close()
        for thread in self._threads:
            thread.join(timeout=5)
        for netns in self.namespaces():
            if Path(f"/run/netns/{netns}").exists():
                subprocess.run(["ip", "netns", "del", netns], capture_output=True, timeout=10)

    def connect(self, netns: str, address: str, port: int, timeout: float = 5.0) -> tuple[str, str]:
        """One TCP connection from ``netns``; returns (pod that answered, client address it saw)."""
        with socket_in_netns(netns) as client:
            client.settimeout(timeout)
            client.connect((address, port))
            reply = b""
            while chunk := client.recv(256):
                reply += chunk
        name, peer = reply.decode().split()
        return name, peer

    def iptables_save(self) -> str:
        return in_netns(self.node, "iptables-save")


def root_netns_snapshot() -> dict[str, object]:
    """Links, IPv4 routes, forwarding and iptables rules of the root namespace (counters stripped)."""
    with IPRoute() as ipr:
        links = sorted((link["index"], link.get("ifname")) for link in ipr.link("dump"))
        routes = sorted(repr((route.get("table"), route.get("dst"), route["dst_len"], route.get("gateway"),
                              route.get("oif"))) for route in ipr.route("dump", family=socket.AF_INET))
    saved = subprocess.run(["iptables-save"], check=True, capture_output=True, text=True, timeout=10).stdout
    rules = sorted(line.split(" [")[0] for line in saved.splitlines() if line and not line.startswith("#"))
    return {"links": links, "routes": routes, "iptables": rules,
            "ip_forward": Path("/proc/sys/net/ipv4/ip_forward").read_text()}
