"""One protocol per extension point; a plugin implements the ones it needs.

The framework discovers which points a plugin serves by these protocols (``isinstance`` on
runtime-checkable protocols), so a plugin is a plain class with a ``name`` and some methods.
Hooks receive the pod as a ``PodInfo`` and nodes as ``NodeInfo`` from the cycle's snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from kubeplane.client import Client
from kubeplane.machinery.labels import LabelSelector
from kubeplane.scheduler.framework.cycle_state import CycleState
from kubeplane.scheduler.framework.nodeinfo import NodeInfo, PodInfo, Snapshot
from kubeplane.scheduler.framework.status import Status

JSON = dict[str, Any]

MAX_NODE_SCORE = 100
MIN_NODE_SCORE = 0


@dataclass
class QueuedPodInfo:
    """A pod waiting in the scheduling queue, with its attempt history."""

    pod_info: PodInfo
    timestamp: float = 0.0  # when it was (re)added to the queue
    attempts: int = 0
    initial_attempt_timestamp: float | None = None
    unschedulable_plugins: set[str] = field(default_factory=set)
    gated: bool = False

    @property
    def pod(self) -> JSON:
        return self.pod_info.pod


@dataclass
class PreFilterResult:
    """Narrows the nodes worth filtering (None: every node)."""

    node_names: set[str] | None = None


@dataclass
class NodeScore:
    name: str
    score: int


class Handle(Protocol):
    """What the framework gives plugins besides the pod and node being looked at."""

    @property
    def client(self) -> Client:
        """The API client (binding, preemption); tests hand in a fake."""
        ...

    def snapshot(self) -> Snapshot: ...

    def namespace_labels(self, namespace: str) -> Mapping[str, str] | None: ...

    def owner_selectors(self, pod: JSON) -> list[LabelSelector]:
        """Selectors of the Services, ReplicaSets, ReplicationControllers and StatefulSets selecting the pod."""
        ...

    def nominated_pods_for_node(self, node_name: str) -> list[PodInfo]:
        """Pending pods that preemption made room for on ``node_name`` (upstream's PodNominator)."""
        ...

    def has_nominated_pods(self) -> bool:
        """Whether any node has nominated pods (lets the filter skip asking node by node)."""
        ...

    def nominate(self, pod: PodInfo, node_name: str) -> None:
        """Record (or with '' drop) the node preemption made room on for a pending pod."""
        ...

    def record_event(self, scheduler_name: str, obj: JSON, event_type: str, reason: str, message: str) -> None:
        """An event from the profile ``scheduler_name`` (preemption reports on its victims)."""
        ...

    def pod_disruption_budgets(self, namespace: str) -> list[JSON]:
        """The namespace's PodDisruptionBudgets, as preemption weighs its victims against them."""
        ...


@runtime_checkable
class Plugin(Protocol):
    name: str


@runtime_checkable
class PreEnqueuePlugin(Plugin, Protocol):
    def pre_enqueue(self, pod: PodInfo) -> Status: ...


@runtime_checkable
class QueueSortPlugin(Plugin, Protocol):
    def less(self, a: QueuedPodInfo, b: QueuedPodInfo) -> bool: ...


@runtime_checkable
class PreFilterPlugin(Plugin, Protocol):
    def pre_filter(self, state: CycleState, pod: PodInfo) -> tuple[PreFilterResult | None, Status]: ...


@runtime_checkable
class PreFilterExtensions(Plugin, Protocol):
    """Keep what PreFilter computed right when a pod is added to or removed from a node.

    Preemption and nominated pods try "what if this pod were (not) there" on a cloned NodeInfo;
    plugins whose PreFilter counted pods over the whole snapshot adjust their cycle state here.
    """

    def add_pod(self, state: CycleState, pod: PodInfo, to_add: PodInfo, node: NodeInfo) -> Status: ...

    def remove_pod(self, state: CycleState, pod: PodInfo, to_remove: PodInfo, node: NodeInfo) -> Status: ...


@runtime_checkable
class FilterPlugin(Plugin, Protocol):
    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status: ...


@runtime_checkable
class PostFilterPlugin(Plugin, Protocol):
    async def post_filter(self, state: CycleState, pod: PodInfo,
                          statuses: Mapping[str, Status]) -> tuple[str | None, Status]:
        """Try to make the pod schedulable (preemption); returns the nominated node name ('' to
        clear an earlier nomination, None to leave it as it is)."""
        ...


@runtime_checkable
class PreScorePlugin(Plugin, Protocol):
    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status: ...


@runtime_checkable
class ScorePlugin(Plugin, Protocol):
    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> tuple[int, Status]: ...


@runtime_checkable
class NormalizeScorePlugin(Plugin, Protocol):
    """A score plugin's ScoreExtensions: rescale raw scores into [0, MAX_NODE_SCORE]."""

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[NodeScore]) -> Status: ...


@runtime_checkable
class ReservePlugin(Plugin, Protocol):
    def reserve(self, state: CycleState, pod: PodInfo, node_name: str) -> Status: ...

    def unreserve(self, state: CycleState, pod: PodInfo, node_name: str) -> None: ...


@runtime_checkable
class PermitPlugin(Plugin, Protocol):
    def permit(self, state: CycleState, pod: PodInfo, node_name: str) -> tuple[Status, float]:
        """Success, Unschedulable, or Wait with a timeout in seconds."""
        ...


@runtime_checkable
class PreBindPlugin(Plugin, Protocol):
    async def pre_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status: ...


@runtime_checkable
class BindPlugin(Plugin, Protocol):
    async def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status:
        """Bind, or return Skip to let the next bind plugin do it."""
        ...


def default_normalize(scores: list[NodeScore], reverse: bool = False) -> None:
    """Scale so the highest raw score becomes MAX_NODE_SCORE (upstream's DefaultNormalizeScore)."""
    highest = max((s.score for s in scores), default=0)
    if highest == 0:
        if reverse:
            for s in scores:
                s.score = MAX_NODE_SCORE
        return
    for s in scores:
        scaled = MAX_NODE_SCORE * s.score // highest
        s.score = MAX_NODE_SCORE - scaled if reverse else scaled
