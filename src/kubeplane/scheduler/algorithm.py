"""One scheduling decision: which nodes fit the pod, how they score, which one wins.

Pure with respect to the API: it reads a snapshot and runs a profile's plugins, so unit tests
drive it with crafted nodes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from kubeplane.scheduler.framework.cycle_state import CycleState
from kubeplane.scheduler.framework.fit_error import Diagnosis, FitError
from kubeplane.scheduler.framework.interface import NodeScore
from kubeplane.scheduler.framework.nodeinfo import NodeInfo, PodInfo, Snapshot
from kubeplane.scheduler.framework.runtime import Framework
from kubeplane.scheduler.framework.status import Status

MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5
DEFAULT_PERCENTAGE_OF_NODES_TO_SCORE = 50


class SchedulingError(Exception):
    """A plugin failed (an error, not a verdict about the pod)."""

    def __init__(self, status: Status) -> None:
        super().__init__(f"running {status.plugin or 'plugin'}: {status.message()}")
        self.status = status


@dataclass
class ScheduleResult:
    node_name: str
    evaluated_nodes: int
    feasible_nodes: int


def num_feasible_nodes_to_find(percentage: int, num_all_nodes: int) -> int:
    """Upstream's adaptive cut-off: big clusters stop filtering once enough nodes fit."""
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    adaptive = percentage
    if adaptive <= 0:
        adaptive = max(DEFAULT_PERCENTAGE_OF_NODES_TO_SCORE - num_all_nodes // 125,
                       MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    return max(num_all_nodes * adaptive // 100, MIN_FEASIBLE_NODES_TO_FIND)


class Algorithm:
    def __init__(self, percentage_of_nodes_to_score: int = 0, rng: random.Random | None = None) -> None:
        self.percentage = percentage_of_nodes_to_score
        self.next_start_node_index = 0  # round-robin, so every node gets looked at over time
        self.rng = rng or random.Random()

    def schedule(self, fwk: Framework, state: CycleState, pod: PodInfo, snapshot: Snapshot) -> ScheduleResult:
        """The chosen node; raises FitError when none fits and SchedulingError when a plugin fails."""
        nodes = snapshot.node_infos
        if not nodes:
            raise FitError(0, Diagnosis())
        feasible, diagnosis = self.find_nodes_that_fit(fwk, state, pod, nodes)
        if not feasible:
            raise FitError(len(nodes), diagnosis)
        evaluated = len(feasible) + len(diagnosis.node_to_status)
        if len(feasible) == 1:
            return ScheduleResult(feasible[0].name, evaluated, 1)
        scores = self.prioritize(fwk, state, pod, feasible)
        return ScheduleResult(self.select_host(scores), evaluated, len(feasible))

    def find_nodes_that_fit(self, fwk: Framework, state: CycleState, pod: PodInfo,
                            nodes: list[NodeInfo]) -> tuple[list[NodeInfo], Diagnosis]:
        diagnosis = Diagnosis()
        result, status = fwk.run_pre_filter(state, pod)
        if not status.ok:
            if not status.rejected:
                raise SchedulingError(status)
            # Every node fails the same way; keep the message once.
            diagnosis.pre_filter_msg = status.message()
            diagnosis.unschedulable_plugins.add(status.plugin)
            diagnosis.node_to_status = {node.name: status for node in nodes}
            return [], diagnosis
        candidates = nodes
        if result is not None and result.node_names is not None:
            candidates = [node for node in nodes if node.name in result.node_names]
            for node in nodes:
                if node.name not in result.node_names:
                    diagnosis.node_to_status[node.name] = Status.unschedulable(
                        "node(s) didn't satisfy plugin(s) [PreFilter]", unresolvable=True)
        wanted = num_feasible_nodes_to_find(fwk.profile.percentage_of_nodes_to_score or self.percentage,
                                            len(candidates))
        feasible: list[NodeInfo] = []
        start = self.next_start_node_index % max(len(candidates), 1)
        checked = 0
        for offset in range(len(candidates)):
            node = candidates[(start + offset) % len(candidates)]
            checked += 1
            status = fwk.run_filter_with_nominated_pods(state, pod, node)
            if status.ok:
                feasible.append(node)
                if len(feasible) >= wanted:
                    break
            elif status.rejected:
                diagnosis.node_to_status[node.name] = status
                diagnosis.unschedulable_plugins.add(status.plugin)
            else:
                raise SchedulingError(status)
        self.next_start_node_index = (start + checked) % max(len(candidates), 1)
        return feasible, diagnosis

    def prioritize(self, fwk: Framework, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[NodeScore]:
        status = fwk.run_pre_score(state, pod, nodes)
        if not status.ok:
            raise SchedulingError(status)
        scores, status = fwk.run_score(state, pod, nodes)
        if not status.ok:
            raise SchedulingError(status)
        return scores

    def select_host(self, scores: list[NodeScore]) -> str:
        """The highest score; ties broken uniformly at random (reservoir sampling) to spread load."""
        best = scores[0]
        ties = 1
        for candidate in scores[1:]:
            if candidate.score > best.score:
                best, ties = candidate, 1
            elif candidate.score == best.score:
                ties += 1
                if self.rng.randrange(ties) == 0:
                    best = candidate
        return best.name

