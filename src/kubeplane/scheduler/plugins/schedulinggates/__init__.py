"""SchedulingGates: a pod with ``spec.schedulingGates`` stays out of the active queue until they are gone."""

from __future__ import annotations

from kubeplane.scheduler.framework.interface import Handle
from kubeplane.scheduler.framework.nodeinfo import PodInfo
from kubeplane.scheduler.framework.registry import PluginArgs
from kubeplane.scheduler.framework.status import Status

NAME = "SchedulingGates"


class SchedulingGates:
    name = NAME

    def pre_enqueue(self, pod: PodInfo) -> Status:
        gates = [gate.get("name", "") for gate in pod.spec.get("schedulingGates") or []]
        if not gates:
            return Status()
        return Status.unschedulable(f"waiting for scheduling gates: [{' '.join(gates)}]", unresolvable=True)


def new(args: PluginArgs, handle: Handle) -> SchedulingGates:
    return SchedulingGates()
