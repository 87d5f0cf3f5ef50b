"""NodeResourcesFit: the pod's requests must fit in what the node has left; then score by strategy."""

from __future__ import annotations

from collections.abc import Set as AbstractSet

from kubeplane.scheduler.framework.cycle_state import CycleState
from kubeplane.scheduler.framework.interface import Handle, PreFilterResult
from kubeplane.scheduler.framework.nodeinfo import NodeInfo, PodInfo
from kubeplane.scheduler.framework.registry import PluginArgs
from kubeplane.scheduler.framework.resources import CPU, EPHEMERAL_STORAGE, MEMORY, Resources
from kubeplane.scheduler.framework.status import Status
from kubeplane.scheduler.framework.vector import BoolArray, IntArray, NodeArrays
from kubeplane.scheduler.plugins.noderesources.scoring import ScoringStrategy

NAME = "NodeResourcesFit"
TOO_MANY_PODS = "Too many pods"
_STATE_KEY = "PreFilter" + NAME


def insufficient_resources(request: Resources, node: NodeInfo, ignored: AbstractSet[str] = frozenset(),
                           ignored_groups: AbstractSet[str] = frozenset()) -> list[str]:
    """Upstream's reasons, in its order: pod count, cpu, memory, ephemeral storage, then the rest."""
    reasons = []
    if len(node.pods) + 1 > node.allocatable.allowed_pods:
        reasons.append(TOO_MANY_PODS)
    free = node.allocatable.copy()
    free.add(node.requested, -1)
    for name in (CPU, MEMORY, EPHEMERAL_STORAGE):
        wanted = request.get(name)
        if wanted > 0 and wanted > free.get(name):
            reasons.append(f"Insufficient {name}")
    for name, wanted in sorted(request.scalars.items()):
        if wanted == 0 or name in ignored or name.split("/", 1)[0] in ignored_groups:
            continue
        if wanted > free.get(name):
            reasons.append(f"Insufficient {name}")
    return reasons


class NodeResourcesFit:
    name = NAME

    def __init__(self, args: PluginArgs) -> None:
        self.ignored = set(args.get("ignoredResources") or [])
        self.ignored_groups = set(args.get("ignoredResourceGroups") or [])
        self.strategy = ScoringStrategy.parse(args.get("scoringStrategy"))

    def pre_filter(self, state: CycleState, pod: PodInfo) -> tuple[PreFilterResult | None, Status]:
        state.write(_STATE_KEY, pod.requests)
        return None, Status()

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        request = state.get(_STATE_KEY) or pod.requests
        reasons = insufficient_resources(request, node, self.ignored, self.ignored_groups)
        return Status.unschedulable(*reasons) if reasons else Status()

    def filter_vector(self, state: CycleState, pod: PodInfo, nodes: NodeArrays) -> BoolArray | None:
        request = state.get(_STATE_KEY) or pod.requests
        if any(wanted and name not in self.ignored and name.split("/", 1)[0] not in self.ignored_groups
               for name, wanted in request.scalars.items()):
            return None  # extended resources are not columns: per node
        fits = nodes.num_pods + 1 <= nodes.alloc_pods
        for wanted, allocatable, requested in ((request.milli_cpu, nodes.alloc_cpu, nodes.req_cpu),
                                               (request.memory, nodes.alloc_memory, nodes.req_memory),
                                               (request.ephemeral_storage, nodes.alloc_ephemeral, nodes.req_ephemeral)):
            if wanted > 0:
                fits &= wanted <= allocatable - requested
        return fits

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> tuple[int, Status]:
        return self.strategy.score(pod, node), Status()

    def score_vector(self, state: CycleState, pod: PodInfo, nodes: NodeArrays, rows: IntArray) -> IntArray | None:
        return self.strategy.score_vector(pod, nodes, rows)


def new(args: PluginArgs, handle: Handle) -> NodeResourcesFit:
    return NodeResourcesFit(args)
