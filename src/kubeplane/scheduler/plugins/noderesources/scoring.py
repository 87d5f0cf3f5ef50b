"""How full a node would be with the pod on it, turned into a 0..100 score per strategy."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from kubeplane.scheduler.framework.interface import MAX_NODE_SCORE
from kubeplane.scheduler.framework.nodeinfo import NodeInfo, PodInfo
from kubeplane.scheduler.framework.resources import CPU, MEMORY
from kubeplane.scheduler.framework.vector import IntArray, NodeArrays

LEAST_ALLOCATED, MOST_ALLOCATED, REQUESTED_TO_CAPACITY_RATIO = \
    "LeastAllocated", "MostAllocated", "RequestedToCapacityRatio"
MAX_CUSTOM_PRIORITY_SCORE = 10  # shape scores are 0..10, scaled to 0..MAX_NODE_SCORE


@dataclass(frozen=True)
class ResourceSpec:
    name: str
    weight: int = 1


DEFAULT_RESOURCES = (ResourceSpec(CPU, 1), ResourceSpec(MEMORY, 1))


def resource_specs(raw: Any) -> tuple[ResourceSpec, ...]:
    if not raw:
        return DEFAULT_RESOURCES
    return tuple(ResourceSpec(str(r["name"]), int(r.get("weight") or 1)) for r in raw)


def requested_and_allocatable(pod: PodInfo, node: NodeInfo, resources: Sequence[ResourceSpec],
                              use_requested: bool) -> list[tuple[int, int, int]]:
    """(requested with the pod, allocatable, weight) for each resource the node has.

    ``use_requested`` counts real requests; otherwise cpu/memory use the non-zero defaults so
    that pods asking for nothing still count for something.
    """
    out = []
    for spec in resources:
        allocatable = node.allocatable.get(spec.name)
        if spec.name in (CPU, MEMORY) and not use_requested:
            requested = node.non_zero_requested.get(spec.name) + pod.non_zero_requests.get(spec.name)
        else:
            pod_request = pod.requests.get(spec.name)
            if pod_request == 0 and spec.name not in (CPU, MEMORY):
                continue  # an extended resource the pod does not use says nothing about fit
            requested = node.requested.get(spec.name) + pod_request
        if allocatable == 0:
            continue
        out.append((requested, allocatable, spec.weight))
    return out


def least_allocated(requested: int, allocatable: int) -> float:
    if requested > allocatable:
        return 0
    return (allocatable - requested) * MAX_NODE_SCORE // allocatable


def most_allocated(requested: int, allocatable: int) -> float:
    return min(requested, allocatable) * MAX_NODE_SCORE // allocatable


def broken_linear(shape: Sequence[tuple[int, int]]) -> Callable[[int, int], float]:
    """RequestedToCapacityRatio: interpolate the (utilization %, score 0..10) shape."""
    points = sorted(shape)

    def raw(utilization: float) -> float:
        for index, (x, y) in enumerate(points):
            if utilization <= x:
                if index == 0:
                    return y
                x0, y0 = points[index - 1]
                return y0 + (y - y0) * (utilization - x0) / (x - x0)
        return points[-1][1]

    def score(requested: int, allocatable: int) -> float:
        utilization = 100 if requested > allocatable else requested * 100 // allocatable
        return raw(utilization) * MAX_NODE_SCORE / MAX_CUSTOM_PRIORITY_SCORE

    return score


def weighted(values: list[tuple[int, int, int]], per_resource: Callable[[int, int], float],
             rounding: Callable[[float], int]) -> int:
    weight_sum = sum(weight for _, _, weight in values)
    if weight_sum == 0:
        return 0
    return rounding(sum(per_resource(r, a) * w for r, a, w in values) / weight_sum)


def _round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


@dataclass(frozen=True)
class ScoringStrategy:
    type: str
    resources: tuple[ResourceSpec, ...]
    per_resource: Callable[[int, int], float]

    @classmethod
    def parse(cls, raw: dict[str, Any] | None) -> ScoringStrategy:
        raw = raw or {}
        kind = raw.get("type") or LEAST_ALLOCATED
        resources = resource_specs(raw.get("resources"))
        if kind == LEAST_ALLOCATED:
            return cls(kind, resources, least_allocated)
        if kind == MOST_ALLOCATED:
            return cls(kind, resources, most_allocated)
        if kind == REQUESTED_TO_CAPACITY_RATIO:
            shape = [(int(p["utilization"]), int(p["score"]))
                     for p in (raw.get("requestedToCapacityRatio") or {}).get("shape") or []]
            if not shape:
                raise ValueError("requestedToCapacityRatio.shape must not be empty")
            return cls(kind, resources, broken_linear(shape))
        raise ValueError(f"unsupported scoringStrategy.type {kind!r}")

    def score(self, pod: PodInfo, node: NodeInfo) -> int:
        values = requested_and_allocatable(pod, node, self.resources, use_requested=False)
        # Upstream rounds only the ratio strategy (half away from zero, as Go's math.Round); the
        # others divide integers.
        rounding = _round_half_up if self.type == REQUESTED_TO_CAPACITY_RATIO else math.floor
        return weighted(values, self.per_resource, rounding)

    def score_vector(self, pod: PodInfo, nodes: NodeArrays, rows: IntArray) -> IntArray | None:
        """``score`` for many nodes: Least/MostAllocated over cpu and memory (others: None, per node)."""
        if self.type == REQUESTED_TO_CAPACITY_RATIO or any(s.name not in (CPU, MEMORY) for s in self.resources):
            return None
        total = np.zeros(len(rows), dtype=np.int64)
        weight_sum = np.zeros(len(rows), dtype=np.int64)
        for spec in self.resources:
            if spec.name == CPU:
                allocatable = nodes.alloc_cpu[rows]
                requested = nodes.non_zero_cpu[rows] + pod.non_zero_requests.milli_cpu
            else:
                allocatable = nodes.alloc_memory[rows]
                requested = nodes.non_zero_memory[rows] + pod.non_zero_requests.memory
            present = allocatable != 0  # a resource the node lacks is left out, weight and all
            safe = np.where(present, allocatable, 1)
            if self.type == LEAST_ALLOCATED:
                score = np.where(requested > safe, 0, (safe - requested) * MAX_NODE_SCORE // safe)
            else:
                score = np.minimum(requested, safe) * MAX_NODE_SCORE // safe
            total += np.where(present, score * spec.weight, 0)
            weight_sum += np.where(present, spec.weight, 0)
        # Integer floor division equals math.floor of the float quotient for these small sums.
        return np.where(weight_sum == 0, 0, total // np.maximum(weight_sum, 1))
