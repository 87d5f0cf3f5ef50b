"""InterPodAffinity: place pods near (affinity) or away from (anti-affinity) pods they select.

Counts are kept per topology pair (key, value): PreFilter counts once over the snapshot, and
Filter only looks up the node's pairs. Existing pods' required anti-affinity is symmetric: a pod
may not land in a domain whose pods refuse it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from kubeplane.scheduler.framework.affinity_terms import AffinityTerm, WeightedAffinityTerm
from kubeplane.scheduler.framework.cycle_state import CycleState
from kubeplane.scheduler.framework.interface import MAX_NODE_SCORE, Handle, NodeScore, PreFilterResult
from kubeplane.scheduler.framework.nodeinfo import NodeInfo, PodInfo
from kubeplane.scheduler.framework.registry import PluginArgs
from kubeplane.scheduler.framework.status import Status
from kubeplane.scheduler.framework.vector import BoolArray, IntArray, NodeArrays

NAME = "InterPodAffinity"
ERR_REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
ERR_REASON_AFFINITY = "node(s) didn't match pod affinity rules"
ERR_REASON_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
_FILTER_KEY = "PreFilter" + NAME
_SCORE_KEY = "PreScore" + NAME

Pair = tuple[str, str]


@dataclass
class FilterState:
    existing_anti_affinity: Counter[Pair] = field(default_factory=Counter)
    affinity: Counter[Pair] = field(default_factory=Counter)
    anti_affinity: Counter[Pair] = field(default_factory=Counter)

    def clone(self) -> FilterState:
        return FilterState(Counter(self.existing_anti_affinity), Counter(self.affinity), Counter(self.anti_affinity))


def _in_domains_with_pods(nodes: NodeArrays, key: str, counts: Mapping[Pair, int]) -> BoolArray:
    """Rows whose node's ``key`` label names a domain counted above zero (False without the label)."""
    column, values = nodes.domains(key)
    if not values:
        return np.zeros(nodes.size, dtype=bool)
    positive = nodes.per_domain(key, counts) > 0
    return (column >= 0) & positive[column]


def _pair(term: AffinityTerm, node: NodeInfo) -> Pair | None:
    value = node.labels.get(term.topology_key)
    return None if value is None else (term.topology_key, value)


