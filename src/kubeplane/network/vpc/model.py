"""The VPC as data: subnets per availability zone, instances and their ENIs, address allocation.

Pure logic, no kernel and no disk: ``store.py`` persists a ``Vpc``, ``fabric.py`` makes the kernel
match it. Every address an ENI holds is allocated from its subnet, so the allocator needs no
separate bookkeeping: the set of used addresses *is* the set of ENI addresses.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

# Network-safety rule of the project: simulated VPC addresses live only in this block.
ALLOWED_VPC_SPACE = ipaddress.IPv4Network("198.18.0.0/16")
DEFAULT_CIDR = "198.18.0.0/16"
DEFAULT_REGION = "us-east-1"
DEFAULT_ZONE_LETTERS = ("a", "b", "c")
# AWS allows subnets down to /28; carving /20s out of the default /16 mirrors the EKS docs' layouts.
SUBNET_PREFIX_GROWTH = 4
SMALLEST_SUBNET_PREFIX = 28
# AWS reserves the network address, .1 (router), .2 (DNS), .3 (future use) and the broadcast address.
RESERVED_AT_START = 4
RESERVED_AT_END = 1

_VPC_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$")
_HEX_ID_LENGTH = 17  # AWS's long resource ids: i-0123456789abcdef0

InstanceRole = Literal["node", "bastion"]


class VpcError(Exception):
    """A request the VPC cannot satisfy (bad input, unknown id, exhausted subnet)."""


class NotFound(VpcError):
    pass


class SubnetFull(VpcError):
    pass


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(9)[:_HEX_ID_LENGTH]}"


def new_mac() -> str:
    """A locally administered unicast MAC, as AWS hands out for ENIs (02:xx:...)."""
    return "02:" + ":".join(f"{byte:02x}" for byte in secrets.token_bytes(5))


def validate_vpc_name(name: str) -> str:
    if not _VPC_NAME.match(name):
        raise VpcError(f"invalid VPC name {name!r}: use lowercase letters, digits and '-', "
                       "starting and ending with a letter or digit, at most 32 characters")
    return name


def validate_cidr(cidr: str) -> ipaddress.IPv4Network:
    try:
        network = ipaddress.IPv4Network(cidr)
    except ValueError as err:
        raise VpcError(f"invalid CIDR {cidr!r}: {err}") from None
    if not network.subnet_of(ALLOWED_VPC_SPACE):
        raise VpcError(f"VPC CIDR {cidr} must lie inside {ALLOWED_VPC_SPACE} (simulated addresses only)")
    if network.prefixlen + SUBNET_PREFIX_GROWTH > SMALLEST_SUBNET_PREFIX:
        raise VpcError(f"VPC CIDR {cidr} is too small for three subnets; use /24 or larger")
    return network


@dataclass
class Subnet:
    id: str
    zone: str
    cidr: str

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.cidr)

    @property
    def gateway(self) -> str:
        """The VPC router's address in this subnet: the first usable one, as in AWS."""
        return str(self.network.network_address + 1)

    @property
    def prefixlen(self) -> int:
        return self.network.prefixlen

    def assignable(self) -> range:
        """Offsets of the addresses instances may get (AWS reserves the first four and the last)."""
        return range(RESERVED_AT_START, self.network.num_addresses - RESERVED_AT_END)


@dataclass
class Eni:
    id: str
    subnet_id: str
    mac: str
    primary_ip: str
    secondary_ips: list[str] = field(default_factory=list)
    instance_id: str | None = None
    device_index: int | None = None
    description: str = ""

    @property
    def addresses(self) -> list[str]:
        return [self.primary_ip, *self.secondary_ips]


@dataclass
class Instance:
    id: str
    zone: str
    subnet_id: str
    role: InstanceRole = "node"
    name: str = ""
    # Like EC2's ClientToken: launching twice with one token returns the first instance.
    client_token: str | None = None


