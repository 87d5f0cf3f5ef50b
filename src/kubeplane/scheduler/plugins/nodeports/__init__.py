"""NodePorts: a pod's host ports must be free on the node (same port and protocol, overlapping IP)."""

from __future__ import annotations

from kubeplane.scheduler.framework.cycle_state import CycleState
from kubeplane.scheduler.framework.interface import Handle, PreFilterResult
from kubeplane.scheduler.framework.nodeinfo import NodeInfo, PodInfo
from kubeplane.scheduler.framework.registry import PluginArgs
from kubeplane.scheduler.framework.status import Status

NAME = "NodePorts"
ERR_REASON = "node(s) didn't have free ports for the requested pod ports"


class NodePorts:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo) -> tuple[PreFilterResult | None, Status]:
        return None, Status() if pod.ports else Status.skip()

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        for wanted in pod.ports:
            if any(wanted.conflicts(used) for used in node.used_ports):
                return Status.unschedulable(ERR_REASON)
        return Status()


def new(args: PluginArgs, handle: Handle) -> NodePorts:
    return NodePorts()
