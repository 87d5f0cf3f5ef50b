"""NodeUnschedulable: cordoned nodes (``spec.unschedulable``) take only pods tolerating the cordon."""

from __future__ import annotations

from kubeplane.machinery.taints import NO_SCHEDULE, tolerated
from kubeplane.scheduler.framework.cycle_state import CycleState
from kubeplane.scheduler.framework.interface import Handle
from kubeplane.scheduler.framework.nodeinfo import NodeInfo, PodInfo
from kubeplane.scheduler.framework.registry import PluginArgs
from kubeplane.scheduler.framework.status import Status
from kubeplane.scheduler.framework.vector import BoolArray, NodeArrays

NAME = "NodeUnschedulable"
ERR_REASON_UNSCHEDULABLE = "node(s) were unschedulable"
# The taint the node lifecycle controller puts on cordoned nodes; tolerating it tolerates the cordon.
UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": NO_SCHEDULE}


class NodeUnschedulable:
    name = NAME

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if not (node.node.get("spec") or {}).get("unschedulable"):
            return Status()
        if tolerated(UNSCHEDULABLE_TAINT, pod.spec.get("tolerations") or []):
            return Status()
        return Status.unschedulable(ERR_REASON_UNSCHEDULABLE, unresolvable=True)

    def filter_vector(self, state: CycleState, pod: PodInfo, nodes: NodeArrays) -> BoolArray | None:
        if tolerated(UNSCHEDULABLE_TAINT, pod.spec.get("tolerations") or []):
            return nodes.all
        return ~nodes.unschedulable


def new(args: PluginArgs, handle: Handle) -> NodeUnschedulable:
    return NodeUnschedulable()
