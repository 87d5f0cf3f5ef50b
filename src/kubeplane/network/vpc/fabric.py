"""Makes the kernel match a ``Vpc``: a router namespace and one namespace per instance.

Topology (nothing touches the root namespace, and no namespace has a default route)::

    kp-<vpc>-i-<id>  eth0 198.18.0.4/20 ──veth── ve<hash> 198.18.0.1/32 ┐
    kp-<vpc>-i-<id>  eth0 198.18.16.4/20 ─veth── ve<hash> 198.18.16.1/32 ├ kp-<vpc>-rtr (ip_forward=1)
    ...                  eth1 (secondary ENI) ─veth── ve<hash> ...        ┘

Each ENI is one veth pair: ``ethN`` (the ENI's MAC and primary address) in the instance, and a
routed port on the router that holds the subnet's gateway address as a /32. The router reaches
each ENI address through a /32 route on that port and answers ARP for the rest of the subnet
(proxy ARP), so instances still see their subnet as connected while every packet, in the same
subnet or across subnets, passes the router, as in a real VPC where there is no shared L2 and the
fabric answers ARP. This is also why a secondary private IP is reachable the moment it is
assigned: the router gets ``<ip>/32 via <ENI primary ip>``, i.e. it delivers the frame to the
ENI's MAC, exactly as AWS delivers to the ENI that owns the address; what the instance does with
it (routes to a pod) is the CNI's business.
Instances route the VPC CIDR via their subnet gateway; a secondary ENI gets its own table and a
``from <its address>`` rule (like aws-vpc-cni), so replies leave by the ENI that was addressed.
"""

from __future__ import annotations

import errno
import re

from pyroute2.netlink.exceptions import NetlinkError  # type: ignore[import-untyped]

from kubeplane.network.vpc import names
from kubeplane.network.vpc.model import Eni, Instance, Vpc
from kubeplane.network.vpc.netlink import (
    Netns,
    create_netns,
    delete_netns,
    list_netns,
    netns_exists,
    write_sysctls,
)

_ETH = re.compile(r"^eth(\d+)$")
_RULE_PRIORITIES = range(names.ENI_RULE_PRIORITY_BASE, names.ENI_RULE_PRIORITY_BASE + 64)
# IPv6 stays off in every namespace: the VPC is IPv4-only, and this avoids link-local chatter.
_NAMESPACE_SYSCTLS = {"net.ipv6.conf.all.disable_ipv6": "1", "net.ipv6.conf.default.disable_ipv6": "1"}


def apply(vpc: Vpc) -> None:
    """Converge the whole VPC: router, every instance, and removal of what the state no longer has."""
    apply_router(vpc)
    for instance in vpc.instances:
        apply_instance(vpc, instance)
    remove_strays(vpc)


def apply_router(vpc: Vpc) -> None:
    name = names.router_netns(vpc.name)
    create_netns(name)
    # Forwarding is on in the router only: instances never route for each other.
    write_sysctls(name, {**_NAMESPACE_SYSCTLS, "net.ipv4.ip_forward": "1"})
    with Netns(name) as router:
        router.set_up("lo")


def apply_instance(vpc: Vpc, instance: Instance) -> None:
    """Create or repair one instance: its namespace, each attached ENI's veth, addresses, routes."""
    name = names.instance_netns(vpc.name, instance.id)
    if not netns_exists(name):
        create_netns(name)
    write_sysctls(name, _NAMESPACE_SYSCTLS)
    enis = vpc.enis_of(instance.id)
    with Netns(names.router_netns(vpc.name)) as router, Netns(name) as host:
        host.set_up("lo")
        for eni in enis:
            _ensure_eni_link(router, host, eni)
            _configure_router_port(router, vpc, eni)
            _configure_instance_side(host, vpc, eni)
        _remove_stale_instance_config(host, enis)
    write_sysctls(names.router_netns(vpc.name), _router_port_sysctls(enis))


def apply_eni_addresses(vpc: Vpc, eni: Eni) -> None:
    """Only the router's routes for one attached ENI's addresses: what assigning or unassigning
    secondary IPs changes (much cheaper than re-applying the whole instance)."""
    with Netns(names.router_netns(vpc.name)) as router:
        _configure_router_port(router, vpc, eni)


def remove_instance(vpc_name: str, instance_id: str) -> None:
    """Deleting the namespace destroys its veths and, with them, their router ends."""
    delete_netns(names.instance_netns(vpc_name, instance_id))


