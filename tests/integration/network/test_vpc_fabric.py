"""A VPC in real network namespaces: three zones, instances reaching each other through the
router, secondary ENIs and IPs, no default route, convergence after a "reboot", teardown."""

from __future__ import annotations

import subprocess
import sys

import pytest
from vpc_probes import VpcUnderTest, icmp_echo_ttl, tcp_exchange

from kubeplane.network.vpc import VpcService, names
from kubeplane.network.vpc import fabric as fabric_module
from kubeplane.network.vpc.netlink import Netns, create_netns, list_netns, netns_exists, run_in_netns

pytestmark = pytest.mark.integration


def _netns(vpc: VpcUnderTest, instance_id: str) -> str:
    return names.instance_netns(vpc.name, instance_id)


def _one_instance_per_zone(vpc: VpcUnderTest) -> list[str]:
    vpc.service.create(vpc.name)
    return [vpc.service.run_instance(vpc.name, zone).id for zone in ("a", "b", "c")]


def _read_ip_forward() -> str:
    with open("/proc/sys/net/ipv4/ip_forward") as handle:
        return handle.read().strip()


def _ip(vpc: VpcUnderTest, instance_id: str) -> str:
    return vpc.service.describe(vpc.name).primary_eni(instance_id).primary_ip


def test_instances_in_three_zones_reach_each_other_through_the_router(vpc: VpcUnderTest) -> None:
    instances = _one_instance_per_zone(vpc)
    state = vpc.service.describe(vpc.name)
    assert [state.instance(i).zone for i in instances] == ["us-east-1a", "us-east-1b", "us-east-1c"]
    assert [_ip(vpc, i) for i in instances] == ["198.18.0.4", "198.18.16.4", "198.18.32.4"]
    for source in instances:
        for target in instances:
            if source != target:
                seen = tcp_exchange(_netns(vpc, source), _netns(vpc, target), _ip(vpc, target))
                assert seen == _ip(vpc, source)  # no NAT on the way
    # One router hop: the reply left its sender with TTL 64 and arrives with 63.
    assert icmp_echo_ttl(_netns(vpc, instances[0]), _ip(vpc, instances[2])) == 63
    assert icmp_echo_ttl(_netns(vpc, instances[0]), "198.18.0.1") == 64  # the gateway itself


def test_same_subnet_traffic_also_passes_the_router(vpc: VpcUnderTest) -> None:
    vpc.service.create(vpc.name)
    first, second = (vpc.service.run_instance(vpc.name, "a").id for _ in range(2))
    assert tcp_exchange(_netns(vpc, first), _netns(vpc, second), _ip(vpc, second)) == _ip(vpc, first)
    # The router answered ARP for its neighbour (proxy ARP) and forwarded: TTL is one lower.
    assert icmp_echo_ttl(_netns(vpc, first), _ip(vpc, second)) == 63


def test_no_default_route_anywhere_and_forwarding_only_in_the_router(vpc: VpcUnderTest) -> None:
    instances = _one_instance_per_zone(vpc)
    vpc.service.add_network_interface(vpc.name, instances[0])
    namespaces = [names.router_netns(vpc.name), *(_netns(vpc, i) for i in instances)]
    for namespace in namespaces:
        with Netns(namespace) as ns:
            defaults = [r for r in ns.routes() if r["dst_len"] == 0 and r["table"] not in (255,)]
            assert defaults == [], namespace
            destinations = {f"{r['dst']}/{r['dst_len']}" for r in ns.routes() if r["table"] != 255}
            assert all(d.startswith("198.18.") for d in destinations), (namespace, destinations)
        forward = run_in_netns(namespace, _read_ip_forward)
        assert forward == ("1" if namespace == names.router_netns(vpc.name) else "0")


def test_instance_routes_are_its_subnet_and_the_vpc_via_the_gateway(vpc: VpcUnderTest) -> None:
    [instance, *_] = _one_instance_per_zone(vpc)
    with Netns(_netns(vpc, instance)) as ns:
        main = {(r["dst"], r["dst_len"], r["gateway"]) for r in ns.routes(table=254)}
        assert main == {("198.18.0.0", 20, None), ("198.18.0.0", 16, "198.18.0.1")}
        assert [name for name in ns.link_names()] == ["lo", "eth0"]


def test_secondary_eni_attach_reach_and_detach(vpc: VpcUnderTest) -> None:
    instances = _one_instance_per_zone(vpc)
    eni = vpc.service.add_network_interface(vpc.name, instances[0], description="pods")
    assert (eni.device_index, eni.primary_ip) == (1, "198.18.0.5")
    host = _netns(vpc, instances[0])
    with Netns(host) as ns:
        index = ns.link_index("eth1")
        assert index is not None and ns.link_mac(index) == eni.mac
    # Reached from another zone on the new ENI, and the reply is sourced from it (policy rule).
    assert tcp_exchange(_netns(vpc, instances[1]), host, eni.primary_ip) == _ip(vpc, instances[1])
    assert tcp_exchange(host, _netns(vpc, instances[2]), _ip(vpc, instances[2]),
                        client_ip=eni.primary_ip) == eni.primary_ip
    vpc.service.detach_network_interface(vpc.name, eni.id)
    with Netns(host) as ns:
        assert ns.link_names() == ["lo", "eth0"]
        assert names.eni_rule_priority(1) not in ns.source_rules()
    with Netns(names.router_netns(vpc.name)) as router:
        assert router.link_index(names.router_veth(eni.id)) is None
        assert f"{eni.primary_ip}" not in {r["dst"] for r in router.routes()}
    # Detached, not deleted: it keeps its address and can be attached again.
    again = vpc.service.attach_network_interface(vpc.name, eni.id, instances[0])
    assert (again.device_index, again.primary_ip) == (1, eni.primary_ip)
    assert tcp_exchange(_netns(vpc, instances[2]), host, eni.primary_ip) == _ip(vpc, instances[2])