class InterPodAffinity:
    name = NAME

    def __init__(self, args: PluginArgs, handle: Handle) -> None:
        self.handle = handle
        self.hard_pod_affinity_weight = int(args.get("hardPodAffinityWeight", 1))
        self.ignore_preferred_terms_of_existing_pods = bool(args.get("ignorePreferredTermsOfExistingPods", False))

    def _matches(self, term: AffinityTerm, pod: PodInfo) -> bool:
        return term.matches(pod.pod, self.handle.namespace_labels)

    def _matches_all(self, terms: Iterable[AffinityTerm], pod: PodInfo) -> bool:
        return all(self._matches(term, pod) for term in terms)

    # -- filtering -------------------------------------------------------------------------------

    def pre_filter(self, state: CycleState, pod: PodInfo) -> tuple[PreFilterResult | None, Status]:
        snapshot = self.handle.snapshot()
        counts = FilterState()
        # Only nodes whose pods' terms could select this pod's labels (an index, not every such pod).
        for row in snapshot.arrays.rows_with_anti_affinity_against(pod.labels):
            node = snapshot.node_infos[row]
            for existing in node.pods_with_required_anti_affinity:
                self._count_existing_anti_affinity(counts, pod, existing, node, 1)
        if pod.affinity.required_affinity or pod.affinity.required_anti_affinity:
            for row in self._rows_maybe_matched(pod, snapshot.arrays):
                node = snapshot.node_infos[row]
                for existing in node.pods:
                    self._count_incoming_terms(counts, pod, existing, node, 1)
        state.write(_FILTER_KEY, counts)
        return None, Status()

    @staticmethod
    def _rows_maybe_matched(pod: PodInfo, arrays: NodeArrays) -> list[int]:
        """Rows that may hold a pod the incoming pod's required terms select (the others add nothing
        to the counts): affinity needs every term to match, so the first term's rows suffice."""
        rows: set[int] = set()
        if pod.affinity.required_affinity:
            rows.update(arrays.rows_with_pods_matching(pod.affinity.required_affinity[0].selector))
        for term in pod.affinity.required_anti_affinity:
            rows.update(arrays.rows_with_pods_matching(term.selector))
        return sorted(rows)

    def _count_existing_anti_affinity(self, counts: FilterState, pod: PodInfo, existing: PodInfo, node: NodeInfo,
                                      delta: int) -> None:
        for term in existing.affinity.required_anti_affinity:
            pair = _pair(term, node)
            if pair is not None and self._matches(term, pod):
                counts.existing_anti_affinity[pair] += delta

    def _count_incoming_terms(self, counts: FilterState, pod: PodInfo, existing: PodInfo, node: NodeInfo,
                              delta: int) -> None:
        affinity, anti_affinity = pod.affinity.required_affinity, pod.affinity.required_anti_affinity
        if affinity and self._matches_all(affinity, existing):
            for term in affinity:
                if (pair := _pair(term, node)) is not None:
                    counts.affinity[pair] += delta
        for term in anti_affinity:
            if (pair := _pair(term, node)) is not None and self._matches(term, existing):
                counts.anti_affinity[pair] += delta

    # PreFilterExtensions: preemption removes victims, nominated pods are added, on cloned nodes.

    def add_pod(self, state: CycleState, pod: PodInfo, to_add: PodInfo, node: NodeInfo) -> Status:
        return self._update(state, pod, to_add, node, 1)

    def remove_pod(self, state: CycleState, pod: PodInfo, to_remove: PodInfo, node: NodeInfo) -> Status:
        return self._update(state, pod, to_remove, node, -1)

    def _update(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo, delta: int) -> Status:
        counts: FilterState | None = state.get(_FILTER_KEY)
        if counts is None:
            return Status()
        self._count_existing_anti_affinity(counts, pod, other, node, delta)
        self._count_incoming_terms(counts, pod, other, node, delta)
        return Status()

    def filter_vector(self, state: CycleState, pod: PodInfo, nodes: NodeArrays) -> BoolArray:
        # With no existing anti-affinity against the pod and no required terms of its own, every node
        # passes (the common case); otherwise each count becomes a mask over the domains of its key.
        counts: FilterState = state.read(_FILTER_KEY)
        if not (counts.existing_anti_affinity or pod.affinity.required_affinity
                or pod.affinity.required_anti_affinity):
            return nodes.all
        passes = nodes.all.copy()
        # Any label of the node naming a domain whose pods refuse this one rules the node out.
        for key in {key for (key, _), count in counts.existing_anti_affinity.items() if count > 0}:
            passes &= ~_in_domains_with_pods(nodes, key, counts.existing_anti_affinity)
        for term in pod.affinity.required_anti_affinity:
            passes &= ~_in_domains_with_pods(nodes, term.topology_key, counts.anti_affinity)
        terms = pod.affinity.required_affinity
        if terms:
            has_keys = np.logical_and.reduce([nodes.domains(term.topology_key)[0] >= 0 for term in terms])
            pods_exist = np.logical_and.reduce(
                [_in_domains_with_pods(nodes, term.topology_key, counts.affinity) for term in terms])
            # The first pod of a group that selects itself must be allowed somewhere.
            if not counts.affinity and self._matches_all(terms, pod):
                pods_exist = nodes.all
            passes &= has_keys & pods_exist
        return passes

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        counts: FilterState = state.read(_FILTER_KEY)
        if any(counts.existing_anti_affinity.get(pair, 0) > 0 for pair in node.labels.items()):
            return Status.unschedulable(ERR_REASON_EXISTING_ANTI_AFFINITY)
        for term in pod.affinity.required_anti_affinity:
            pair = _pair(term, node)
            if pair is not None and counts.anti_affinity.get(pair, 0) > 0:
                return Status.unschedulable(ERR_REASON_ANTI_AFFINITY)
        if not self._satisfies_affinity(counts, pod, node):
            return Status.unschedulable(ERR_REASON_AFFINITY, unresolvable=True)
        return Status()

    def _satisfies_affinity(self, counts: FilterState, pod: PodInfo, node: NodeInfo) -> bool:
        terms = pod.affinity.required_affinity
        pods_exist = True
        for term in terms:
            pair = _pair(term, node)
            if pair is None:
                return False
            if counts.affinity.get(pair, 0) <= 0:
                pods_exist = False
        if pods_exist:
            return True
        # The first pod of a group that selects itself must be allowed somewhere.
        return not counts.affinity and self._matches_all(terms, pod)

    # -- scoring ---------------------------------------------------------------------------------

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        snapshot = self.handle.snapshot()
        own_preferred = bool(pod.affinity.preferred_affinity or pod.affinity.preferred_anti_affinity)
        candidates = snapshot.node_infos if own_preferred else snapshot.have_pods_with_affinity
        if not candidates:
            return Status.skip()
        scores: Counter[Pair] = Counter()
        for node in candidates:
            existing_pods = node.pods if own_preferred else node.pods_with_affinity
            for existing in existing_pods:
                self._score_existing(pod, existing, node, scores)
        state.write(_SCORE_KEY, scores)
        return Status()

    def _add(self, scores: Counter[Pair], terms: Iterable[WeightedAffinityTerm], subject: PodInfo,
             node: NodeInfo, sign: int) -> None:
        for weighted in terms:
            pair = _pair(weighted.term, node)
            if pair is not None and self._matches(weighted.term, subject):
                scores[pair] += sign * weighted.weight

    def _score_existing(self, pod: PodInfo, existing: PodInfo, node: NodeInfo, scores: Counter[Pair]) -> None:
        self._add(scores, pod.affinity.preferred_affinity, existing, node, 1)
        self._add(scores, pod.affinity.preferred_anti_affinity, existing, node, -1)
        if self.hard_pod_affinity_weight > 0:
            required = [WeightedAffinityTerm(t, self.hard_pod_affinity_weight)
                        for t in existing.affinity.required_affinity]
            self._add(scores, required, pod, node, 1)
        if not self.ignore_preferred_terms_of_existing_pods:
            self._add(scores, existing.affinity.preferred_affinity, pod, node, 1)
            self._add(scores, existing.affinity.preferred_anti_affinity, pod, node, -1)

    def score_vector(self, state: CycleState, pod: PodInfo, nodes: NodeArrays, rows: IntArray) -> IntArray:
        scores: Mapping[Pair, int] = state.read(_SCORE_KEY)
        raw = np.zeros(len(rows), dtype=np.int64)
        for key in {key for key, _ in scores}:
            column, _ = nodes.domains(key)
            per_domain = nodes.per_domain(key, scores)
            if not per_domain.size:
                continue
            domain = column[rows]
            raw += np.where(domain >= 0, per_domain[domain], 0)
        if not raw.size:
            return raw
        lowest, spread = int(raw.min()), int(raw.max() - raw.min())
        if spread <= 0:
            return np.zeros(len(rows), dtype=np.int64)
        return MAX_NODE_SCORE * (raw - lowest) // spread

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> tuple[int, Status]:
        scores: Mapping[Pair, int] = state.read(_SCORE_KEY)
        return sum(scores.get(pair, 0) for pair in node.labels.items()), Status()

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[NodeScore]) -> Status:
        if not scores:
            return Status()
        lowest, highest = min(s.score for s in scores), max(s.score for s in scores)
        spread = highest - lowest
        for s in scores:
            s.score = MAX_NODE_SCORE * (s.score - lowest) // spread if spread > 0 else 0
        return Status()


def new(args: PluginArgs, handle: Handle) -> InterPodAffinity:
    return InterPodAffinity(args, handle)
