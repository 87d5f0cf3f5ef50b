"""The VPC's operations, EC2-style: each one changes the state under the VPC's lock, saves it,
then applies just the affected part to the kernel. If the kernel step fails half-way the saved
state is still the truth, and ``converge`` (or repeating the operation) finishes the job."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from kubeplane.network.vpc import fabric, names
from kubeplane.network.vpc.model import (
    DEFAULT_CIDR,
    DEFAULT_REGION,
    Eni,
    Instance,
    InstanceRole,
    Vpc,
    VpcError,
    validate_cidr,
)
from kubeplane.network.vpc.store import VpcStore


class VpcService:
    def __init__(self, state_root: Path) -> None:
        self.store = VpcStore(state_root)

    # ---- the VPC itself ---------------------------------------------------------------------

    def create(self, name: str, cidr: str = DEFAULT_CIDR, region: str = DEFAULT_REGION) -> Vpc:
        """Create the VPC, or, if it exists with the same CIDR, re-apply it (after a reboot)."""
        cidr = str(validate_cidr(cidr))  # before anything lands on disk
        with self.store.locked(name, create=True):
            if self.store.exists(name):
                vpc = self.store.load(name)
                if vpc.cidr != cidr:
                    raise VpcError(f"VPC {name} already exists with CIDR {vpc.cidr}, not {cidr}")
            else:
                vpc = Vpc.new(name, cidr, region)
                self.store.save(vpc)
            fabric.apply(vpc)
        return vpc

    def converge(self, name: str) -> Vpc:
        with self.store.locked(name):
            vpc = self.store.load(name)
            fabric.apply(vpc)
        return vpc

    def describe(self, name: str) -> Vpc:
        return self.store.load(name)

    def delete(self, name: str) -> bool:
        """Remove every namespace and link of the VPC, then its state. Idempotent: leftovers of a
        VPC whose state is already gone are still found by name and removed."""
        if not self.store.exists(name):
            fabric.teardown(name, None)
            self.store.remove(name)
            return False
        with self.store.locked(name):
            fabric.teardown(name, self.store.load(name))
            self.store.remove(name)
        return True

    # ---- instances --------------------------------------------------------------------------

    def run_instance(self, name: str, zone: str, role: InstanceRole = "node", instance_name: str = "",
                     client_token: str | None = None) -> Instance:
        with self.store.locked(name):
            vpc = self.store.load(name)
            instance = vpc.add_instance(zone, role, instance_name, client_token)
            self.store.save(vpc)
            fabric.apply_instance(vpc, instance)
        return instance

    def terminate_instance(self, name: str, instance_id: str) -> None:
        with self.store.locked(name):
            vpc = self.store.load(name)
            vpc.remove_instance(instance_id)
            self.store.save(vpc)
            fabric.remove_instance(name, instance_id)

    def instance_netns(self, name: str, instance_id: str) -> str:
        self.describe(name).instance(instance_id)  # raises NotFound for unknown ids
        return names.instance_netns(name, instance_id)

    def bastion(self, name: str, zone: str | None = None, subnet_id: str | None = None) -> Instance:
        """The VPC's bastion host in a zone (default: the first), launched on first use."""
        vpc = self.describe(name)
        if subnet_id is not None:
            zone = vpc.subnet(subnet_id).zone
        zone = zone or vpc.subnets[0].zone
        full_zone = vpc.subnet_in_zone(zone).zone
        return self.run_instance(name, full_zone, role="bastion", instance_name=f"bastion-{full_zone}",
                                 client_token=f"bastion-{full_zone}")

    def exec_in_instance(self, name: str, instance_id: str, argv: Sequence[str]) -> int:
        """Run a command in an instance's network namespace, attached to our stdio; its exit code.

        A command needs a process, so this is the one place with a subprocess: ``nsenter --net``
        switches only the network namespace (``ip netns exec`` would also remount /sys).
        """
        netns = self.instance_netns(name, instance_id)
        command = ["nsenter", f"--net={names.netns_path(netns)}", "--", *argv]
        return subprocess.run(command, check=False).returncode

    # ---- network interfaces -----------------------------------------------------------------

    def create_network_interface(self, name: str, subnet_id: str, description: str = "") -> Eni:
        with self.store.locked(name):
            vpc = self.store.load(name)
            eni = vpc.add_eni(subnet_id, description)
            self.store.save(vpc)
        return eni

    def delete_network_interface(self, name: str, eni_id: str) -> None:
        with self.store.locked(name):
            vpc = self.store.load(name)
            vpc.remove_eni(eni_id)
            self.store.save(vpc)

    def attach_network_interface(self, name: str, eni_id: str, instance_id: str,
                                 device_index: int | None = None) -> Eni:
        with self.store.locked(name):
            vpc = self.store.load(name)
            eni = vpc.attach_eni(eni_id, instance_id, device_index)
            self.store.save(vpc)
            fabric.apply_instance(vpc, vpc.instance(instance_id))
        return eni

    def detach_network_interface(self, name: str, eni_id: str) -> Eni:
        with self.store.locked(name):
            vpc = self.store.load(name)
            instance_id = vpc.eni(eni_id).instance_id
            eni = vpc.detach_eni(eni_id)
            self.store.save(vpc)
            if instance_id is not None:
                fabric.apply_instance(vpc, vpc.instance(instance_id))
                fabric.remove_strays(vpc)  # the router port of the detached ENI
        return eni

    def add_network_interface(self, name: str, instance_id: str, description: str = "") -> Eni:
        """Create a secondary ENI in the instance's subnet and attach it at the next device index
        (what aws-vpc-cni does when its warm pool runs low)."""
        with self.store.locked(name):
            vpc = self.store.load(name)
            instance = vpc.instance(instance_id)
            eni = vpc.add_eni(instance.subnet_id, description)
            vpc.attach_eni(eni.id, instance_id)
            self.store.save(vpc)
            fabric.apply_instance(vpc, instance)
        return eni

    def assign_private_ips(self, name: str, eni_id: str, count: int = 0,
                           addresses: list[str] | None = None) -> list[str]:
        """Add secondary private IPs to an ENI; returns the newly assigned ones."""
        with self.store.locked(name):
            vpc = self.store.load(name)
            assigned = vpc.assign_secondary_ips(eni_id, count, addresses)
            self.store.save(vpc)
            self._apply_owner(vpc, eni_id)
        return assigned

    def unassign_private_ips(self, name: str, eni_id: str, addresses: list[str]) -> list[str]:
        with self.store.locked(name):
            vpc = self.store.load(name)
            removed = vpc.unassign_secondary_ips(eni_id, addresses)
            self.store.save(vpc)
            self._apply_owner(vpc, eni_id)
        return removed

    def _apply_owner(self, vpc: Vpc, eni_id: str) -> None:
        eni = vpc.eni(eni_id)
        if eni.instance_id is not None:  # a detached ENI's addresses are routed when it is attached
            fabric.apply_eni_addresses(vpc, eni)
