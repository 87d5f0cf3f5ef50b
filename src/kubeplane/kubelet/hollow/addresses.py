"""Fake node and pod addresses for hollow nodes, packed densely into one range (by default the
simulated VPC's 198.18.0.0/16). Never routed anywhere: they only appear in API objects.

A fleet of ``fleet_size`` nodes (indexes 0 .. fleet_size - 1) lays the range out as:

- node ``i``'s InternalIP is the range's ``i``-th host address;
- every host address after the last node's is a pod address, in one pool shared by the fleet's
  nodes, so a /16 holds e.g. 5,000 nodes and 60,000 pods however they spread over the nodes (a
  block per node would have to be sized for each node's max pods, and rounded up to a power of
  two: 5,000 nodes then fit only at 5 pods each).

A fleet split over processes (``--processes``, or several ``hollow-nodes`` sharing a range with
``--first-index``) gives each process the pod addresses in proportion to its nodes: the process
holding indexes ``first .. first + count - 1`` gets the pool's slice
``[first * P / fleet_size, (first + count) * P / fleet_size)`` of the ``P`` pod addresses, so
processes never hand out the same address without talking to each other.
"""

from __future__ import annotations

import ipaddress

DEFAULT_RANGE = "198.18.0.0/16"


class AddressesExhausted(Exception):
    pass


class FleetAddresses:
    """The layout of ``address_range`` for a fleet of ``fleet_size`` nodes."""

    def __init__(self, address_range: str, fleet_size: int) -> None:
        self.network = ipaddress.IPv4Network(address_range)
        if fleet_size < 1:
            raise ValueError("a fleet has at least one node")
        # Host addresses as integers: the network and broadcast addresses are never handed out.
        self._first_host = int(self.network.network_address) + (1 if self.network.num_addresses > 2 else 0)
        self.hosts = self.network.num_addresses - (2 if self.network.num_addresses > 2 else 0)
        self.fleet_size = fleet_size
        self.pod_addresses = self.hosts - fleet_size
        if self.pod_addresses < 1:
            raise AddressesExhausted(f"{address_range} has {self.hosts} host addresses: not enough for "
                                     f"{fleet_size} nodes and their pods; widen --address-range")

    def node_ip(self, index: int) -> str:
        if not 0 <= index < self.fleet_size:
            raise IndexError(f"node index {index} is outside the fleet of {self.fleet_size}")
        return str(ipaddress.IPv4Address(self._first_host + index))

    def pod_pool(self, first_index: int, count: int) -> PodAddressPool:
        """The pod addresses of the process holding nodes ``first_index .. first_index + count - 1``."""
        if first_index < 0 or count < 1 or first_index + count > self.fleet_size:
            raise IndexError(f"nodes {first_index}..{first_index + count - 1} are outside the fleet of "
                             f"{self.fleet_size}")
        base = self._first_host + self.fleet_size
        start = base + first_index * self.pod_addresses // self.fleet_size
        end = base + (first_index + count) * self.pod_addresses // self.fleet_size
        return PodAddressPool(start, end, str(self.network))


class PodAddressPool:
    """Pod addresses ``start`` .. ``end - 1`` (as integers), lowest first, each handed out once
    until released. Shared by every node of a process; only its event loop touches it."""

    def __init__(self, start: int, end: int, network: str = "") -> None:
        self.start, self.end = start, end
        self.network = network
        self._next = start  # below it, every address was handed out at least once
        self._released: list[int] = []  # handed out and given back, reused first
        self._in_use: set[int] = set()

    @property
    def size(self) -> int:
        return self.end - self.start

    @property
    def in_use(self) -> int:
        return len(self._in_use)

    def __contains__(self, address: str) -> bool:
        return self.start <= int(ipaddress.IPv4Address(address)) < self.end

    def allocate(self) -> str:
        if self._released:
            value = self._released.pop()
        elif self._next < self.end:
            value, self._next = self._next, self._next + 1
        else:
            raise AddressesExhausted(
                f"all {self.size} pod addresses of this hollow process ({ipaddress.IPv4Address(self.start)} - "
                f"{ipaddress.IPv4Address(self.end - 1)}{' in ' + self.network if self.network else ''}) are in use")
        self._in_use.add(value)
        return str(ipaddress.IPv4Address(value))

    def release(self, address: str) -> None:
        """Give ``address`` back; addresses not handed out by this pool (or given back already) are ignored."""
        if not address:
            return
        value = int(ipaddress.IPv4Address(address))
        if value in self._in_use:
            self._in_use.remove(value)
            self._released.append(value)
