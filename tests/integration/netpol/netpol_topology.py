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

import secrets
import subprocess
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from netns_testlib import NODE_IP, Servers, add_node_netns, delete_netns, ip

from kubeplane.network.cni.wiring import NodeNetwork, host_veth_name
from kubeplane.network.vpc.names import netns_path
from kubeplane.network.vpc.netlink import socket_in_netns

VPC_CIDR = "198.18.0.0/16"
NODE = "node"  # the source name of probes made from the node itself


@dataclass
class Pod:
    namespace: str  # the Kubernetes namespace
    name: str
    ip: str
    ports: tuple[int, ...]
    netns: str = ""


@dataclass
class Topology:
    pods: list[Pod]
    run_id: str = field(default_factory=lambda: secrets.token_hex(3))
    servers: Servers = field(default_factory=Servers)

    @property
    def node(self) -> str:
        return f"kpn-{self.run_id}-n"

    def namespaces(self) -> list[str]:
        return [self.node, *(pod.netns for pod in self.pods)]

    def create(self) -> None:
        add_node_netns(self.node, NODE_IP)
        network = NodeNetwork(self.node)
        network.enable_forwarding()
        for index, pod in enumerate(self.pods, start=1):
            pod.netns = f"kpn-{self.run_id}-p{index}"
            ip("netns", "add", pod.netns)
            network.add_pod(pod.ip, 0, netns_path(pod.netns), "eth0", host_veth_name(pod.namespace, pod.name, ""),
                            [VPC_CIDR])
            for port in pod.ports:
                self.servers.serve(pod.netns, pod.ip, port, lambda _client, name=pod.name: name)

    def delete(self) -> None:
        self.servers.close()
        delete_netns(self.namespaces())

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