@dataclass
class Vpc:
    name: str
    id: str
    cidr: str
    region: str
    subnets: list[Subnet] = field(default_factory=list)
    instances: list[Instance] = field(default_factory=list)
    enis: list[Eni] = field(default_factory=list)

    # ---- construction and (de)serialisation -------------------------------------------------

    @classmethod
    def new(cls, name: str, cidr: str = DEFAULT_CIDR, region: str = DEFAULT_REGION,
            zone_letters: tuple[str, ...] = DEFAULT_ZONE_LETTERS) -> Vpc:
        network = validate_cidr(cidr)
        carved = network.subnets(prefixlen_diff=SUBNET_PREFIX_GROWTH)
        subnets = [Subnet(new_id("subnet"), f"{region}{letter}", str(next(carved)))
                   for letter in zone_letters]
        return cls(validate_vpc_name(name), new_id("vpc"), str(network), region, subnets)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Vpc:
        return cls(
            name=data["name"], id=data["id"], cidr=data["cidr"], region=data["region"],
            subnets=[Subnet(**s) for s in data.get("subnets", [])],
            instances=[Instance(**i) for i in data.get("instances", [])],
            enis=[Eni(**e) for e in data.get("enis", [])],
        )

    # ---- lookups ----------------------------------------------------------------------------

    @property
    def zones(self) -> list[str]:
        return [subnet.zone for subnet in self.subnets]

    def subnet(self, subnet_id: str) -> Subnet:
        for subnet in self.subnets:
            if subnet.id == subnet_id:
                return subnet
        raise NotFound(f"subnet {subnet_id} not found in VPC {self.name}")

    def subnet_in_zone(self, zone: str) -> Subnet:
        """``zone`` may be the full name (us-east-1a) or just its letter (a)."""
        full = zone if zone.startswith(self.region) else f"{self.region}{zone}"
        for subnet in self.subnets:
            if subnet.zone == full:
                return subnet
        raise NotFound(f"no subnet in zone {zone!r} of VPC {self.name} (zones: {', '.join(self.zones)})")

    def instance(self, instance_id: str) -> Instance:
        for instance in self.instances:
            if instance.id == instance_id:
                return instance
        raise NotFound(f"instance {instance_id} not found in VPC {self.name}")

    def eni(self, eni_id: str) -> Eni:
        for eni in self.enis:
            if eni.id == eni_id:
                return eni
        raise NotFound(f"network interface {eni_id} not found in VPC {self.name}")

    def enis_of(self, instance_id: str) -> list[Eni]:
        """The ENIs attached to an instance, primary (device 0) first."""
        attached = [eni for eni in self.enis if eni.instance_id == instance_id]
        return sorted(attached, key=lambda eni: eni.device_index or 0)

    def primary_eni(self, instance_id: str) -> Eni:
        for eni in self.enis_of(instance_id):
            if eni.device_index == 0:
                return eni
        raise NotFound(f"instance {instance_id} has no primary network interface")

    # ---- address allocation -----------------------------------------------------------------

    def used_addresses(self, subnet_id: str) -> set[str]:
        return {address for eni in self.enis if eni.subnet_id == subnet_id for address in eni.addresses}

    def allocate_addresses(self, subnet_id: str, count: int) -> list[str]:
        """The ``count`` lowest free assignable addresses of a subnet (not yet recorded anywhere)."""
        subnet = self.subnet(subnet_id)
        used = self.used_addresses(subnet_id)
        base = subnet.network.network_address
        chosen: list[str] = []
        for offset in subnet.assignable():
            if len(chosen) == count:
                break
            candidate = str(base + offset)
            if candidate not in used:
                chosen.append(candidate)
        if len(chosen) < count:
            raise SubnetFull(f"subnet {subnet_id} ({subnet.cidr}) has fewer than {count} free addresses")
        return chosen

    def check_assignable(self, subnet_id: str, address: str) -> None:
        """Refuse an explicitly requested address that is outside the subnet, reserved or taken."""
        subnet = self.subnet(subnet_id)
        try:
            ip = ipaddress.IPv4Address(address)
        except ValueError:
            raise VpcError(f"invalid IPv4 address {address!r}") from None
        offset = int(ip) - int(subnet.network.network_address)
        if offset not in subnet.assignable():
            raise VpcError(f"address {address} is not assignable in subnet {subnet_id} ({subnet.cidr})")
        if address in self.used_addresses(subnet_id):
            raise VpcError(f"address {address} is already in use in subnet {subnet_id}")

    # ---- mutations (state only; the fabric applies them) ------------------------------------

    def add_instance(self, zone: str, role: InstanceRole = "node", name: str = "",
                     client_token: str | None = None) -> Instance:
        if client_token is not None:
            for existing in self.instances:
                if existing.client_token == client_token:
                    return existing
        subnet = self.subnet_in_zone(zone)
        instance = Instance(new_id("i"), subnet.zone, subnet.id, role, name, client_token)
        self.instances.append(instance)
        primary = self.add_eni(subnet.id, description=f"primary network interface of {instance.id}")
        primary.instance_id, primary.device_index = instance.id, 0
        return instance

    def remove_instance(self, instance_id: str) -> Instance:
        """Terminate: the instance and every ENI attached to it go (delete-on-termination)."""
        instance = self.instance(instance_id)
        self.instances.remove(instance)
        self.enis = [eni for eni in self.enis if eni.instance_id != instance_id]
        return instance

    def add_eni(self, subnet_id: str, description: str = "") -> Eni:
        [address] = self.allocate_addresses(subnet_id, 1)
        eni = Eni(new_id("eni"), subnet_id, new_mac(), address, description=description)
        self.enis.append(eni)
        return eni

    def remove_eni(self, eni_id: str) -> Eni:
        eni = self.eni(eni_id)
        if eni.instance_id is not None:
            raise VpcError(f"network interface {eni_id} is attached to {eni.instance_id}; detach it first")
        self.enis.remove(eni)
        return eni

    def attach_eni(self, eni_id: str, instance_id: str, device_index: int | None = None) -> Eni:
        eni, instance = self.eni(eni_id), self.instance(instance_id)
        if eni.instance_id == instance_id and device_index in (None, eni.device_index):
            return eni  # already attached as asked: attaching is idempotent
        if eni.instance_id is not None:
            raise VpcError(f"network interface {eni_id} is already attached to {eni.instance_id}")
        if self.subnet(eni.subnet_id).zone != instance.zone:
            raise VpcError(f"network interface {eni_id} and instance {instance_id} are in different zones")
        taken = {attached.device_index for attached in self.enis_of(instance_id)}
        if device_index is None:
            device_index = next(index for index in range(1, len(taken) + 2) if index not in taken)
        elif device_index in taken:
            raise VpcError(f"instance {instance_id} already has a network interface at device index "
                           f"{device_index}")
        eni.instance_id, eni.device_index = instance_id, device_index
        return eni

    def detach_eni(self, eni_id: str) -> Eni:
        eni = self.eni(eni_id)
        if eni.device_index == 0:
            raise VpcError(f"{eni_id} is the primary network interface of {eni.instance_id}; "
                           "it cannot be detached")
        eni.instance_id, eni.device_index = None, None
        return eni

    def assign_secondary_ips(self, eni_id: str, count: int = 0,
                             addresses: list[str] | None = None) -> list[str]:
        eni = self.eni(eni_id)
        chosen: list[str] = []
        for address in addresses or []:
            if address in eni.secondary_ips:
                continue  # already ours: assigning again is a no-op, as in AWS
            self.check_assignable(eni.subnet_id, address)
            chosen.append(address)
        if count:
            chosen += self.allocate_addresses(eni.subnet_id, count)
        eni.secondary_ips += chosen
        return chosen

    def unassign_secondary_ips(self, eni_id: str, addresses: list[str]) -> list[str]:
        eni = self.eni(eni_id)
        removed = [address for address in addresses if address in eni.secondary_ips]
        eni.secondary_ips = [address for address in eni.secondary_ips if address not in removed]
        return removed
