"""The VPC model without a kernel: subnet carving, the address allocator, ENIs and instances,
names, and the JSON state on disk."""

from __future__ import annotations

import ipaddress
import json
import multiprocessing
from pathlib import Path

import pytest

from kubeplane.network.vpc import names
from kubeplane.network.vpc.model import NotFound, SubnetFull, Vpc, VpcError
from kubeplane.network.vpc.store import VpcStore


def test_default_vpc_has_three_zones_with_disjoint_slash20s() -> None:
    vpc = Vpc.new("tmodel")
    assert vpc.cidr == "198.18.0.0/16"
    assert vpc.zones == ["us-east-1a", "us-east-1b", "us-east-1c"]
    assert [s.cidr for s in vpc.subnets] == ["198.18.0.0/20", "198.18.16.0/20", "198.18.32.0/20"]
    assert [s.gateway for s in vpc.subnets] == ["198.18.0.1", "198.18.16.1", "198.18.32.1"]
    assert vpc.id.startswith("vpc-") and all(s.id.startswith("subnet-") for s in vpc.subnets)
    assert len({s.id for s in vpc.subnets}) == 3


def test_custom_cidr_and_region() -> None:
    vpc = Vpc.new("tmodel", "198.18.64.0/18", region="eu-west-1")
    assert [s.cidr for s in vpc.subnets] == ["198.18.64.0/22", "198.18.68.0/22", "198.18.72.0/22"]
    assert vpc.subnet_in_zone("b").zone == "eu-west-1b"
    assert vpc.subnet_in_zone("eu-west-1c").cidr == "198.18.72.0/22"


@pytest.mark.parametrize("cidr", ["10.0.0.0/16", "198.19.0.0/16", "198.18.0.0/15", "198.18.0.0/25", "nonsense"])
def test_cidrs_outside_the_simulated_space_or_too_small_are_refused(cidr: str) -> None:
    with pytest.raises(VpcError):
        Vpc.new("tmodel", cidr)


@pytest.mark.parametrize("name", ["", "-a", "A", "a_b", "x" * 33, "a-"])
def test_bad_vpc_names_are_refused(name: str) -> None:
    with pytest.raises(VpcError):
        Vpc.new(name)


def test_allocator_skips_aws_reserved_addresses_and_fills_from_the_bottom() -> None:
    vpc = Vpc.new("tmodel", "198.18.0.0/24")  # subnets are /28: 16 addresses, 11 assignable
    subnet = vpc.subnets[0]
    got = vpc.allocate_addresses(subnet.id, 11)
    assert got == [f"198.18.0.{n}" for n in range(4, 15)]  # not .0-.3, not .15 (broadcast)
    with pytest.raises(SubnetFull):
        vpc.allocate_addresses(subnet.id, 12)


def test_allocation_counts_primary_and_secondary_addresses_and_reuses_freed_ones() -> None:
    vpc = Vpc.new("tmodel", "198.18.0.0/24")
    subnet = vpc.subnets[0]
    instance = vpc.add_instance("a")
    primary = vpc.primary_eni(instance.id)
    assert primary.primary_ip == "198.18.0.4"
    assert vpc.assign_secondary_ips(primary.id, count=3) == ["198.18.0.5", "198.18.0.6", "198.18.0.7"]
    second = vpc.add_eni(subnet.id)
    assert second.primary_ip == "198.18.0.8"
    assert vpc.unassign_secondary_ips(primary.id, ["198.18.0.6", "198.18.0.99"]) == ["198.18.0.6"]
    assert vpc.assign_secondary_ips(second.id, count=1) == ["198.18.0.6"]
    # Every assignable address used exactly once, in this subnet only.
    used = [a for eni in vpc.enis for a in eni.addresses]
    assert len(used) == len(set(used))
    assert all(ipaddress.IPv4Address(a) in subnet.network for a in used)
    assert vpc.used_addresses(vpc.subnets[1].id) == set()


def test_explicit_secondary_addresses_are_checked() -> None:
    vpc = Vpc.new("tmodel")
    eni = vpc.primary_eni(vpc.add_instance("a").id)
    assert vpc.assign_secondary_ips(eni.id, addresses=["198.18.0.50"]) == ["198.18.0.50"]
    assert vpc.assign_secondary_ips(eni.id, addresses=["198.18.0.50"]) == []  # idempotent
    for bad in ["198.18.0.2", "198.18.15.255", "198.18.16.9", eni.primary_ip, "x"]:
        with pytest.raises(VpcError):
            vpc.assign_secondary_ips(eni.id, addresses=[bad])


def test_instances_get_a_primary_eni_at_device_0_and_client_tokens_are_idempotent() -> None:
    vpc = Vpc.new("tmodel")
    first = vpc.add_instance("us-east-1b", client_token="node-1")
    again = vpc.add_instance("b", client_token="node-1")
    other = vpc.add_instance("b")
    assert first is again and other.id != first.id
    assert first.id.startswith("i-") and len(first.id) == 19
    eni = vpc.primary_eni(first.id)
    assert (eni.device_index, eni.instance_id, eni.subnet_id) == (0, first.id, vpc.subnet_in_zone("b").id)
    assert eni.id.startswith("eni-") and eni.mac.startswith("02:") and len(eni.mac) == 17


