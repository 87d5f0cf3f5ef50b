"""The node's warm pool of pod addresses, as pure logic: no VPC calls, no kernel, no disk.

The pool knows the instance's ENIs and their secondary IPs, which pod holds which IP, and which
released IPs are still cooling down. ``plan`` compares that with the warm targets and says what to
ask the VPC for; the daemon carries the plan out and reports back with ``add_eni``/``add_ips``/
``remove_*``. Targets follow aws-vpc-cni:

* ``WARM_ENI_TARGET`` (default 1, used when neither IP target is set): every attached ENI is filled
  with all the secondary IPs it can hold, and another ENI is attached while fewer than
  ``warm_eni_target`` ENIs' worth of addresses are free. So an idle t3.small (3 pod IPs per ENI)
  keeps one ENI with 3 IPs; with 5 pods it has 3 ENIs and 4 free IPs.
* ``WARM_IP_TARGET`` / ``MINIMUM_IP_TARGET``: keep ``max(in use + warm, minimum)`` IPs, filling
  ENIs in device order and attaching the next one only when the attached ones are full.

Released addresses cool down (30 s in aws-vpc-cni) before they are handed out again, so a new pod
never gets an address that a dead pod's peers may still be talking to. Surplus IPs and ENIs are
only given back once the surplus has lasted ``release_delay``, so a pod churning in and out does
not make the pool flap.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from kubeplane.network.ipam.limits import InstanceLimits

DEFAULT_IP_COOLDOWN = 30.0
DEFAULT_RELEASE_DELAY = 60.0


class OutOfAddresses(Exception):
    """No free pod address on the node right now (the pool may still be able to grow)."""


@dataclass
class PoolEni:
    id: str
    device_index: int
    primary_ip: str  # the ENI's own address: never given to a pod
    ips: list[str] = field(default_factory=list)  # secondary IPs, the pod addresses


@dataclass
class Assignment:
    """One pod interface's address. ``container_id`` + ``ifname`` is the key, as in CNI."""

    ip: str
    eni_id: str
    device_index: int
    container_id: str
    ifname: str
    netns: str = ""
    host_veth: str = ""
    pod_namespace: str = ""
    pod_name: str = ""


@dataclass(frozen=True)
class WarmTargets:
    warm_eni_target: int = 1
    warm_ip_target: int = 0  # 0: unset
    minimum_ip_target: int = 0  # 0: unset
    ip_cooldown: float = DEFAULT_IP_COOLDOWN
    release_delay: float = DEFAULT_RELEASE_DELAY

    @property
    def by_ip(self) -> bool:
        """aws-vpc-cni: either IP target, once set, replaces WARM_ENI_TARGET."""
        return self.warm_ip_target > 0 or self.minimum_ip_target > 0


@dataclass
class Plan:
    assign: dict[str, int] = field(default_factory=dict)  # ENI id → how many more secondary IPs
    attach_eni: bool = False
    unassign: dict[str, list[str]] = field(default_factory=dict)
    remove_enis: list[str] = field(default_factory=list)

    @property
    def grows(self) -> bool:
        return bool(self.assign) or self.attach_eni

    @property
    def shrinks(self) -> bool:
        return bool(self.unassign) or bool(self.remove_enis)


