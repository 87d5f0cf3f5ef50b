"""A node namespace with three pod namespaces behind it, wired by the VPC CNI's own code.

    pod kpn-<id>-p1 (198.18.1.2/32) ──veth── eni<hash> ┐
    pod kpn-<id>-p2 (198.18.1.3/32) ──veth── eni<hash> ├─ node kpn-<id>-n (198.18.0.1/32 on lo)
    pod kpn-<id>-p3 (198.18.1.4/32) ──veth── eni<hash> ┘

``cni.wiring.NodeNetwork.add_pod`` makes each veth (host side named as the CNI names it), the
pod's /32, its 169.254.1.1 gateway and the node's /32 route, so traffic between pods crosses the
node's FORWARD chain exactly as on a kubeplane node. No default route, nothing in the root
namespace. Each pod runs TCP servers (threads of the test process, sockets made in the pod's
namespace) answering with the pod's name.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import subprocess
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from pyroute2 import IPRoute  # type: ignore[import-untyped]

from kubeplane.network.cni.wiring import NodeNetwork, host_veth_name
from kubeplane.network.vpc.names import netns_path
from kubeplane.network.vpc.netlink import socket_in_netns

NODE_IP = "198.18.0.1"
VPC_CIDR = "198.18.0.0/16"
NODE = "node"  # the source name of probes made from the node itself


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@dataclass
class Pod:
    namespace: str  # the Kubernetes namespace
    name: str
    ip: str
    ports: tuple[int, ...]
    netns: str = ""
    servers: list[socket.socket] = field(default_factory=list)


@dataclass
class Topology:
    pods: list[Pod]
    run_id: str = field(default_factory=lambda: secrets.token_hex(3))
    _threads: list[threading.Thread] = field(default_factory=list)

    @property
    def node(self) -> str:
        return f"kpn-{self.run_id}-n"

    def namespaces(self) -> list[str]:
        return [self.node, *(pod.netns for pod in self.pods)]

    def create(self) -> None:
        ip("netns", "add", self.node)
        ip("-n", self.node, "link", "set", "lo", "up")
        ip("-n", self.node, "addr", "add", f"{NODE_IP}/32", "dev", "lo")
        network = NodeNetwork(self.node)
        network.enable_forwarding()
        for index, pod in enumerate(self.pods, start=1):
            pod.netns = f"kpn-{self.run_id}-p{index}"
            ip("netns", "add", pod.netns)
            network.add_pod(pod.ip, 0, netns_path(pod.netns), "eth0", host_veth_name(pod.namespace, pod.name, ""),
                            [VPC_CIDR])
            for port in pod.ports:
                self._serve(pod, port)

    def _serve(self, pod: Pod, port: int) -> None:
        server = socket_in_netns(pod.netns)
        server.bind((pod.ip, port))
        server.listen(64)
        pod.servers.append(server)

        def loop() -> None:
            while True:
                try:
                    conn, _ = server.accept()
                except OSError:
                    return  # closed by teardown
                with conn:
                    conn.sendall(pod.name.encode())

        thread = threading.Thread(target=loop, name=f"server-{pod.netns}-{port}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def delete(self) -> None:
        for pod in self.pods:
            for server in pod.servers:
                with contextlib.suppress(OSError):
                    server.shutdown(socket.SHUT_RDWR)
                server.close()
        for thread in self._threads:
            thread.join(timeout=5)
        for netns in self.namespaces():
            if netns and Path(netns_path(netns)).exists():
                subprocess.run(["ip", "netns", "del", netns], capture_output=True, timeout=10)

    def source_netns(self, source: str) -> str:
        return self.node if source == NODE else self.pod(source).netns

    def pod(self, name: str) -> Pod:
        return next(pod for pod in self.pods if pod.name == name)

    def connects(self, source: str, target: str, port: int, timeout: float = 1.5) -> bool:
        """One TCP connection from pod (or node) ``source`` to pod ``target``; True when ``target``
        answered. A dropped SYN shows as a timeout."""
        try:
            with socket_in_netns(self.source_netns(source)) as client:
                client.settimeout(timeout)
                client.connect((self.pod(target).ip, port))
                return client.recv(64).decode() == target
        except OSError:
            return False

    def matrix(self, probes: Iterable[tuple[str, str, int]]) -> dict[tuple[str, str, int], bool]:
        """Every probe at once (denied ones each wait out the timeout)."""
        probes = list(probes)
        with ThreadPoolExecutor(len(probes)) as pool:
            results = list(pool.map(lambda probe: self.connects(*probe), probes))
        return dict(zip(probes, results, strict=True))

    def iptables_save(self) -> str:
        return subprocess.run(["nsenter", f"--net={netns_path(self.node)}", "iptables-save", "-t", "filter"],
                              check=True, capture_output=True, text=True, timeout=10).stdout


def root_netns_snapshot() -> dict[str, object]:
    """Links, IPv4 routes and rules, forwarding and iptables rules of the root namespace."""
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
