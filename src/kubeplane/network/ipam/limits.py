"""How many ENIs an instance type takes and how many private IPv4 addresses each ENI holds.

A handful of types from EC2's published limits (what aws-vpc-cni's table holds for them). Each
ENI's first address is its own primary one, so an ENI can give pods ``ips_per_eni - 1`` addresses,
and EKS's max-pods formula adds two for the host-network pods that need no address of their own
(aws-node and kube-proxy).
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_INSTANCE_TYPE = "m5.large"


class UnknownInstanceType(ValueError):
    pass


@dataclass(frozen=True)
class InstanceLimits:
    max_enis: int
    ips_per_eni: int  # including the ENI's primary address

    @property
    def pod_ips_per_eni(self) -> int:
        return self.ips_per_eni - 1

    @property
    def max_pod_ips(self) -> int:
        return self.max_enis * self.pod_ips_per_eni

    @property
    def max_pods(self) -> int:
        return self.max_pod_ips + 2


INSTANCE_LIMITS: dict[str, InstanceLimits] = {
    "t3.nano": InstanceLimits(2, 2),
    "t3.micro": InstanceLimits(2, 2),
    "t3.small": InstanceLimits(3, 4),
    "t3.medium": InstanceLimits(3, 6),
    "t3.large": InstanceLimits(3, 12),
    "m5.large": InstanceLimits(3, 10),
    "m5.xlarge": InstanceLimits(4, 15),
    "m5.2xlarge": InstanceLimits(4, 15),
    "c5.large": InstanceLimits(3, 10),
}


def limits_for(instance_type: str) -> InstanceLimits:
    try:
        return INSTANCE_LIMITS[instance_type]
    except KeyError:
        known = ", ".join(sorted(INSTANCE_LIMITS))
        raise UnknownInstanceType(f"unknown instance type {instance_type!r} (known: {known})") from None


def max_pods(instance_type: str) -> int:
    """EKS's max pods for a node: ENIs * (IPs per ENI - 1) + 2 (t3.medium 17, m5.large 29)."""
    return limits_for(instance_type).max_pods
