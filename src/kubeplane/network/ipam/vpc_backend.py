"""ipamd's view of the VPC: the few EC2-style calls it makes for its own instance.

``VpcBackend`` is the seam (unit tests use a fake); ``ServiceBackend`` drives the simulated VPC
through ``VpcService``. Every call is blocking (file lock, netlink): ipamd runs them off its loop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from kubeplane.network.ipam.pool import PoolEni
from kubeplane.network.vpc import VpcService, names


class VpcBackend(Protocol):
    @property
    def cidr(self) -> str: ...

    @property
    def node_netns(self) -> str: ...

    def describe_enis(self) -> list[PoolEni]: ...

    def attach_eni(self) -> PoolEni: ...

    def assign_ips(self, eni_id: str, count: int) -> list[str]: ...

    def unassign_ips(self, eni_id: str, ips: list[str]) -> None: ...

    def remove_eni(self, eni_id: str) -> None: ...


class ServiceBackend:
    def __init__(self, state_root: Path, vpc: str, instance_id: str) -> None:
        self.service = VpcService(state_root)
        self.vpc, self.instance_id = vpc, instance_id
        self._cidr = self.service.describe(vpc).cidr
        self.service.describe(vpc).instance(instance_id)  # NotFound early for a wrong id

    @property
    def cidr(self) -> str:
        return self._cidr

    @property
    def node_netns(self) -> str:
        return names.instance_netns(self.vpc, self.instance_id)

    def describe_enis(self) -> list[PoolEni]:
        state = self.service.describe(self.vpc)
        return [PoolEni(eni.id, eni.device_index or 0, eni.primary_ip, list(eni.secondary_ips))
                for eni in state.enis_of(self.instance_id)]

    def attach_eni(self) -> PoolEni:
        # aws-vpc-cni's description, so an operator sees whose ENI this is.
        eni = self.service.add_network_interface(self.vpc, self.instance_id, f"aws-K8S-{self.instance_id}")
        return PoolEni(eni.id, eni.device_index or 0, eni.primary_ip, list(eni.secondary_ips))

    def assign_ips(self, eni_id: str, count: int) -> list[str]:
        return self.service.assign_private_ips(self.vpc, eni_id, count=count)

    def unassign_ips(self, eni_id: str, ips: list[str]) -> None:
        self.service.unassign_private_ips(self.vpc, eni_id, ips)

    def remove_eni(self, eni_id: str) -> None:
        self.service.detach_network_interface(self.vpc, eni_id)
        self.service.delete_network_interface(self.vpc, eni_id)
