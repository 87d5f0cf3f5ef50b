"""NodeAffinity: nodeSelector and required node affinity filter; preferred terms add their weights."""

from __future__ import annotations

from typing import Any

from kubeplane.machinery.nodeaffinity import (
    required_node_affinity_matches,
    selector_matches,
    term_matches,
)
from kubeplane.scheduler.framework.cycle_state import CycleState
from kubeplane.scheduler.framework.interface import Handle, NodeScore, PreFilterResult, default_normalize
from kubeplane.scheduler.framework.nodeinfo import NodeInfo, PodInfo
from kubeplane.scheduler.framework.registry import PluginArgs
from kubeplane.scheduler.framework.status import Status

JSON = dict[str, Any]

NAME = "NodeAffinity"
ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector"
ERR_REASON_ENFORCED = "node(s) didn't match scheduler-enforced node affinity"


def _node_affinity(pod: PodInfo) -> JSON:
    return (pod.spec.get("affinity") or {}).get("nodeAffinity") or {}


class NodeAffinity:
    name = NAME

    def __init__(self, added_affinity: JSON | None = None) -> None:
        # Profile-level affinity every pod of the profile must also satisfy (args.addedAffinity).
        self.added_affinity = added_affinity or {}

    def pre_filter(self, state: CycleState, pod: PodInfo) -> tuple[PreFilterResult | None, Status]:
        if not pod.spec.get("nodeSelector") and not _node_affinity(pod).get(
                "requiredDuringSchedulingIgnoredDuringExecution") and not self.added_affinity:
            return None, Status.skip()
        return None, Status()

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        required = self.added_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
        if required is not None and not selector_matches(required, node.node):
            return Status.unschedulable(ERR_REASON_ENFORCED, unresolvable=True)
        if not required_node_affinity_matches(pod.pod, node.node):
            return Status.unschedulable(ERR_REASON_POD, unresolvable=True)
        return Status()

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        preferred = (_node_affinity(pod).get("preferredDuringSchedulingIgnoredDuringExecution") or []) + \
            (self.added_affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or [])
        if not preferred:
            return Status.skip()
        state.write("PreScore" + NAME, preferred)
        return Status()

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> tuple[int, Status]:
        preferred = state.get("PreScore" + NAME, [])
        total = sum(int(term.get("weight") or 0) for term in preferred
                    if term_matches(term.get("preference") or {}, node.node))
        return total, Status()

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[NodeScore]) -> Status:
        default_normalize(scores)
        return Status()


def new(args: PluginArgs, handle: Handle) -> NodeAffinity:
    return NodeAffinity(args.get("addedAffinity"))