class Pool:
    def __init__(self, limits: InstanceLimits, targets: WarmTargets, enis: Iterable[PoolEni] = (),
                 assignments: Iterable[Assignment] = (), cooling: dict[str, float] | None = None) -> None:
        self.limits = limits
        self.targets = targets
        self.enis: dict[str, PoolEni] = {}
        for eni in enis:
            self.add_eni(eni)
        self.assignments: dict[tuple[str, str], Assignment] = {(a.container_id, a.ifname): a for a in assignments}
        self.cooling: dict[str, float] = dict(cooling or {})  # IP → time (epoch s) it may be reused
        self._surplus_since: float | None = None

    # ---- queries ----------------------------------------------------------------------------

    def assignment(self, container_id: str, ifname: str) -> Assignment | None:
        return self.assignments.get((container_id, ifname))

    def ordered_enis(self) -> list[PoolEni]:
        return sorted(self.enis.values(), key=lambda eni: eni.device_index)

    def assigned_ips(self) -> set[str]:
        return {assignment.ip for assignment in self.assignments.values()}

    def cooling_ips(self, now: float) -> set[str]:
        return {ip for ip, until in self.cooling.items() if until > now}

    def free_ips(self, now: float) -> list[tuple[PoolEni, str]]:
        """Addresses a new pod may get, lowest device index first."""
        busy = self.assigned_ips() | self.cooling_ips(now)
        return [(eni, ip) for eni in self.ordered_enis() for ip in eni.ips if ip not in busy]

    def total_ips(self) -> int:
        return sum(len(eni.ips) for eni in self.enis.values())

    def in_use(self, now: float) -> int:
        """Addresses not available for new pods: assigned ones and those cooling down."""
        owned = {ip for eni in self.enis.values() for ip in eni.ips}
        return len((self.assigned_ips() | self.cooling_ips(now)) & owned)

    def can_grow(self) -> bool:
        return (len(self.enis) < self.limits.max_enis
                or any(len(eni.ips) < self.limits.pod_ips_per_eni for eni in self.enis.values()))

    # ---- pods -------------------------------------------------------------------------------

    def assign(self, container_id: str, ifname: str, now: float, netns: str = "", host_veth: str = "",
               pod_namespace: str = "", pod_name: str = "") -> Assignment:
        """The pod interface's address: the one it already has (ADD is idempotent), or a free one."""
        existing = self.assignment(container_id, ifname)
        if existing is not None:
            return existing
        free = self.free_ips(now)
        if not free:
            raise OutOfAddresses(f"no free address among {self.total_ips()} on {len(self.enis)} ENIs")
        eni, ip = free[0]
        self.cooling.pop(ip, None)
        assignment = Assignment(ip, eni.id, eni.device_index, container_id, ifname, netns, host_veth,
                                pod_namespace, pod_name)
        self.assignments[(container_id, ifname)] = assignment
        return assignment

    def release(self, container_id: str, ifname: str, now: float) -> Assignment | None:
        """Free a pod interface's address into cooldown; None if it had none (DEL is idempotent)."""
        assignment = self.assignments.pop((container_id, ifname), None)
        if assignment is not None and self.targets.ip_cooldown > 0:
            self.cooling[assignment.ip] = now + self.targets.ip_cooldown
        return assignment

    # ---- what the VPC did -------------------------------------------------------------------

    def add_eni(self, eni: PoolEni) -> None:
        self.enis[eni.id] = eni

    def add_ips(self, eni_id: str, ips: Iterable[str]) -> None:
        eni = self.enis[eni_id]
        eni.ips += [ip for ip in ips if ip not in eni.ips]

    def remove_ips(self, eni_id: str, ips: Iterable[str]) -> None:
        doomed = set(ips)
        eni = self.enis[eni_id]
        eni.ips = [ip for ip in eni.ips if ip not in doomed]
        for ip in doomed:
            self.cooling.pop(ip, None)

    def remove_eni(self, eni_id: str) -> None:
        eni = self.enis.pop(eni_id)
        for ip in eni.ips:
            self.cooling.pop(ip, None)

    def expire_cooling(self, now: float) -> None:
        self.cooling = {ip: until for ip, until in self.cooling.items() if until > now}

    # ---- planning ---------------------------------------------------------------------------

    def plan(self, now: float) -> Plan:
        """What to change so the pool meets its targets. Growth is always planned; shrinking only
        once a surplus has lasted ``release_delay`` (the pool remembers when it started)."""
        self.expire_cooling(now)
        plan = self._plan_by_ip(now) if self.targets.by_ip else self._plan_by_eni(now)
        if not plan.shrinks:
            self._surplus_since = None
            return plan
        if self._surplus_since is None:
            self._surplus_since = now
        if now - self._surplus_since < self.targets.release_delay:
            plan.unassign, plan.remove_enis = {}, []
        return plan

    def _plan_by_eni(self, now: float) -> Plan:
        plan = Plan()
        per_eni = self.limits.pod_ips_per_eni
        for eni in self.ordered_enis():
            if len(eni.ips) < per_eni:
                plan.assign[eni.id] = per_eni - len(eni.ips)
        free_when_full = len(self.enis) * per_eni - self.in_use(now)
        wanted_free = self.targets.warm_eni_target * per_eni
        if free_when_full < wanted_free and len(self.enis) < self.limits.max_enis:
            plan.attach_eni = True
        elif not plan.grows:
            # Give back one idle secondary ENI at a time, if the rest still meet the target.
            for eni in reversed(self._idle_secondary_enis(now)):
                if free_when_full - per_eni >= wanted_free:
                    plan.remove_enis.append(eni.id)
                break
        return plan

    def _plan_by_ip(self, now: float) -> Plan:
        plan = Plan()
        per_eni = self.limits.pod_ips_per_eni
        wanted = max(self.in_use(now) + self.targets.warm_ip_target, self.targets.minimum_ip_target)
        wanted = min(wanted, self.limits.max_pod_ips)
        short = wanted - self.total_ips()
        if short > 0:
            for eni in self.ordered_enis():
                room = min(per_eni - len(eni.ips), short)
                if room > 0:
                    plan.assign[eni.id] = room
                    short -= room
            plan.attach_eni = short > 0 and len(self.enis) < self.limits.max_enis
            return plan
        excess = -short
        busy = self.assigned_ips() | self.cooling_ips(now)
        idle = {eni.id for eni in self._idle_secondary_enis(now)}
        for eni in reversed(self.ordered_enis()):  # empty the last ENIs first, so they can go
            if eni.id in idle and len(eni.ips) <= excess:  # also an idle ENI left with no IPs
                plan.remove_enis.append(eni.id)
                excess -= len(eni.ips)
                continue
            spare = [ip for ip in eni.ips if ip not in busy][:excess]
            if spare:
                plan.unassign[eni.id] = spare
                excess -= len(spare)
        return plan

    def _idle_secondary_enis(self, now: float) -> list[PoolEni]:
        """Secondary ENIs (never the primary) with no pod and no cooling address, in device order."""
        busy = self.assigned_ips() | self.cooling_ips(now)
        return [eni for eni in self.ordered_enis()
                if eni.device_index > 0 and not any(ip in busy for ip in eni.ips)]
