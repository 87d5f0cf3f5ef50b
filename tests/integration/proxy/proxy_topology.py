"""A node namespace with two "pod" namespaces behind it, for kube-proxy tests.

    pod kpp-<id>-p1 (198.18.1.2/32, eth0) ──veth── node kpp-<id>-n (198.18.0.1/32 on lo)
    pod kpp-<id>-p2 (198.18.1.3/32, eth0) ──veth──┘

Like aws-vpc-cni: a /32 per pod and a host route per pod on the node; each pod reaches the node
address on-link and everything else in 198.18.0.0/16 through it. No default route anywhere and
nothing touches the root namespace. Each pod runs a small TCP server (a thread of the test
process with a socket made in the pod's namespace) answering ``<pod name> <client address>``.
"""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass, field

from netns_testlib import NODE_IP, Servers, add_node_netns, delete_netns, ip

from kubeplane.network.vpc.netlink import socket_in_netns

POD_PORT = 8080


def in_netns(netns: str, *command: str, stdin: str | None = None) -> str:
    result = subprocess.run(["nsenter", f"--net=/run/netns/{netns}", *command], check=True, capture_output=True,
                            text=True, input=stdin, timeout=10)
    return result.stdout


@dataclass
class Pod:
    name: str
    netns: str
    ip: str


@dataclass
class Topology:
    run_id: str = field(default_factory=lambda: secrets.token_hex(3))
    pods: list[Pod] = field(default_factory=list)
    servers: Servers = field(default_factory=Servers)

    @property
    def node(self) -> str:
        return f"kpp-{self.run_id}-n"

    @property
    def node_path(self) -> str:
        return f"/run/netns/{self.node}"

    def namespaces(self) -> list[str]:
        return [self.node, *(pod.netns for pod in self.pods)]

    def create(self) -> None:
        add_node_netns(self.node, NODE_IP)
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
            self.servers.serve(pod.netns, pod.ip, POD_PORT, lambda client, name=pod.name: f"{name} {client}")

    def delete(self) -> None:
        self.servers.close()
        delete_netns(self.namespaces())

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

