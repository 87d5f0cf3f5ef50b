"""The warm pool's arithmetic against aws-vpc-cni's documented examples, and ENI limits."""

from __future__ import annotations

import pytest

from kubeplane.network.ipam import limits_for, max_pods
from kubeplane.network.ipam.limits import UnknownInstanceType
from kubeplane.network.ipam.pool import OutOfAddresses, Plan, Pool, PoolEni, WarmTargets


def test_max_pods_follows_the_eks_formula() -> None:
    assert max_pods("t3.medium") == 3 * (6 - 1) + 2 == 17
    assert max_pods("m5.large") == 29
    assert max_pods("m5.xlarge") == 4 * 14 + 2 == 58
    assert limits_for("t3.small").pod_ips_per_eni == 3
    with pytest.raises(UnknownInstanceType, match=r"unknown instance type 'x9\.huge'"):
        limits_for("x9.huge")


class Simulated:
    """A pool plus a tiny VPC that carries out its plans at once, to reach steady states."""

    def __init__(self, instance_type: str, targets: WarmTargets) -> None:
        self.pool = Pool(limits_for(instance_type), targets, [PoolEni("eni-0", 0, "10.0.0.10")])
        self.next_ip = 100
        self.now = 1000.0

    def settle(self) -> None:
        for _ in range(50):
            plan = self.pool.plan(self.now)
            if not plan.grows and not plan.shrinks:
                return
            self.carry_out(plan)
        raise AssertionError("the pool never settled")

    def carry_out(self, plan: Plan) -> None:
        for eni_id, count in plan.assign.items():
            self.pool.add_ips(eni_id, [self.new_ip() for _ in range(count)])
        if plan.attach_eni and not plan.assign:
            index = len(self.pool.enis)
            self.pool.add_eni(PoolEni(f"eni-{index}", index, self.new_ip()))
        for eni_id, ips in plan.unassign.items():
            self.pool.remove_ips(eni_id, ips)
        for eni_id in plan.remove_enis:
            self.pool.remove_eni(eni_id)

    def new_ip(self) -> str:
        self.next_ip += 1
        return f"10.0.{self.next_ip // 250}.{self.next_ip % 250}"

    def run_pods(self, count: int) -> None:
        for number in range(count):
            self.pool.assign(f"c{number}", "eth0", self.now)
            self.settle()

    def shape(self) -> tuple[int, int, int]:
        """(attached ENIs, secondary IPs, unused IPs), the columns of aws-vpc-cni's table."""
        total = self.pool.total_ips()
        return len(self.pool.enis), total, total - len(self.pool.assignments)


# Rows of docs/eni-and-ip-target.md in aws-vpc-cni (t3.small: 3 ENIs, 3 pod IPs each).
@pytest.mark.parametrize(("targets", "pods", "expected"), [
    (WarmTargets(warm_eni_target=1), 0, (1, 3, 3)),
    (WarmTargets(warm_eni_target=1), 5, (3, 9, 4)),
    (WarmTargets(warm_eni_target=1), 9, (3, 9, 0)),
    (WarmTargets(warm_ip_target=1, minimum_ip_target=1), 0, (1, 1, 1)),
    (WarmTargets(warm_ip_target=1, minimum_ip_target=1), 5, (2, 6, 1)),
    (WarmTargets(warm_ip_target=1, minimum_ip_target=1), 9, (3, 9, 0)),
    (WarmTargets(warm_ip_target=2, minimum_ip_target=5), 0, (2, 5, 5)),
    (WarmTargets(warm_ip_target=2, minimum_ip_target=5), 5, (3, 7, 2)),
    (WarmTargets(warm_ip_target=2, minimum_ip_target=5), 9, (3, 9, 0)),
])
def test_steady_state_matches_aws_vpc_cni(targets: WarmTargets, pods: int, expected: tuple[int, int, int]) -> None:
    node = Simulated("t3.small", targets)
    node.settle()
    node.run_pods(pods)
    assert node.shape() == expected


def test_assignment_is_idempotent_by_container_and_interface() -> None:
    node = Simulated("t3.small", WarmTargets())
    node.settle()
    first = node.pool.assign("abc", "eth0", node.now)
    assert node.pool.assign("abc", "eth0", node.now) == first
    assert node.pool.assign("abc", "eth1", node.now).ip != first.ip
    assert first.eni_id == "eni-0" and first.device_index == 0


def test_exhausted_node_raises_out_of_addresses() -> None:
    node = Simulated("t3.nano", WarmTargets())  # 2 ENIs with one pod address each
    node.settle()
    node.run_pods(2)
    assert not node.pool.can_grow()
    with pytest.raises(OutOfAddresses):
        node.pool.assign("third", "eth0", node.now)


def test_released_address_cools_down_before_reuse() -> None:
    node = Simulated("t3.small", WarmTargets(ip_cooldown=30))
    node.settle()
    ip = node.pool.assign("a", "eth0", node.now).ip
    assert node.pool.release("a", "eth0", node.now) is not None
    assert node.pool.release("a", "eth0", node.now) is None  # DEL twice: nothing left to free
    assert ip not in [free for _, free in node.pool.free_ips(node.now + 29)]
    assert ip in [free for _, free in node.pool.free_ips(node.now + 31)]


def test_surplus_is_released_only_after_the_release_delay() -> None:
    node = Simulated("t3.small", WarmTargets(ip_cooldown=0, release_delay=60))
    node.settle()
    node.run_pods(5)
    assert node.shape() == (3, 9, 4)
    for number in range(5):
        node.pool.release(f"c{number}", "eth0", node.now)
    plan = node.pool.plan(node.now)
    assert not plan.grows and not plan.shrinks  # surplus noticed, clock started
    node.now += 30
    assert not node.pool.plan(node.now).shrinks
    node.now += 31
    plan = node.pool.plan(node.now)
    assert plan.remove_enis == ["eni-2"]  # the last idle secondary ENI goes first, one at a time
    node.carry_out(plan)
    node.settle()
    assert node.shape() == (1, 3, 3)  # back to the idle shape; the primary ENI never goes


def test_surplus_ips_go_back_with_warm_ip_target() -> None:
    node = Simulated("m5.large", WarmTargets(warm_ip_target=2, ip_cooldown=0, release_delay=0))
    node.settle()
    node.run_pods(4)
    assert node.shape() == (1, 6, 2)
    for number in range(3):
        node.pool.release(f"c{number}", "eth0", node.now)
    plan = node.pool.plan(node.now)
    assert plan.unassign and sum(len(ips) for ips in plan.unassign.values()) == 3
    node.carry_out(plan)
    assert node.shape() == (1, 3, 2)
    assert node.pool.assignment("c3", "eth0") is not None  # the remaining pod keeps its address


def test_addresses_in_use_are_never_planned_for_release() -> None:
    node = Simulated("t3.small", WarmTargets(warm_ip_target=1, ip_cooldown=0, release_delay=0))
    node.settle()
    node.run_pods(5)
    for number in range(4):
        node.pool.release(f"c{number}", "eth0", node.now)
    still_held = node.pool.assignment("c4", "eth0")
    assert still_held is not None
    plan = node.pool.plan(node.now)
    released = {ip for ips in plan.unassign.values() for ip in ips}
    released |= {ip for eni_id in plan.remove_enis for ip in node.pool.enis[eni_id].ips}
    assert len(released) == 6 - 2  # six addresses; one pod plus one warm are kept
    assert still_held.ip not in released