def test_secondary_ips_are_delivered_to_the_eni_that_owns_them(vpc: VpcUnderTest) -> None:
    instances = _one_instance_per_zone(vpc)
    owner = vpc.service.describe(vpc.name).primary_eni(instances[0])
    [address] = vpc.service.assign_private_ips(vpc.name, owner.id, count=1)
    assert address == "198.18.0.5"
    # What a pod would be: the address behind the ENI (here on the instance's loopback).
    with Netns(_netns(vpc, instances[0])) as ns:
        ns.ipr.addr("add", index=ns.link_index("lo"), address=address, prefixlen=32)
    assert tcp_exchange(_netns(vpc, instances[1]), _netns(vpc, instances[0]), address) == _ip(vpc, instances[1])
    vpc.service.unassign_private_ips(vpc.name, owner.id, [address])
    with Netns(names.router_netns(vpc.name)) as router:
        assert address not in {r["dst"] for r in router.routes()}


def test_restart_reloads_state_and_converges_after_a_reboot(vpc: VpcUnderTest) -> None:
    instances = _one_instance_per_zone(vpc)
    eni = vpc.service.add_network_interface(vpc.name, instances[1])
    before = vpc.service.describe(vpc.name)
    # A reboot: every namespace is gone, only the state on disk remains.
    fabric_module.teardown(vpc.name, before)
    assert not netns_exists(names.router_netns(vpc.name))
    # A new process: nothing in memory, just the state directory.
    restarted = VpcService(vpc.state_root)
    assert restarted.create(vpc.name) == before  # create on an existing VPC re-applies it
    assert tcp_exchange(_netns(vpc, instances[0]), _netns(vpc, instances[1]), eni.primary_ip) == _ip(vpc, instances[0])
    with Netns(_netns(vpc, instances[1])) as ns:
        index = ns.link_index("eth1")
        assert index is not None and ns.link_mac(index) == eni.mac


def test_converge_repairs_partial_damage_and_removes_strays(vpc: VpcUnderTest) -> None:
    instances = _one_instance_per_zone(vpc)
    stray = f"kp-{vpc.name}-i-{'0' * 17}"
    create_netns(stray)
    with Netns(_netns(vpc, instances[0])) as ns:
        ns.delete_link("eth0")
    with Netns(_netns(vpc, instances[1])) as ns:
        ns.ipr.route("del", dst="198.18.0.0/16", table=254)
    vpc.service.converge(vpc.name)
    assert not netns_exists(stray)
    assert tcp_exchange(_netns(vpc, instances[0]), _netns(vpc, instances[1]), _ip(vpc, instances[1])) == _ip(vpc, instances[0])
    # Converging again changes nothing and fails nothing.
    vpc.service.converge(vpc.name)
    assert tcp_exchange(_netns(vpc, instances[1]), _netns(vpc, instances[2]), _ip(vpc, instances[2])) == _ip(vpc, instances[1])


def test_terminate_instance_removes_its_namespace_and_router_port(vpc: VpcUnderTest) -> None:
    instances = _one_instance_per_zone(vpc)
    eni = vpc.service.describe(vpc.name).primary_eni(instances[0])
    vpc.service.terminate_instance(vpc.name, instances[0])
    assert not netns_exists(_netns(vpc, instances[0]))
    assert vpc.service.describe(vpc.name).used_addresses(eni.subnet_id) == set()
    vpc.service.converge(vpc.name)
    with Netns(names.router_netns(vpc.name)) as router:
        assert router.link_index(names.router_veth(eni.id)) is None


def test_delete_removes_every_namespace_and_the_state_and_is_idempotent(vpc: VpcUnderTest) -> None:
    _one_instance_per_zone(vpc)
    vpc.service.bastion(vpc.name, zone="b")
    pattern = names.owned_netns_pattern(vpc.name)
    assert len([ns for ns in list_netns() if pattern.match(ns)]) == 5  # router + 3 + bastion
    # From the persisted state alone, in a fresh service.
    assert VpcService(vpc.state_root).delete(vpc.name) is True
    assert [ns for ns in list_netns() if pattern.match(ns)] == []
    assert not (vpc.state_root / vpc.name).exists()
    assert vpc.service.delete(vpc.name) is False


def test_bastion_is_launched_once_per_zone_and_runs_commands_inside_the_vpc(vpc: VpcUnderTest) -> None:
    instances = _one_instance_per_zone(vpc)
    bastion = vpc.service.bastion(vpc.name, zone="c")
    assert vpc.service.bastion(vpc.name, zone="us-east-1c") == bastion
    assert bastion.role == "bastion" and bastion.zone == "us-east-1c"
    target = _ip(vpc, instances[0])
    probe = f"import socket; s = socket.create_connection(({target!r}, 9), timeout=5)"
    # Nothing listens on port 9, so a reachable host refuses: ConnectionRefusedError, exit 1;
    # an unreachable one would time out instead.
    result = subprocess.run(
        ["nsenter", f"--net=/run/netns/{_netns(vpc, bastion.id)}", sys.executable, "-c",
         probe], capture_output=True, text=True, check=False)
    assert "ConnectionRefusedError" in result.stderr
    assert vpc.service.exec_in_instance(vpc.name, bastion.id, [sys.executable, "-c", "raise SystemExit(7)"]) == 7

