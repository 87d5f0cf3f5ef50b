"""A pod's network, as aws-vpc-cni wires it, through pyroute2.

::

    pod netns                            node (instance) netns
    eth0 <ip>/32 ─────── veth ───────── eni<hash>  (no address)
      169.254.1.1 dev eth0 scope link      <ip>/32 dev eni<hash> scope link     (main table)
      <VPC CIDR> via 169.254.1.1           rule 512:  to <ip> lookup main
      neigh 169.254.1.1 → host veth MAC    rule 1536: from <ip> lookup 100+N    (ENI N > 0 only)

The pod's next hop 169.254.1.1 exists nowhere: the permanent neighbour entry sends its frames
straight to the host end of the veth, so the pod needs no ARP and the node no address per pod. The
node forwards (ip_forward=1 in its namespace only), and a pod whose address belongs to a secondary
ENI sends its replies out of that ENI through the ENI's route table, because the VPC delivers an
address only to, and accepts it only from, the ENI that owns it. Pods get routes to the VPC (and
whatever else the caller names, e.g. the Service CIDR), never a default route.

Namespaces are entered by a short-lived thread that creates a netlink socket there (setns(2) moves
only that thread); the socket keeps its namespace, so this costs ~1 ms where pyroute2's own
``IPRoute(netns=...)`` forks a helper process (~10 ms).
"""

from __future__ import annotations

import errno
import hashlib
import os
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyroute2 import IPRoute, netns  # type: ignore[import-untyped]
from pyroute2.netlink.exceptions import NetlinkError  # type: ignore[import-untyped]

from kubeplane.network.vpc.names import eni_route_table, netns_path

POD_GATEWAY = "169.254.1.1"
HOST_VETH_PREFIX = "eni"
# aws-vpc-cni's priorities: "to pod" before the ENIs' source rules (1000+N), "from pod" after.
TO_POD_RULE_PRIORITY = 512
FROM_POD_RULE_PRIORITY = 1536
MAIN_TABLE = 254
RT_SCOPE_LINK = 253
NUD_PERMANENT = 0x80
NETLINK_ROUTE = 0
_IFNAMSIZ = 15


class WiringError(Exception):
    pass


@dataclass(frozen=True)
class PodInterfaces:
    host_veth: str
    host_mac: str
    pod_ifname: str
    pod_mac: str


def host_veth_name(pod_namespace: str, pod_name: str, container_id: str) -> str:
    """``eni`` + 11 hex digits of a hash of the pod (as aws-vpc-cni), or of the container id when
    the runtime did not say which pod this is."""
    key = f"{pod_namespace}.{pod_name}" if pod_name else container_id
    return HOST_VETH_PREFIX + hashlib.sha1(key.encode()).hexdigest()[:_IFNAMSIZ - len(HOST_VETH_PREFIX)]


def _netlink_socket_in(path: str) -> socket.socket:
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            netns.setns(path, flags=0)
            outcome["socket"] = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_ROUTE)
        except BaseException as err:
            outcome["error"] = err

    thread = threading.Thread(target=target, name="netns-socket")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    made: socket.socket = outcome["socket"]
    return made


def open_netns(path: str) -> IPRoute:
    """An rtnetlink connection inside the namespace at ``path``, for the calling thread."""
    if not os.path.exists(path):
        raise WiringError(f"network namespace {path} does not exist")
    return IPRoute(use_socket=_netlink_socket_in(path))


def _index(ipr: IPRoute, ifname: str) -> int | None:
    found = ipr.link_lookup(ifname=ifname)
    return found[0] if found else None


def _mac(ipr: IPRoute, index: int) -> str:
    [link] = ipr.link("get", index=index)
    address: str = link.get("address")
    return address


def _delete_link(ipr: IPRoute, ifname: str) -> None:
    index = _index(ipr, ifname)
    if index is None:
        return
    try:
        ipr.link("del", index=index)
    except NetlinkError as err:
        if err.code != errno.ENODEV:
            raise


def _delete_rules(ipr: IPRoute, ip: str) -> None:
    """Both policy rules of a pod address, whichever exist."""
    for rule in ipr.rule("dump", family=socket.AF_INET):
        priority = rule.get("priority")
        mine = ((priority == TO_POD_RULE_PRIORITY and rule.get("dst") == ip)
                or (priority == FROM_POD_RULE_PRIORITY and rule.get("src") == ip))
        if mine:
            try:
                ipr.rule("del", priority=priority, family=socket.AF_INET, table=rule.get("table"),
                         **({"dst": ip, "dst_len": 32} if priority == TO_POD_RULE_PRIORITY
                            else {"src": ip, "src_len": 32}))
            except NetlinkError as err:
                if err.code != errno.ENOENT:
                    raise


