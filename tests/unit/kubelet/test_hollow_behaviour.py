"""What a hollow container does, read from its command line."""

from __future__ import annotations

import ipaddress

import pytest

from kubeplane.kubelet.hollow.addresses import AddressesExhausted, FleetAddresses
from kubeplane.kubelet.hollow.behaviour import Behaviour, behaviour_of
from kubeplane.kubelet.hollow.fleet import plan_fleet


@pytest.mark.parametrize(("command", "args", "expected"), [
    (["sh", "-c", "sleep 1; exit 3"], [], Behaviour(1.0, 3)),
    (["/bin/sh", "-c", "sleep 2 && sleep 0.5"], [], Behaviour(2.5, 0)),
    (["sleep", "5"], [], Behaviour(5.0, 0)),
    (["sleep"], ["7"], Behaviour(7.0, 0)),
    (["true"], [], Behaviour(0.0, 0)),
    (["/bin/false"], [], Behaviour(0.0, 1)),
    (["sh", "-c", "false; exit"], [], Behaviour(0.0, 1)),
    (["sh", "-c", "false && sleep 10"], [], Behaviour(0.0, 1)),
    (["sh", "-c", "echo hello world\nexit 0"], [], Behaviour(0.0, 0, ("hello world",))),
    (["sh"], ["-c", "exit 300"], Behaviour(0.0, 300 & 0xFF)),
])
def test_recognised_commands_end(command: list[str], args: list[str], expected: Behaviour) -> None:
    assert behaviour_of(command, args) == expected


@pytest.mark.parametrize(("command", "args"), [
    ([], []),  # the image's entrypoint
    (["httpd", "-f", "-p", "80"], []),
    (["sleep", "infinity"], []),
    (["sh", "-c", "while true; do sleep 1; done"], []),
    (["sh"], []),
    (["sh", "-c", "sleep 1; exit abc"], []),
])
def test_anything_else_runs_until_stopped(command: list[str], args: list[str]) -> None:
    assert behaviour_of(command, args).forever


def test_fleet_of_5000_nodes_and_50000_pods_fits_a_16() -> None:
    plan = plan_fleet(5000, "n-", "m5.large", ["us-east-1a"], "198.18.0.0/16")
    network = ipaddress.ip_network("198.18.0.0/16")
    node_ips = [spec.node_ip for spec in plan.specs]
    assert node_ips[:2] == ["198.18.0.1", "198.18.0.2"] and len(set(node_ips)) == 5000
    assert plan.specs[0].max_pods == 29  # the instance type's own limit, not one the range imposes
    pods = [plan.pod_addresses.allocate() for _ in range(50_000)]
    assert len(set(pods)) == 50_000 and not set(pods) & set(node_ips)
    assert all(ipaddress.ip_address(ip) in network for ip in node_ips + pods)
    assert ipaddress.ip_address(pods[0]) == ipaddress.ip_address(node_ips[-1]) + 1  # dense: no gaps


def test_pool_runs_out_inside_the_range_with_a_clear_error() -> None:
    layout = FleetAddresses("198.18.0.0/29", 2)  # hosts .1 - .6: nodes .1 and .2, pods .3 - .6
    pool = layout.pod_pool(0, 2)
    given = [pool.allocate() for _ in range(4)]
    assert given == ["198.18.0.3", "198.18.0.4", "198.18.0.5", "198.18.0.6"]  # never .7, the broadcast
    with pytest.raises(AddressesExhausted, match="all 4 pod addresses"):
        pool.allocate()
    pool.release("198.18.0.4")
    pool.release("198.18.0.4")  # twice: still handed out once
    pool.release("10.0.0.1")  # not ours: ignored
    assert pool.allocate() == "198.18.0.4"
    with pytest.raises(AddressesExhausted):
        pool.allocate()


def test_too_many_nodes_for_the_range_is_refused() -> None:
    with pytest.raises(AddressesExhausted, match="widen --address-range"):
        FleetAddresses("198.18.0.0/24", 254)
    with pytest.raises(AddressesExhausted):
        plan_fleet(300, "n-", "m5.large", ["us-east-1a"], "198.18.0.0/24")


def test_processes_share_the_pool_without_overlap() -> None:
    layout = FleetAddresses("198.18.0.0/24", 10)  # 244 pod addresses
    shares = [layout.pod_pool(first, count) for first, count in ((0, 3), (3, 3), (6, 4))]
    addresses = [pool.allocate() for pool in shares for _ in range(pool.size)]
    assert len(addresses) == len(set(addresses)) == 244
    assert [pool.size for pool in shares] == [73, 73, 98]
    # A process planned alone from its flags lays the range out as the whole fleet does.
    second = plan_fleet(3, "n-", "m5.large", ["us-east-1a"], "198.18.0.0/24", first_index=3, fleet_size=10)
    assert [spec.node_ip for spec in second.specs] == [layout.node_ip(i) for i in (3, 4, 5)]
    assert second.pod_addresses.allocate() == str(ipaddress.IPv4Address(shares[1].start))