def remove_strays(vpc: Vpc) -> None:
    """Remove namespaces and router ports this VPC made that its state no longer lists."""
    wanted_netns = {names.router_netns(vpc.name)}
    wanted_netns |= {names.instance_netns(vpc.name, instance.id) for instance in vpc.instances}
    pattern = names.owned_netns_pattern(vpc.name)
    for netns in list_netns():
        if pattern.match(netns) and netns not in wanted_netns:
            delete_netns(netns)
    wanted_ports = {names.router_veth(eni.id) for eni in vpc.enis if eni.instance_id is not None}
    with Netns(names.router_netns(vpc.name)) as router:
        for ifname in router.link_names():
            if names.is_router_veth(ifname) and ifname not in wanted_ports:
                router.delete_link(ifname)


def teardown(vpc_name: str, vpc: Vpc | None) -> list[str]:
    """Delete every namespace of the VPC (from the state if there is one, and by name pattern so
    that leftovers of a lost state go too). Returns the namespaces deleted. Idempotent."""
    doomed = set()
    if vpc is not None:
        doomed |= {names.instance_netns(vpc_name, instance.id) for instance in vpc.instances}
    pattern = names.owned_netns_pattern(vpc_name)
    doomed |= {netns for netns in list_netns() if pattern.match(netns)}
    router = names.router_netns(vpc_name)
    doomed.discard(router)
    deleted = [netns for netns in sorted(doomed) if delete_netns(netns)]
    if delete_netns(router):  # last: instances' veths die with their own namespace first
        deleted.append(router)
    return deleted


# ---- one ENI ----------------------------------------------------------------------------------


def _ensure_eni_link(router: Netns, host: Netns, eni: Eni) -> None:
    """The ENI's veth pair exists with the right names and MAC, or is (re)created."""
    assert eni.device_index is not None
    port, ifname = names.router_veth(eni.id), names.instance_ifname(eni.device_index)
    host_index = host.link_index(ifname)
    host_ok = host_index is not None and host.link_mac(host_index) == eni.mac
    if router.link_index(port) is not None and host_ok:
        return
    # One end without the other (a half-finished create, or a namespace deleted under us) or a
    # different ENI's interface at this device index: start this pair again from scratch.
    router.delete_link(port)
    host.delete_link(ifname)
    try:
        router.add_veth_into(port, host.name, ifname, eni.mac)
    except NetlinkError as err:
        # A veth whose namespace was just deleted lingers until the kernel's cleanup runs.
        if err.code != errno.EEXIST:
            raise
        router.delete_link(port)
        router.add_veth_into(port, host.name, ifname, eni.mac)


def _configure_router_port(router: Netns, vpc: Vpc, eni: Eni) -> None:
    port = names.router_veth(eni.id)
    subnet = vpc.subnet(eni.subnet_id)
    router.ensure_only_ipv4(port, subnet.gateway, 32)
    router.set_up(port)
    router.replace_route(f"{eni.primary_ip}/32", port)
    wanted = {eni.primary_ip, *eni.secondary_ips}
    for address in eni.secondary_ips:
        router.replace_route(f"{address}/32", port, gateway=eni.primary_ip)
    for stale in router.host_routes_via(port) - wanted:
        router.delete_route(f"{stale}/32", port)


def _router_port_sysctls(enis: list[Eni]) -> dict[str, str]:
    values = {}
    for eni in enis:
        port = names.router_veth(eni.id)
        values[f"net.ipv4.conf.{port}.proxy_arp"] = "1"
        # Proxied ARP replies are delayed up to proxy_delay by default; the fabric answers at once.
        values[f"net.ipv4.neigh.{port}.proxy_delay"] = "0"
    return values


def _configure_instance_side(host: Netns, vpc: Vpc, eni: Eni) -> None:
    assert eni.device_index is not None
    ifname = names.instance_ifname(eni.device_index)
    subnet = vpc.subnet(eni.subnet_id)
    host.ensure_only_ipv4(ifname, eni.primary_ip, subnet.prefixlen)
    host.set_up(ifname)
    if eni.device_index == 0:
        host.replace_route(vpc.cidr, ifname, gateway=subnet.gateway)
        return
    table = names.eni_route_table(eni.device_index)
    host.replace_route(subnet.cidr, ifname, table=table)
    host.replace_route(vpc.cidr, ifname, gateway=subnet.gateway, table=table)
    host.ensure_source_rule(names.eni_rule_priority(eni.device_index), eni.primary_ip, table)


def _remove_stale_instance_config(host: Netns, enis: list[Eni]) -> None:
    """Interfaces and rules of ENIs that were detached (their tables empty out with the link)."""
    indexes = {eni.device_index for eni in enis}
    for ifname in host.link_names():
        match = _ETH.match(ifname)
        if match and int(match.group(1)) not in indexes:
            host.delete_link(ifname)
    wanted_rules = {names.eni_rule_priority(index) for index in indexes if index}
    for priority in host.source_rules():
        if priority in _RULE_PRIORITIES and priority not in wanted_rules:
            host.delete_rule(priority)