class NodeNetwork:
    """Pod wiring inside one node's namespace (a VPC instance). Not thread-safe: use from one thread."""

    def __init__(self, node_netns: str) -> None:
        self.node_netns = node_netns
        self.node_path = netns_path(node_netns)

    def enable_forwarding(self) -> None:
        """ip_forward=1 in the node namespace only (VPC instances start with 0)."""
        from kubeplane.network.vpc.netlink import write_sysctls
        write_sysctls(self.node_netns, {"net.ipv4.ip_forward": "1"})

    def add_pod(self, ip: str, device_index: int, pod_netns: str, pod_ifname: str, host_veth: str,
                pod_routes: Sequence[str]) -> PodInterfaces:
        """Wire a pod: veth, address, routes, neighbour, rules."""
        with open_netns(self.node_path) as node, open_netns(pod_netns) as pod:
            # A repeated or half-done earlier ADD of this pod: start its veth again from scratch.
            _delete_link(node, host_veth)
            _delete_link(pod, pod_ifname)
            node.link("add", ifname=host_veth, kind="veth", peer={"ifname": pod_ifname, "net_ns_fd": pod_netns})
            host_index = _index(node, host_veth)
            pod_index = _index(pod, pod_ifname)
            if host_index is None or pod_index is None:
                raise WiringError(f"veth {host_veth}/{pod_ifname} vanished while being created")
            host_mac, pod_mac = _mac(node, host_index), _mac(pod, pod_index)
            node.link("set", index=host_index, state="up")
            pod.link("set", index=pod_index, state="up")
            self._pod_side(pod, pod_index, ip, host_mac, pod_routes)
            node.route("replace", dst=f"{ip}/32", oif=host_index, scope=RT_SCOPE_LINK, table=MAIN_TABLE)
            _delete_rules(node, ip)
            node.rule("add", priority=TO_POD_RULE_PRIORITY, dst=ip, dst_len=32, table=MAIN_TABLE,
                      family=socket.AF_INET)
            if device_index > 0:
                node.rule("add", priority=FROM_POD_RULE_PRIORITY, src=ip, src_len=32,
                          table=eni_route_table(device_index), family=socket.AF_INET)
        return PodInterfaces(host_veth, host_mac, pod_ifname, pod_mac)

    @staticmethod
    def _pod_side(pod: IPRoute, index: int, ip: str, host_mac: str, pod_routes: Sequence[str]) -> None:
        pod.addr("add", index=index, address=ip, prefixlen=32)
        pod.route("replace", dst=f"{POD_GATEWAY}/32", oif=index, scope=RT_SCOPE_LINK)
        for destination in pod_routes:
            pod.route("replace", dst=destination, gateway=POD_GATEWAY, oif=index)
        pod.neigh("replace", dst=POD_GATEWAY, lladdr=host_mac, ifindex=index, state=NUD_PERMANENT,
                  family=socket.AF_INET)
        lo = _index(pod, "lo")
        if lo is not None:  # containerd runs the loopback plugin; a bare netns needs it too
            pod.link("set", index=lo, state="up")

    def remove_pod(self, ip: str, host_veth: str) -> None:
        """Undo ``add_pod`` from the node side alone (the pod netns may be gone: CNI DEL may come
        with an empty CNI_NETNS). Deleting the host veth removes its peer and the /32 route."""
        with open_netns(self.node_path) as node:
            _delete_link(node, host_veth)
            _delete_rules(node, ip)

    def check_pod(self, ip: str, device_index: int, pod_netns: str, pod_ifname: str,
                  host_veth: str) -> list[str]:
        """What is missing from a wired pod (empty if it is intact)."""
        problems: list[str] = []
        with open_netns(self.node_path) as node:
            host_index = _index(node, host_veth)
            if host_index is None:
                return [f"host interface {host_veth} is missing"]
            routes = node.route("dump", family=socket.AF_INET, table=MAIN_TABLE)
            if not any(r.get("dst") == ip and r["dst_len"] == 32 and r.get("oif") == host_index for r in routes):
                problems.append(f"no route to {ip} via {host_veth}")
            priorities = {(r.get("priority"), r.get("dst"), r.get("src")) for r in node.rule("dump", family=socket.AF_INET)}
            if (TO_POD_RULE_PRIORITY, ip, None) not in priorities:
                problems.append(f"no rule 'to {ip} lookup main'")
            if device_index > 0 and (FROM_POD_RULE_PRIORITY, None, ip) not in priorities:
                problems.append(f"no rule 'from {ip} lookup {eni_route_table(device_index)}'")
        if not Path(pod_netns).exists():
            return [*problems, f"network namespace {pod_netns} does not exist"]
        with open_netns(pod_netns) as pod:
            index = _index(pod, pod_ifname)
            if index is None:
                return [*problems, f"interface {pod_ifname} is missing in {pod_netns}"]
            addresses = {(a.get("address"), a["prefixlen"]) for a in pod.addr("dump", index=index, family=socket.AF_INET)}
            if (ip, 32) not in addresses:
                problems.append(f"{pod_ifname} does not hold {ip}/32")
        return problems
