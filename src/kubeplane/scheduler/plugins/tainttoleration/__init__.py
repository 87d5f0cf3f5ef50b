"""TaintToleration: NoSchedule/NoExecute taints exclude a node; PreferNoSchedule ones lower its score."""

from __future__ import annotations

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

NAME = "TaintToleration"
_STATE_KEY = "PreScore" + NAME


class TaintToleration:
    name = NAME

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        taint = first_untolerated(node_taints(node.node), pod_tolerations(pod.pod),
                                  lambda t: t.get("effect") in (NO_SCHEDULE, NO_EXECUTE))
        if taint is None:
            return Status()
        return Status.unschedulable(
            f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value', '')}}}",
            unresolvable=True)

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        # Only tolerations that could cover a PreferNoSchedule taint matter for scoring.
        relevant = [t for t in pod_tolerations(pod.pod) if (t.get("effect") or PREFER_NO_SCHEDULE) == PREFER_NO_SCHEDULE]
        state.write(_STATE_KEY, relevant)
        return Status()

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> tuple[int, Status]:
        tolerations = state.get(_STATE_KEY, pod_tolerations(pod.pod))
        count = sum(1 for taint in node_taints(node.node)
                    if taint.get("effect") == PREFER_NO_SCHEDULE and not tolerated(taint, tolerations))
        return count, Status()

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[NodeScore]) -> Status:
        default_normalize(scores, reverse=True)  # fewer intolerable taints is better
        return Status()


def new(args: PluginArgs, handle: Handle) -> TaintToleration:
    return TaintToleration()
