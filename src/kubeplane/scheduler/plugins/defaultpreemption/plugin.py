"""DefaultPreemption (PostFilter): evict lower-priority pods so an unschedulable pod can fit.

The dry run (``victims.py``) finds nodes where evicting pods of lower priority would let the pod
fit and picks the cheapest. Then, as upstream's prepareCandidate: every victim gets the
``DisruptionTarget`` condition (reason ``PreemptionByScheduler``) so its owner can tell why it
went, is deleted (graceful: the kubelet stops it), and gets a ``Preempted`` event; pods of lower
priority nominated to the same node lose that nomination. The scheduler then records the node in
the pod's ``status.nominatedNodeName`` and retries it when the victims are gone.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kubeplane.client import ApiError, NotFound
from kubeplane.client.resource import PODS
from kubeplane.scheduler.framework.cycle_state import CycleState
from kubeplane.scheduler.framework.fit_error import Diagnosis, FitError
from kubeplane.scheduler.framework.interface import Handle
from kubeplane.scheduler.framework.nodeinfo import PodInfo
from kubeplane.scheduler.framework.registry import PluginArgs
from kubeplane.scheduler.framework.status import Code, Status
from kubeplane.scheduler.plugins.defaultpreemption.victims import (
    Candidate,
    pick_one_node,
    select_victims_on_node,
)

if TYPE_CHECKING:
    from kubeplane.scheduler.framework.runtime import Framework

log = logging.getLogger(__name__)

JSON = dict[str, Any]

NAME = "DefaultPreemption"
# CycleState key under which the plugin leaves how many victims it evicted (for the metrics).
VICTIMS_STATE_KEY = NAME + "/victims"
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NEVER = "not eligible due to preemptionPolicy=Never."
TERMINATING_ON_NOMINATED = "not eligible due to a terminating pod on the nominated node."
DISRUPTION_TARGET = "DisruptionTarget"
PREEMPTION_BY_SCHEDULER = "PreemptionByScheduler"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class DefaultPreemption:
    name = NAME

    def __init__(self, args: PluginArgs, handle: Handle, rng: random.Random | None = None) -> None:
        self.handle = handle
        # Upstream's DefaultPreemptionArgs: dry-run at least this many nodes (or this share of them).
        self.min_candidate_nodes_percentage = int(args.get("minCandidateNodesPercentage", 10))
        self.min_candidate_nodes_absolute = int(args.get("minCandidateNodesAbsolute", 100))
        self.rng = rng or random.Random()
        self.framework: Framework | None = None

    def set_framework(self, fwk: Framework) -> None:
        self.framework = fwk

    async def post_filter(self, state: CycleState, pod: PodInfo,
                          statuses: Mapping[str, Status]) -> tuple[str | None, Status]:
        nominated = str((pod.pod.get("status") or {}).get("nominatedNodeName") or "")
        eligible, why_not = self.pod_eligible_to_preempt_others(pod, statuses.get(nominated))
        if not eligible:
            return None, Status.unschedulable(f"preemption: {why_not}")
        candidates, node_statuses = self.find_candidates(state, pod, statuses)
        best = pick_one_node(candidates)
        if best is None:
            fit = FitError(len(node_statuses), Diagnosis(node_to_status=node_statuses))
            # '' (not None): a node nominated earlier is no use any more; the scheduler clears it.
            return "", Status.unschedulable(f"preemption: {str(fit).rstrip('.')}")
        status = await self.prepare_candidate(best, pod)
        if not status.ok:
            return None, status
        state.write(VICTIMS_STATE_KEY, len(best.victims))
        return best.node_name, Status()

    # -- the dry run ---------------------------------------------------------------------------------

    def pod_eligible_to_preempt_others(self, pod: PodInfo, nominated_status: Status | None) -> tuple[bool, str]:
        """Upstream's PodEligibleToPreemptOthers: not with preemptionPolicy Never, and not again while
        victims of an earlier preemption are still terminating on the nominated node."""
        if pod.spec.get("preemptionPolicy") == "Never":
            return False, NEVER
        nominated = str((pod.pod.get("status") or {}).get("nominatedNodeName") or "")
        if nominated:
            # The nominated node can no longer take the pod whatever happens there: look again.
            if nominated_status is not None and nominated_status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                return True, ""
            node = self.handle.snapshot().get(nominated)
            if node is not None and any(p.metadata.get("deletionTimestamp") and p.priority < pod.priority
                                        for p in node.pods):
                return False, TERMINATING_ON_NOMINATED
        return True, ""

    def candidate_count(self, num_nodes: int) -> int:
        wanted = max(num_nodes * self.min_candidate_nodes_percentage // 100, self.min_candidate_nodes_absolute)
        return min(wanted, num_nodes)

    def find_candidates(self, state: CycleState, pod: PodInfo,
                        statuses: Mapping[str, Status]) -> tuple[list[Candidate], dict[str, Status]]:
        """Dry-run preemption on the nodes where it might help, from a random offset, until enough
        candidates are found; also returns why each other node is no candidate."""
        if self.framework is None:
            raise RuntimeError("DefaultPreemption used outside a framework")
        snapshot = self.handle.snapshot()
        node_statuses: dict[str, Status] = {}
        potential = []
        for node in snapshot.node_infos:
            status = statuses.get(node.name)
            if status is not None and status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                node_statuses[node.name] = Status.unschedulable(NOT_HELPFUL, unresolvable=True)
            else:
                potential.append(node)
        candidates: list[Candidate] = []
        if not potential:
            return candidates, node_statuses
        wanted = self.candidate_count(len(potential))
        offset = self.rng.randrange(len(potential))
        pdbs = self.handle.pod_disruption_budgets(pod.namespace)
        for index in range(len(potential)):
            node = potential[(offset + index) % len(potential)]
            victims, violations, status = select_victims_on_node(self.framework, state, pod, node, pdbs)
            if status.ok:
                candidates.append(Candidate(node.name, victims, violations))
                if len(candidates) >= wanted:
                    break
            elif status.code == Code.ERROR:
                raise RuntimeError(f"preemption dry run on {node.name}: {status.message()}")
            else:
                node_statuses[node.name] = status
        return candidates, node_statuses

    # -- acting on the choice ------------------------------------------------------------------------

    async def prepare_candidate(self, candidate: Candidate, pod: PodInfo) -> Status:
        scheduler_name = str(pod.spec.get("schedulerName") or "default-scheduler")
        results = await asyncio.gather(*(self._evict(victim, pod, candidate.node_name, scheduler_name)
                                         for victim in candidate.victims))
        errors = [message for message in results if message]
        if errors:
            return Status.error("; ".join(errors))
        # The room on this node now belongs to the preemptor: lower-priority pods nominated there
        # must look elsewhere (upstream clears their nominatedNodeName).
        for other in self.handle.nominated_pods_for_node(candidate.node_name):
            if other.priority < pod.priority and other.key != pod.key:
                await self._clear_nomination(other)
        return Status()

    async def _evict(self, victim: PodInfo, pod: PodInfo, node_name: str, scheduler_name: str) -> str:
        """Mark, delete and report one victim; returns an error message or ''."""
        client = self.handle.client
        name, namespace = str(victim.metadata.get("name")), victim.namespace
        condition = {"type": DISRUPTION_TARGET, "status": "True", "reason": PREEMPTION_BY_SCHEDULER,
                     "message": f"{scheduler_name}: preempting to accommodate a higher priority pod",
                     "lastTransitionTime": _now()}
        try:
            await client.patch(PODS, name, {"status": {"conditions": [condition]}}, namespace,
                               patch_type="strategic", subresource="status")
            preconditions = {"uid": victim.metadata["uid"]} if victim.metadata.get("uid") else None
            await client.delete(PODS, name, namespace, preconditions=preconditions)
        except NotFound:
            return ""  # already gone: that is what we wanted
        except ApiError as err:
            return f"preempting {victim.key}: {err}"
        log.info("preempted %s on %s for %s", victim.key, node_name, pod.key)
        self.handle.record_event(scheduler_name, victim.pod, "Normal", "Preempted",
                                 f"Preempted by pod {pod.metadata.get('uid', '')} on node {node_name}")
        return ""

    async def _clear_nomination(self, other: PodInfo) -> None:
        self.handle.nominate(other, "")
        try:
            await self.handle.client.patch(PODS, str(other.metadata.get("name")),
                                           {"status": {"nominatedNodeName": None}}, other.namespace,
                                           patch_type="merge", subresource="status")
        except ApiError as err:
            log.info("could not clear the nominated node of %s: %s", other.key, err)


def new(args: PluginArgs, handle: Handle) -> DefaultPreemption:
    return DefaultPreemption(args, handle)
