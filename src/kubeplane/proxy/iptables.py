"""kube-proxy's iptables specifics: the jumps into its chains and the Service-range route.

The runner itself (``NetnsCommand``, ``Iptables``, save parsing) is ``kubeplane.component.iptables``,
shared with the NetworkPolicy agent.
"""

from __future__ import annotations

from collections.abc import Iterable

from kubeplane.component.iptables import IptablesError, NetnsCommand, tables
from kubeplane.proxy.rules import JUMPS, Jump


def missing_jumps(save_text: str, jumps: Iterable[Jump] = JUMPS) -> list[Jump]:
    """Jumps into our chains not yet in their built-in chains (iptables-save prints the matches in
    its own order, so a jump is recognised by chain, comment and target, not by its exact text)."""
    by_table = tables(save_text)
    missing = []
    for jump in jumps:
        found = any(line.startswith(f"-A {jump.chain} ") and line.endswith(f"-j {jump.target}")
                    and f'--comment "{jump.comment}"' in line for line in by_table.get(jump.table, []))
        if not found:
            missing.append(jump)
    return missing


SERVICE_LINK = "kube-svc0"
SERVICE_LINK_PEER = "kube-svc0p"


async def ensure_service_route(netns: NetnsCommand, cidr: str) -> None:
    """Route the Service range into a dead-end link in the node's namespace.

    Why a route at all: a locally generated packet is routed when the socket connects, before
    the OUTPUT chain can DNAT it, so with no default route (our nodes have none) ``connect`` to a
    ClusterIP fails with ENETUNREACH. On a real node the default route plays this part.

    Why this route (each alternative was tried in a node namespace):

    * ``local <cidr> dev lo``: the kernel then uses the ClusterIP itself as the source address,
      which the endpoint cannot answer; and any listener on 0.0.0.0 answers every ClusterIP.
    * ``<cidr> dev lo``: DNAT works, but the ICMP port-unreachable of a REJECT (a Service
      without endpoints) never reaches the socket, so clients time out instead of being refused.
    * ``<cidr> dev kube-svc0``, one end of a veth pair whose other end stays down (the kernel
      here has no dummy links; upstream's IPVS mode uses a dummy ``kube-ipvs0`` the same way):
      the source is a node address, DNAT re-routes to the endpoint, REJECT refuses at once, and a
      packet no rule catches is dropped by the link, as off-node traffic with no route would be.
    """
    try:
        await netns.run("ip", "link", "show", "dev", SERVICE_LINK)
    except IptablesError:
        await netns.run("ip", "link", "add", SERVICE_LINK, "type", "veth", "peer", "name", SERVICE_LINK_PEER)
    await netns.run("ip", "link", "set", SERVICE_LINK, "up")
    await netns.run("ip", "route", "replace", cidr, "dev", SERVICE_LINK, "proto", "static")


async def remove_service_route(netns: NetnsCommand) -> bool:
    """Delete the dead-end link (its route goes with it); False when there was none."""
    try:
        await netns.run("ip", "link", "del", SERVICE_LINK)
    except IptablesError:
        return False
    return True
