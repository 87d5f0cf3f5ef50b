"""Crafted nodes and pods, and a fake Handle, for the scheduler's unit tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubeplane.machinery import labels as labels_
from kubeplane.scheduler.framework.cycle_state import CycleState
from kubeplane.scheduler.framework.interface import NodeScore
from kubeplane.scheduler.framework.nodeinfo import NodeInfo, PodInfo, Snapshot
from kubeplane.scheduler.framework.status import Status

JSON = dict[str, Any]


def make_node(name: str, cpu: str = "4", memory: str = "8Gi", pods: int = 110,
              labels: Mapping[str, str] | None = None, taints: list[JSON] | None = None,
              unschedulable: bool = False, images: list[JSON] | None = None, **extra: str) -> JSON:
    allocatable = {"cpu": cpu, "memory": memory, "pods": str(pods), **extra}
    spec: JSON = {}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
            "spec": spec, "status": {"capacity": allocatable, "allocatable": allocatable, "images": images or []}}


def make_pod(name: str, namespace: str = "default", cpu: str | None = None, memory: str | None = None,
             node_name: str = "", labels: Mapping[str, str] | None = None, **spec: Any) -> JSON:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    container: JSON = {"name": "c", "image": spec.pop("image", "busybox")}
    if requests:
        container["resources"] = {"requests": requests}
    if "ports" in spec:
        container["ports"] = spec.pop("ports")
    body: JSON = {"containers": [container], **spec}
    if node_name:
        body["nodeName"] = node_name
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}", "labels": dict(labels or {})},
            "spec": body}


class FakeHandle:
    def __init__(self, snapshot: Snapshot | None = None, owners: list[labels_.LabelSelector] | None = None,
                 namespaces: Mapping[str, Mapping[str, str]] | None = None, client: Any = None,
                 nominated: Mapping[str, list[PodInfo]] | None = None, pdbs: list[JSON] | None = None) -> None:
        self.current = snapshot or Snapshot([])
        self.nominated = dict(nominated or {})
        self.pdbs = list(pdbs or [])
        self.events: list[tuple[str, JSON, str, str, str]] = []
        self.owners = owners or []
        self.namespaces = dict(namespaces or {})
        self._client = client

    @property
    def client(self) -> Any:
        return self._client

    def snapshot(self) -> Snapshot:
        return self.current

    def namespace_labels(self, namespace: str) -> Mapping[str, str] | None:
        return self.namespaces.get(namespace)

    def owner_selectors(self, pod: JSON) -> list[labels_.LabelSelector]:
        return self.owners

    def nominated_pods_for_node(self, node_name: str) -> list[PodInfo]:
        return list(self.nominated.get(node_name, []))

    def has_nominated_pods(self) -> bool:
        return any(self.nominated.values())

    def nominate(self, pod: PodInfo, node_name: str) -> None:
        for pods in self.nominated.values():
            pods[:] = [p for p in pods if p.key != pod.key]
        if node_name:
            self.nominated.setdefault(node_name, []).append(pod)

    def record_event(self, scheduler_name: str, obj: JSON, event_type: str, reason: str, message: str) -> None:
        self.events.append((scheduler_name, obj, event_type, reason, message))

    def pod_disruption_budgets(self, namespace: str) -> list[JSON]:
        return [p for p in self.pdbs if (p.get("metadata") or {}).get("namespace") == namespace]


def filter_results(plugin: Any, pod: JSON, snapshot: Snapshot) -> dict[str, Status]:
    """Run PreFilter (if any) then Filter of one plugin on every node of the snapshot."""
    state = CycleState()
    info = PodInfo(pod)
    if hasattr(plugin, "pre_filter"):
        _, status = plugin.pre_filter(state, info)
        if status.code.name == "SKIP":
            return {node.name: Status() for node in snapshot.node_infos}
        assert status.ok, status
    return {node.name: plugin.filter(state, info, node) for node in snapshot.node_infos}


def score_results(plugin: Any, pod: JSON, snapshot: Snapshot, nodes: list[NodeInfo] | None = None) -> dict[str, int]:
    """PreScore, Score and NormalizeScore of one plugin over the given (default: all) nodes."""
    state = CycleState()
    info = PodInfo(pod)
    nodes = snapshot.node_infos if nodes is None else nodes
    if hasattr(plugin, "pre_score"):
        status = plugin.pre_score(state, info, nodes)
        if status.code.name == "SKIP":
            return {}
        assert status.ok, status
    scores = []
    for node in nodes:
        value, status = plugin.score(state, info, node)
        assert status.ok, status
        scores.append(NodeScore(node.name, value))
    if hasattr(plugin, "normalize_score"):
        assert plugin.normalize_score(state, info, scores).ok
    return {s.name: s.score for s in scores}
