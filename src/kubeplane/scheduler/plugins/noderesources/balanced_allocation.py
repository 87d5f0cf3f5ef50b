"""NodeResourcesBalancedAllocation: prefer nodes whose resources would be used evenly with the pod."""

from __future__ import annotations

import math

import numpy as np

from kubeplane.scheduler.framework.cycle_state import CycleState
from kubeplane.scheduler.framework.interface import MAX_NODE_SCORE, Handle
from kubeplane.scheduler.framework.nodeinfo import NodeInfo, PodInfo
from kubeplane.scheduler.framework.registry import PluginArgs
from kubeplane.scheduler.framework.resources import CPU, MEMORY
from kubeplane.scheduler.framework.status import Status
from kubeplane.scheduler.framework.vector import IntArray, NodeArrays
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

    def score_vector(self, state: CycleState, pod: PodInfo, nodes: NodeArrays, rows: IntArray) -> IntArray | None:
        """``score`` over cpu and memory for many nodes, with the same float operations in the same order."""
        if [spec.name for spec in self.resources] != [CPU, MEMORY]:
            return None
        columns = []
        for allocatable, requested in ((nodes.alloc_cpu[rows], nodes.req_cpu[rows] + pod.requests.milli_cpu),
                                       (nodes.alloc_memory[rows], nodes.req_memory[rows] + pod.requests.memory)):
            present = allocatable != 0
            fraction = np.minimum(requested / np.where(present, allocatable, 1), 1.0)
            columns.append((present, fraction))
        (cpu_present, cpu), (memory_present, memory) = columns
        mean = (cpu + memory) / 2
        std = np.sqrt(((cpu - mean) ** 2 + (memory - mean) ** 2) / 2)
        both = ((1 - std) * MAX_NODE_SCORE).astype(np.int64)  # int() truncates; these are >= 0
        # With fewer than two resources present the node is balanced by definition.
        return np.where(cpu_present & memory_present, both, MAX_NODE_SCORE)


def new(args: PluginArgs, handle: Handle) -> BalancedAllocation:
    return BalancedAllocation(args)
