"""Fake pod addresses for hollow nodes: each node owns one block of a range (by default the
simulated VPC's 198.18.0.0/16); the block's first host address is the node's InternalIP and the
rest go to its sandboxes. Never routed anywhere: they only appear in API objects."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

DEFAULT_RANGE = "198.18.0.0/16"


class AddressesExhausted(Exception):
    pass


def block_prefix(address_range: ipaddress.IPv4Network, max_pods: int) -> int:
    """The longest prefix whose blocks hold the node address and ``max_pods`` pod addresses."""
    prefix = 32
    while prefix > address_range.prefixlen and 2 ** (32 - prefix) - 2 < max_pods + 1:
        prefix -= 1
    return prefix


def node_blocks(address_range: str, count: int, max_pods: int) -> list[ipaddress.IPv4Network]:
    """``count`` disjoint blocks of ``address_range``, each big enough for one node."""
    network = ipaddress.IPv4Network(address_range)
    prefix = block_prefix(network, max_pods)
    available = 2 ** (prefix - network.prefixlen)
    if count > available:
        raise AddressesExhausted(f"{address_range} holds only {available} nodes of {max_pods} pods "
                                 f"(/{prefix} each); lower --max-pods or widen the range")
    blocks: Iterator[ipaddress.IPv4Network] = network.subnets(new_prefix=prefix)
    return [next(blocks) for _ in range(count)]


class AddressPool:
    """One node's block: the node address and a free list of pod addresses (lowest first)."""

    def __init__(self, block: ipaddress.IPv4Network) -> None:
        hosts = [str(host) for host in block.hosts()]
        self.node_ip = hosts[0]
        self._free = hosts[1:]
        self._free.reverse()  # pop() hands out the lowest address first

    def allocate(self) -> str:
        if not self._free:
            raise AddressesExhausted("no free pod address on this hollow node")
        return self._free.pop()

    def release(self, address: str) -> None:
        if address and address not in self._free:
            self._free.append(address)
