"""Which pods a shrinking ReplicaSet deletes first (upstream ``ActivePodsWithRanks``).

Cheapest to lose first: unscheduled < scheduled; Pending < Unknown < Running; not ready <
ready; lower ``controller.kubernetes.io/pod-deletion-cost``; more pods of the same workload on
its node (spreads what remains); ready for less time; more container restarts; newer.
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import Any

from kubeplane.controllers.pods import is_pod_active, is_pod_ready, ready_condition

JSON = dict[str, Any]

POD_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
_PHASE_ORDER = {"Pending": 0, "Unknown": 1, "Running": 2}


def deletion_cost(pod: JSON) -> int:
    value = ((pod.get("metadata") or {}).get("annotations") or {}).get(POD_DELETION_COST)
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0  # upstream validation rejects these; treat a stray one as the default


def _restarts(pod: JSON) -> int:
    statuses = (pod.get("status") or {}).get("containerStatuses") or ()
    return max((int(s.get("restartCount") or 0) for s in statuses), default=0)


def _node(pod: JSON) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


def _compare(a: tuple[JSON, int], b: tuple[JSON, int]) -> int:
    """Negative when ``a`` should be deleted before ``b``."""
    (pa, rank_a), (pb, rank_b) = a, b
    node_a, node_b = _node(pa), _node(pb)
    if node_a != node_b and (not node_a or not node_b):
        return -1 if not node_a else 1
    phase_a = _PHASE_ORDER.get((pa.get("status") or {}).get("phase", ""), 0)
    phase_b = _PHASE_ORDER.get((pb.get("status") or {}).get("phase", ""), 0)
    if phase_a != phase_b:
        return phase_a - phase_b
    ready_a, ready_b = is_pod_ready(pa), is_pod_ready(pb)
    if ready_a != ready_b:
        return -1 if not ready_a else 1
    if deletion_cost(pa) != deletion_cost(pb):
        return deletion_cost(pa) - deletion_cost(pb)
    if rank_a != rank_b:
        return -1 if rank_a > rank_b else 1
    if ready_a and ready_b:
        # RFC 3339 UTC strings order as times; the more recently ready goes first.
        since_a = (ready_condition(pa) or {}).get("lastTransitionTime") or ""
        since_b = (ready_condition(pb) or {}).get("lastTransitionTime") or ""
        if since_a != since_b:
            return -1 if since_a > since_b or not since_a else 1
    if _restarts(pa) != _restarts(pb):
        return -1 if _restarts(pa) > _restarts(pb) else 1
    created_a = pa["metadata"].get("creationTimestamp") or ""
    created_b = pb["metadata"].get("creationTimestamp") or ""
    if created_a != created_b:
        return -1 if created_a > created_b or not created_a else 1
    return 0


def pods_to_delete(pods: list[JSON], related: list[JSON], count: int) -> list[JSON]:
    """The ``count`` pods to delete; ``related`` are the pods of the whole workload (e.g. every
    ReplicaSet of one Deployment), used to rank pods by how crowded their node is."""
    if count >= len(pods):
        return list(pods)
    per_node = Counter(_node(p) for p in related if is_pod_active(p) and _node(p))
    ranked = [(pod, per_node.get(_node(pod), 0)) for pod in pods]
    ranked.sort(key=functools.cmp_to_key(_compare))
    return [pod for pod, _ in ranked[:count]]
