"""Preemption's dry run: which pods to evict on a node, and which node's eviction set is cheapest.

Pure: it runs a framework's filters against cloned NodeInfos and cycle states, so unit tests drive
it with crafted snapshots and nothing is touched until the plugin acts on the chosen candidate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kubeplane.scheduler.framework.cycle_state import CycleState
from kubeplane.scheduler.framework.nodeinfo import NodeInfo, PodInfo
from kubeplane.scheduler.framework.status import Status
from kubeplane.scheduler.plugins.defaultpreemption.pdb import split_by_pdb_violation

if TYPE_CHECKING:
    from kubeplane.scheduler.framework.runtime import Framework

JSON = dict[str, Any]

NO_VICTIMS = "No preemption victims found for incoming pod"
# A pod that never started counts as starting "now": later than any pod that did (RFC 3339 in UTC
# sorts as text).
_NOT_STARTED = "9999-12-31T23:59:59Z"
# Upstream shifts priorities by MaxInt32 + 1 before summing, so negative priorities still add up
# to "more" than fewer victims of priority 0.
_PRIORITY_SHIFT = 2**31


def start_time(pod: PodInfo) -> str:
    return str((pod.pod.get("status") or {}).get("startTime") or _NOT_STARTED)


def importance(pod: PodInfo) -> tuple[int, str]:
    """Sort key, most important first: higher priority, then the pod that started earlier."""
    return -pod.priority, start_time(pod)


@dataclass
class Candidate:
    """A node where evicting ``victims`` lets the pod fit."""

    node_name: str
    victims: list[PodInfo] = field(default_factory=list)
    num_pdb_violations: int = 0


def select_victims_on_node(fwk: Framework, state: CycleState, pod: PodInfo, node: NodeInfo,
                           pdbs: Sequence[JSON]) -> tuple[list[PodInfo], int, Status]:
    """Upstream's SelectVictimsOnNode, on a clone of ``node`` and ``state``.

    Remove every pod of lower priority; if the pod then fits, give pods back, most important
    first (those whose eviction would violate a PDB before the others), keeping each one that
    still leaves room. What could not be given back are the victims.
    """
    state, node = state.clone(), node.clone()
    potential = [p for p in node.pods if p.priority < pod.priority]
    if not potential:
        return [], 0, Status.unschedulable(NO_VICTIMS, unresolvable=True)
    for victim in potential:
        status = _remove(fwk, state, pod, victim, node)
        if not status.ok:
            return [], 0, status
    status = fwk.run_filter_with_nominated_pods(state, pod, node)
    if not status.ok:
        return [], 0, status
    potential.sort(key=importance)
    violating, non_violating = split_by_pdb_violation(potential, pdbs)
    victims: list[PodInfo] = []
    num_violations = 0
    for group, violates in ((violating, True), (non_violating, False)):
        for candidate in group:
            node.add_pod(candidate)
            status = fwk.run_pre_filter_extension_add_pod(state, pod, candidate, node)
            if not status.ok:
                return [], 0, status
            if fwk.run_filter_with_nominated_pods(state, pod, node).ok:
                continue  # reprieved: the pod fits with this one staying
            status = _remove(fwk, state, pod, candidate, node)
            if not status.ok:
                return [], 0, status
            victims.append(candidate)
            num_violations += violates
    if violating and non_violating:
        victims.sort(key=importance)  # keep highest priority first for the node choice
    return victims, num_violations, Status()


def _remove(fwk: Framework, state: CycleState, pod: PodInfo, victim: PodInfo, node: NodeInfo) -> Status:
    node.remove_pod(victim.key)
    return fwk.run_pre_filter_extension_remove_pod(state, pod, victim, node)


def pick_one_node(candidates: Sequence[Candidate]) -> Candidate | None:
    """Upstream's pickOneNodeForPreemption: each criterion narrows the field, the first wins ties.

    1. fewest PDB violations; 2. lowest highest-priority victim; 3. smallest sum of (shifted)
    priorities; 4. fewest victims; 5. latest start among each node's highest-priority victims.
    """
    if not candidates:
        return None
    for candidate in candidates:
        if not candidate.victims:
            return candidate
    criteria = (
        lambda c: -c.num_pdb_violations,
        lambda c: -c.victims[0].priority,
        lambda c: -sum(v.priority + _PRIORITY_SHIFT for v in c.victims),
        lambda c: -len(c.victims),
        _latest_start_key,
    )
    field_ = list(candidates)
    for score in criteria:
        best = max(score(c) for c in field_)
        field_ = [c for c in field_ if score(c) == best]
        if len(field_) == 1:
            break
    return field_[0]


def _latest_start_key(candidate: Candidate) -> str:
    """The earliest start among the node's highest-priority victims (a later one wins)."""
    top = max(v.priority for v in candidate.victims)
    return min(start_time(v) for v in candidate.victims if v.priority == top)
