"""NodeName: a pod that names its node (``spec.nodeName``) fits only there."""

from __future__ import annotations

from kubeplane.scheduler.framework.cycle_state import CycleState
from kubeplane.scheduler.framework.interface import Handle
from kubeplane.scheduler.framework.nodeinfo import NodeInfo, PodInfo
from kubeplane.scheduler.framework.registry import PluginArgs
from kubeplane.scheduler.framework.status import Status
from kubeplane.scheduler.framework.vector import BoolArray, NodeArrays

NAME = "NodeName"
ERR_REASON = "node(s) didn't match the requested node name"


class NodeName:
    name = NAME

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        wanted = pod.spec.get("nodeName")
        if wanted and wanted != node.name:
            return Status.unschedulable(ERR_REASON, unresolvable=True)
        return Status()

    def filter_vector(self, state: CycleState, pod: PodInfo, nodes: NodeArrays) -> BoolArray | None:
        return None if pod.spec.get("nodeName") else nodes.all  # a named node is rare: per node


def new(args: PluginArgs, handle: Handle) -> NodeName:
    return NodeName()
