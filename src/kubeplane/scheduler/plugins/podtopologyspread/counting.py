"""Matching pods per topology domain over the snapshot's columns, for PreFilter and Filter.

Upstream walks every node per pod cycle; here a node's domain is an interned index per topology
key (``NodeArrays.domains``), only the rows the pod label index says may hold a matching pod are
visited, and the per-domain sums are a bincount. The result is the same dict of (key, value) ->
count the per-node walk gives: every domain of an eligible node is present, empty ones with 0.
"""

from __future__ import annotations

import numpy as np

from kubeplane.machinery.nodeaffinity import required_node_affinity_matches
from kubeplane.machinery.taints import NO_EXECUTE, NO_SCHEDULE, first_untolerated, pod_tolerations
from kubeplane.scheduler.framework.nodeinfo import PodInfo, Snapshot
from kubeplane.scheduler.framework.vector import BoolArray, IntArray, NodeArrays
from kubeplane.scheduler.plugins.podtopologyspread.constraints import Constraint

Pair = tuple[str, str]


def _has_required_node_affinity(pod: PodInfo) -> bool:
    return bool(pod.spec.get("nodeSelector") or (pod.spec.get("affinity") or {}).get("nodeAffinity"))


def eligible_rows(constraint: Constraint, pod: PodInfo, snapshot: Snapshot) -> BoolArray:
    """``Constraint.node_eligible`` for every row."""
    arrays = snapshot.arrays
    eligible = arrays.all.copy()
    # Without a nodeSelector or node affinity every node matches: no need to ask node by node.
    if constraint.honor_node_affinity and _has_required_node_affinity(pod):
        eligible &= np.fromiter((required_node_affinity_matches(pod.pod, info.node) for info in snapshot.node_infos),
                                dtype=bool, count=arrays.size)
    if constraint.honor_node_taints:
        tolerations = pod_tolerations(pod.pod)
        tolerated = [first_untolerated(taints, tolerations, lambda t: t.get("effect") in (NO_SCHEDULE, NO_EXECUTE))
                     is None for taints in arrays.taint_sets]
        eligible &= arrays.per_taint_set(tolerated, bool)
    return eligible


def domain_matches(snapshot: Snapshot, pod: PodInfo, constraints: list[Constraint]) -> dict[Pair, int]:
    """(topology key, value) -> pods the constraint counts there, over eligible nodes that carry
    every constraint's key; constraints sharing a key add up, as in the per-node walk."""
    arrays = snapshot.arrays
    columns = [arrays.domains(c.topology_key) for c in constraints]
    has_all_keys = np.logical_and.reduce([column >= 0 for column, _ in columns])
    matches: dict[Pair, int] = {}
    for constraint, (column, values) in zip(constraints, columns, strict=True):
        eligible = has_all_keys & eligible_rows(constraint, pod, snapshot)
        pods = np.zeros(arrays.size, dtype=np.int64)
        for row in arrays.rows_with_pods_matching(constraint.selector):
            if eligible[row]:
                pods[row] = constraint.matching_pods(snapshot.node_infos[row], pod.namespace)
        ids = column[eligible]
        present = np.bincount(ids, minlength=len(values))
        totals = np.bincount(ids, weights=pods[eligible], minlength=len(values)).astype(np.int64)
        for index in np.flatnonzero(present).tolist():
            pair = (constraint.topology_key, values[index])
            matches[pair] = matches.get(pair, 0) + int(totals[index])
    return matches


def skew_passes(arrays: NodeArrays, key: str, counts_by_domain: IntArray, limit: int) -> BoolArray:
    """Rows whose node has ``key`` and whose domain holds at most ``limit`` matching pods."""
    column, values = arrays.domains(key)
    if not values:
        return np.zeros(arrays.size, dtype=bool)
    return (column >= 0) & (counts_by_domain[column] <= limit)
