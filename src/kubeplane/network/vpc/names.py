"""Kernel names of a VPC's objects. All carry the run's VPC name so two VPCs never collide.

Namespace names are files under /run/netns and may be long; interface names are limited to 15
characters by Linux, so the router's end of an ENI's veth is named from a hash of the ENI id.
"""

from __future__ import annotations

import hashlib
import re

NETNS_DIR = "/run/netns"
IFNAMSIZ = 15
# Secondary ENIs get their own routing table, as aws-vpc-cni does, so replies leave by the ENI
# that received the request; the table number is this base plus the ENI's device index.
ENI_TABLE_BASE = 100
ENI_RULE_PRIORITY_BASE = 1000


def router_netns(vpc: str) -> str:
    return f"kp-{vpc}-rtr"


def instance_netns(vpc: str, instance_id: str) -> str:
    return f"kp-{vpc}-{instance_id}"


def netns_path(netns: str) -> str:
    return f"{NETNS_DIR}/{netns}"


def owned_netns_pattern(vpc: str) -> re.Pattern[str]:
    """Matches exactly the namespaces this VPC can have made (anchored, so VPC ``a`` never claims
    VPC ``a-b``'s namespaces: instance ids end in 17 hex digits and nothing else)."""
    return re.compile(rf"^kp-{re.escape(vpc)}-(rtr|i-[0-9a-f]{{17}})$")


def router_veth(eni_id: str) -> str:
    """The router's end of an ENI's veth: 've' + 13 hex digits of a hash of the ENI id."""
    return "ve" + hashlib.sha256(eni_id.encode()).hexdigest()[:IFNAMSIZ - 2]


def is_router_veth(ifname: str) -> bool:
    return re.fullmatch(rf"ve[0-9a-f]{{{IFNAMSIZ - 2}}}", ifname) is not None


def instance_ifname(device_index: int) -> str:
    return f"eth{device_index}"


def eni_route_table(device_index: int) -> int:
    return ENI_TABLE_BASE + device_index


def eni_rule_priority(device_index: int) -> int:
    return ENI_RULE_PRIORITY_BASE + device_index
