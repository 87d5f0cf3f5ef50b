"""PodTopologySpread: keep matching pods spread over topology domains within maxSkew.

Filter (DoNotSchedule constraints): placing the pod on a node must not make its domain hold
more than ``maxSkew`` matching pods over the emptiest eligible domain. Score (ScheduleAnyway
constraints, or the system defaults): fewer matching pods in the node's domains scores higher.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from kubeplane.scheduler.framework.cycle_state import CycleState
from kubeplane.scheduler.framework.interface import MAX_NODE_SCORE, Handle, NodeScore, PreFilterResult
from kubeplane.scheduler.framework.nodeinfo import NodeInfo, PodInfo
from kubeplane.scheduler.framework.registry import PluginArgs
from kubeplane.scheduler.framework.status import Status
from kubeplane.scheduler.framework.vector import BoolArray, NodeArrays
from kubeplane.scheduler.plugins.podtopologyspread.constraints import (
    DO_NOT_SCHEDULE,
    HOSTNAME_KEY,
    SCHEDULE_ANYWAY,
    SYSTEM_DEFAULT_CONSTRAINTS,
    Constraint,
    has_all_keys,
    pod_constraints,
)
from kubeplane.scheduler.plugins.podtopologyspread.counting import domain_matches, skew_passes

JSON = dict[str, Any]

NAME = "PodTopologySpread"
ERR_REASON_CONSTRAINTS_NOT_MATCH = "node(s) didn't match pod topology spread constraints"
ERR_REASON_NODE_LABEL_NOT_MATCH = ERR_REASON_CONSTRAINTS_NOT_MATCH + " (missing required label)"
_FILTER_KEY = "PreFilter" + NAME
_SCORE_KEY = "PreScore" + NAME

Pair = tuple[str, str]


@dataclass
class FilterState:
    constraints: list[Constraint]
    matches: dict[Pair, int] = field(default_factory=dict)
    # Topology key -> (number of domains, fewest matches): Filter asks once per node, and walking
    # every domain each time is quadratic for a hostname key. Cleared whenever matches change.
    minimums: dict[str, tuple[int, int]] = field(default_factory=dict, compare=False, repr=False)

    def clone(self) -> FilterState:
        return FilterState(self.constraints, dict(self.matches))

    def add(self, pair: Pair, delta: int) -> None:
        self.matches[pair] = self.matches.get(pair, 0) + delta
        self.minimums.clear()

    def min_match(self, constraint: Constraint) -> int:
        found = self.minimums.get(constraint.topology_key)
        if found is None:
            domains = [count for (key, _), count in self.matches.items() if key == constraint.topology_key]
            found = self.minimums[constraint.topology_key] = (len(domains), min(domains, default=0))
        number, fewest = found
        # Fewer domains than minDomains: the missing ones count as empty.
        return 0 if number < constraint.min_domains else fewest


@dataclass
class ScoreState:
    constraints: list[Constraint]
    ignored: set[str] = field(default_factory=set)
    pair_counts: dict[Pair, int] = field(default_factory=dict)
    weights: list[float] = field(default_factory=list)


class PodTopologySpread:
    name = NAME

    def __init__(self, args: PluginArgs, handle: Handle) -> None:
        self.handle = handle
        listed = args.get("defaultConstraints") or []
        self.defaults: tuple[JSON, ...] = SYSTEM_DEFAULT_CONSTRAINTS \
            if (args.get("defaultingType") or "System") == "System" else tuple(listed)

    def _constraints(self, pod: PodInfo, when: str) -> tuple[list[Constraint], bool]:
        owners = [] if pod.spec.get("topologySpreadConstraints") else self.handle.owner_selectors(pod.pod)
        return pod_constraints(pod, when, self.defaults, owners)

    # -- filtering -------------------------------------------------------------------------------

    def pre_filter(self, state: CycleState, pod: PodInfo) -> tuple[PreFilterResult | None, Status]:
        constraints, _ = self._constraints(pod, DO_NOT_SCHEDULE)
        if not constraints:
            return None, Status.skip()
        state.write(_FILTER_KEY, FilterState(constraints, domain_matches(self.handle.snapshot(), pod, constraints)))
        return None, Status()

    # PreFilterExtensions: preemption removes victims, nominated pods are added, on cloned nodes.

    def add_pod(self, state: CycleState, pod: PodInfo, to_add: PodInfo, node: NodeInfo) -> Status:
        return self._update(state, pod, to_add, node, 1)

    def remove_pod(self, state: CycleState, pod: PodInfo, to_remove: PodInfo, node: NodeInfo) -> Status:
        return self._update(state, pod, to_remove, node, -1)

    def _update(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo, delta: int) -> Status:
        filter_state: FilterState | None = state.get(_FILTER_KEY)
        if filter_state is None or not has_all_keys(node, filter_state.constraints):
            return Status()
        for constraint in filter_state.constraints:
            if not constraint.node_eligible(pod, node) or not constraint.counts(other.pod, pod.namespace):
                continue
            filter_state.add((constraint.topology_key, node.labels[constraint.topology_key]), delta)
        return Status()

    def filter_vector(self, state: CycleState, pod: PodInfo, nodes: NodeArrays) -> BoolArray:
        filter_state: FilterState = state.read(_FILTER_KEY)
        passes = nodes.all.copy()
        for constraint in filter_state.constraints:
            self_match = 1 if constraint.selector.matches(pod.labels) else 0
            limit = constraint.max_skew + filter_state.min_match(constraint) - self_match
            counts = nodes.per_domain(constraint.topology_key, filter_state.matches)
            passes &= skew_passes(nodes, constraint.topology_key, counts, limit)
        return passes

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        filter_state: FilterState = state.read(_FILTER_KEY)
        for constraint in filter_state.constraints:
            value = node.labels.get(constraint.topology_key)
            if value is None:
                return Status.unschedulable(ERR_REASON_NODE_LABEL_NOT_MATCH, unresolvable=True)
            self_match = 1 if constraint.selector.matches(pod.labels) else 0
            count = filter_state.matches.get((constraint.topology_key, value), 0)
            if count + self_match - filter_state.min_match(constraint) > constraint.max_skew:
                return Status.unschedulable(ERR_REASON_CONSTRAINTS_NOT_MATCH)
        return Status()

    # -- scoring ---------------------------------------------------------------------------------

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        constraints, system_defaulted = self._constraints(pod, SCHEDULE_ANYWAY)
        if not constraints:
            return Status.skip()
        score_state = ScoreState(constraints)
        domains: list[set[str]] = [set() for _ in constraints]
        for node in nodes:
            # Pods with their own constraints need every key; system defaults use what a node has.
            if not system_defaulted and not has_all_keys(node, constraints):
                score_state.ignored.add(node.name)
                continue
            for index, constraint in enumerate(constraints):
                value = node.labels.get(constraint.topology_key)
                if value is None:
                    continue
                domains[index].add(value)
                if constraint.topology_key != HOSTNAME_KEY:
                    score_state.pair_counts.setdefault((constraint.topology_key, value), 0)
        for node in self.handle.snapshot().node_infos:
            if not system_defaulted and not has_all_keys(node, constraints):
                continue
            for constraint in constraints:
                pair = (constraint.topology_key, node.labels.get(constraint.topology_key, ""))
                if pair in score_state.pair_counts and constraint.node_eligible(pod, node):
                    score_state.pair_counts[pair] += constraint.matching_pods(node, pod.namespace)
        # More domains: each extra pod in a domain matters less; log keeps weights comparable.
        considered = len(nodes) - len(score_state.ignored)
        score_state.weights = [math.log((considered if c.topology_key == HOSTNAME_KEY else len(domains[i])) + 2)
                               for i, c in enumerate(constraints)]
        state.write(_SCORE_KEY, score_state)
        return Status()

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> tuple[int, Status]:
        score_state: ScoreState = state.read(_SCORE_KEY)
        if node.name in score_state.ignored:
            return 0, Status()
        total = 0.0
        for constraint, weight in zip(score_state.constraints, score_state.weights, strict=True):
            value = node.labels.get(constraint.topology_key)
            if value is None:
                continue
            if constraint.topology_key == HOSTNAME_KEY:
                count = constraint.matching_pods(node, pod.namespace)
            else:
                count = score_state.pair_counts.get((constraint.topology_key, value), 0)
            total += count * weight + (constraint.max_skew - 1)
        return math.floor(total + 0.5), Status()  # Go's math.Round, not banker's rounding

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[NodeScore]) -> Status:
        score_state: ScoreState = state.read(_SCORE_KEY)
        counted = [s.score for s in scores if s.name not in score_state.ignored]
        if not counted:
            return Status()
        lowest, highest = min(counted), max(counted)
        for s in scores:
            if s.name in score_state.ignored:
                s.score = 0
            elif highest == 0:
                s.score = MAX_NODE_SCORE
            else:
                s.score = MAX_NODE_SCORE * (highest + lowest - s.score) // highest
        return Status()


def new(args: PluginArgs, handle: Handle) -> PodTopologySpread:
    return PodTopologySpread(args, handle)
