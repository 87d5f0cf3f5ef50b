"""NodeResourcesBalancedAllocation: prefer nodes whose resources would be used evenly with the pod."""

from __future__ import annotations

import math

from kubeplane.scheduler.framework.cycle_state import CycleState
from kubeplane.scheduler.framework.interface import MAX_NODE_SCORE, Handle
from kubeplane.scheduler.framework.nodeinfo import NodeInfo, PodInfo
from kubeplane.scheduler.framework.registry import PluginArgs
from kubeplane.scheduler.framework.status import Status
from kubeplane.scheduler.plugins.noderesources.scoring import requested_and_allocatable, resource_specs

NAME = "NodeResourcesBalancedAllocation"


def balance_score(fractions: list[float]) -> int:
    """(1 - standard deviation of the used fractions) * 100: all equal scores 100."""
    if len(fractions) < 2:
        return MAX_NODE_SCORE
    mean = sum(fractions) / len(fractions)
    std = math.sqrt(sum((f - mean) ** 2 for f in fractions) / len(fractions))
    return int((1 - std) * MAX_NODE_SCORE)


class BalancedAllocation:
    name = NAME

    def __init__(self, args: PluginArgs) -> None:
        self.resources = resource_specs(args.get("resources"))

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        # A pod that requests none of the resources cannot unbalance anything.
        if all(pod.requests.get(spec.name) == 0 for spec in self.resources):
            return Status.skip()
        return Status()

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> tuple[int, Status]:
        values = requested_and_allocatable(pod, node, self.resources, use_requested=True)
        return balance_score([min(requested / allocatable, 1.0) for requested, allocatable, _ in values]), Status()


def new(args: PluginArgs, handle: Handle) -> BalancedAllocation:
    return BalancedAllocation(args)