def test_attach_detach_secondary_enis() -> None:
    vpc = Vpc.new("tmodel")
    instance = vpc.add_instance("a")
    first = vpc.add_eni(instance.subnet_id)
    second = vpc.add_eni(instance.subnet_id)
    assert vpc.attach_eni(first.id, instance.id).device_index == 1
    assert vpc.attach_eni(first.id, instance.id).device_index == 1  # idempotent
    assert vpc.attach_eni(second.id, instance.id).device_index == 2
    assert [e.device_index for e in vpc.enis_of(instance.id)] == [0, 1, 2]
    vpc.detach_eni(first.id)
    third = vpc.add_eni(instance.subnet_id)
    assert vpc.attach_eni(third.id, instance.id).device_index == 1  # the freed slot is reused
    with pytest.raises(VpcError):
        vpc.attach_eni(first.id, instance.id, device_index=2)
    with pytest.raises(VpcError):
        vpc.detach_eni(vpc.primary_eni(instance.id).id)
    with pytest.raises(VpcError):
        vpc.remove_eni(third.id)  # still attached
    vpc.remove_eni(first.id)
    with pytest.raises(NotFound):
        vpc.eni(first.id)


def test_an_eni_cannot_be_attached_across_zones() -> None:
    vpc = Vpc.new("tmodel")
    instance = vpc.add_instance("a")
    eni = vpc.add_eni(vpc.subnet_in_zone("c").id)
    with pytest.raises(VpcError, match="different zones"):
        vpc.attach_eni(eni.id, instance.id)


def test_terminating_an_instance_releases_its_enis_and_addresses() -> None:
    vpc = Vpc.new("tmodel")
    instance = vpc.add_instance("a")
    extra = vpc.add_eni(instance.subnet_id)
    vpc.attach_eni(extra.id, instance.id)
    vpc.assign_secondary_ips(extra.id, count=2)
    vpc.remove_instance(instance.id)
    assert vpc.enis == [] and vpc.instances == []
    assert vpc.used_addresses(instance.subnet_id) == set()
    with pytest.raises(NotFound):
        vpc.remove_instance(instance.id)


def test_kernel_names_fit_linux_limits_and_are_scoped_to_the_vpc() -> None:
    vpc = Vpc.new("tmodel")
    instance = vpc.add_instance("a")
    eni = vpc.primary_eni(instance.id)
    port = names.router_veth(eni.id)
    assert len(port) <= 15 and names.is_router_veth(port) and port == names.router_veth(eni.id)
    pattern = names.owned_netns_pattern("tmodel")
    assert pattern.match(names.instance_netns("tmodel", instance.id))
    assert pattern.match(names.router_netns("tmodel"))
    # Another VPC whose name extends this one is never claimed.
    assert not pattern.match(names.router_netns("tmodel-i"))
    assert not pattern.match(names.instance_netns("tmodel-x", instance.id))
    assert not pattern.match("kp-tmodel-i-123")


def test_state_round_trips_through_json_on_disk(tmp_path: Path) -> None:
    store = VpcStore(tmp_path)
    vpc = Vpc.new("tmodel")
    instance = vpc.add_instance("a", client_token="n1")
    vpc.assign_secondary_ips(vpc.primary_eni(instance.id).id, count=2)
    store.save(vpc)
    assert store.load("tmodel") == vpc
    assert store.names() == ["tmodel"]
    assert json.loads((tmp_path / "tmodel" / "vpc.json").read_text())["id"] == vpc.id
    assert [p.name for p in (tmp_path / "tmodel").iterdir()] == ["vpc.json"]  # no temp file left
    store.remove("tmodel")
    assert not store.exists("tmodel")
    with pytest.raises(NotFound):
        store.load("tmodel")
    with pytest.raises(NotFound), store.locked("tmodel"):
        pass
    assert not (tmp_path / "tmodel").exists()  # a failed lookup leaves no directory behind


def _assign_in_child(root: str, eni_id: str, rounds: int) -> None:
    store = VpcStore(Path(root))
    for _ in range(rounds):
        with store.locked("tmodel"):
            vpc = store.load("tmodel")
            vpc.assign_secondary_ips(eni_id, count=1)
            store.save(vpc)


def test_concurrent_processes_never_hand_out_one_address_twice(tmp_path: Path) -> None:
    store = VpcStore(tmp_path)
    vpc = Vpc.new("tmodel")
    eni = vpc.primary_eni(vpc.add_instance("a").id)
    store.save(vpc)
    context = multiprocessing.get_context("fork")
    children = [context.Process(target=_assign_in_child, args=(str(tmp_path), eni.id, 15)) for _ in range(3)]
    for child in children:
        child.start()
    for child in children:
        child.join(30)
        assert child.exitcode == 0
    addresses = store.load("tmodel").eni(eni.id).secondary_ips
    assert len(addresses) == 45 and len(set(addresses)) == 45
