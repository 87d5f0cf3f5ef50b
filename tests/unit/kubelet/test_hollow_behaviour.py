"""What a hollow container does, read from its command line."""

from __future__ import annotations

import ipaddress

import pytest

from kubeplane.kubelet.hollow.addresses import AddressesExhausted, AddressPool, block_prefix, node_blocks
from kubeplane.kubelet.hollow.behaviour import Behaviour, behaviour_of


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


def test_node_blocks_are_disjoint_and_fit_max_pods() -> None:
    assert block_prefix(ipaddress.IPv4Network("198.18.0.0/16"), 29) == 27  # 30 hosts: node + 29 pods
    blocks = node_blocks("198.18.0.0/16", 3, 29)
    assert [str(b) for b in blocks] == ["198.18.0.0/27", "198.18.0.32/27", "198.18.0.64/27"]
    with pytest.raises(AddressesExhausted):
        node_blocks("198.18.0.0/24", 9, 29)


def test_address_pool_hands_out_each_address_once() -> None:
    pool = AddressPool(ipaddress.IPv4Network("198.18.0.0/29"))  # hosts .1-.6
    assert pool.node_ip == "198.18.0.1"
    given = [pool.allocate() for _ in range(5)]
    assert given == [f"198.18.0.{i}" for i in range(2, 7)]
    with pytest.raises(AddressesExhausted):
        pool.allocate()
    pool.release("198.18.0.4")
    assert pool.allocate() == "198.18.0.4"
