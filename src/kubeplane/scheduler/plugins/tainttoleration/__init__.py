"""TaintToleration: NoSchedule/NoExecute taints exclude a node; PreferNoSchedule ones lower its score."""

from __future__ import annotations

from typing import Any

from kubeplane.machinery.taints import (
    NO_EXECUTE,
    NO_SCHEDULE,
    PREFER_NO_SCHEDULE,
    first_untolerated,
    node_taints,
    pod_tolerations,
    tolerated,
)
from kubeplane.scheduler.framework.cycle_state import CycleState
from kubeplane.scheduler.framework.interface import Handle, NodeScore, default_normalize
from kubeplane.scheduler.framework.nodeinfo import NodeInfo, PodInfo
from kubeplane.scheduler.framework.registry import PluginArgs
from kubeplane.scheduler.framework.status import Status
from kubeplane.scheduler.framework.vector import BoolArray, IntArray, NodeArrays, default_normalize_vector

JSON = dict[str, Any]

NAME = "TaintToleration"
_STATE_KEY = "PreScore" + NAME


class TaintToleration:
    name = NAME

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        taint = first_untolerated(node_taints(node.node), pod_tolerations(pod.pod), _excludes)
        if taint is None:
            return Status()
        return Status.unschedulable(
            f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value', '')}}}",
            unresolvable=True)

    def filter_vector(self, state: CycleState, pod: PodInfo, nodes: NodeArrays) -> BoolArray | None:
        # Decided once per distinct taint list, then spread to the nodes that carry it.
        tolerations = pod_tolerations(pod.pod)
        fits = [first_untolerated(taints, tolerations, _excludes) is None for taints in nodes.taint_sets]
        return nodes.per_taint_set(fits, bool)

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        # Only tolerations that could cover a PreferNoSchedule taint matter for scoring.
        relevant = [t for t in pod_tolerations(pod.pod) if (t.get("effect") or PREFER_NO_SCHEDULE) == PREFER_NO_SCHEDULE]
        state.write(_STATE_KEY, relevant)
        return Status()

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> tuple[int, Status]:
        return _intolerable_preferences(node_taints(node.node), state.get(_STATE_KEY, pod_tolerations(pod.pod))), \
            Status()

    def score_vector(self, state: CycleState, pod: PodInfo, nodes: NodeArrays, rows: IntArray) -> IntArray | None:
        tolerations = state.get(_STATE_KEY, pod_tolerations(pod.pod))
        counts = [_intolerable_preferences(taints, tolerations) for taints in nodes.taint_sets]
        return default_normalize_vector(nodes.per_taint_set(counts, "int64")[rows], reverse=True)

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[NodeScore]) -> Status:
        default_normalize(scores, reverse=True)  # fewer intolerable taints is better
        return Status()


def _excludes(taint: JSON) -> bool:
    return taint.get("effect") in (NO_SCHEDULE, NO_EXECUTE)


def _intolerable_preferences(taints: list[JSON], tolerations: list[JSON]) -> int:
    return sum(1 for taint in taints if taint.get("effect") == PREFER_NO_SCHEDULE and not tolerated(taint, tolerations))


def new(args: PluginArgs, handle: Handle) -> TaintToleration:
    return TaintToleration()
