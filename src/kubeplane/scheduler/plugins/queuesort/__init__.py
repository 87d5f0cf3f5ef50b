"""PrioritySort: higher ``spec.priority`` first, then whoever has waited longest."""

from __future__ import annotations

from kubeplane.scheduler.framework.interface import Handle, QueuedPodInfo
from kubeplane.scheduler.framework.registry import PluginArgs

NAME = "PrioritySort"


class PrioritySort:
    name = NAME

    def less(self, a: QueuedPodInfo, b: QueuedPodInfo) -> bool:
        pa, pb = a.pod_info.priority, b.pod_info.priority
        return pa > pb or (pa == pb and a.timestamp < b.timestamp)


def new(args: PluginArgs, handle: Handle) -> PrioritySort:
    return PrioritySort()
