"""The scheduler's side of the framework Handle: the cycle's snapshot and informer lookups."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubeplane.client import Client, EventRecorder, Informer
from kubeplane.machinery import labels
from kubeplane.machinery.errors import StatusError
from kubeplane.scheduler.framework.nodeinfo import PodInfo, Snapshot
from kubeplane.scheduler.nominator import Nominator

JSON = dict[str, Any]


class SchedulerHandle:
    def __init__(self, client: Client, namespaces: Informer | None = None,
                 owners: Mapping[str, Informer] | None = None, pdbs: Informer | None = None,
                 nominator: Nominator | None = None) -> None:
        self._client = client
        self._namespaces = namespaces
        self._pdbs = pdbs
        self.nominator = nominator or Nominator()
        self.recorders: dict[str, EventRecorder] = {}  # by profile (schedulerName), set by the scheduler
        # Informers of objects that select pods by label (services, replicasets, statefulsets...).
        self._owners = dict(owners or {})
        self.current = Snapshot([])

    @property
    def client(self) -> Client:
        return self._client

    def snapshot(self) -> Snapshot:
        return self.current

    def namespace_labels(self, namespace: str) -> Mapping[str, str] | None:
        if self._namespaces is None:
            return None
        found = self._namespaces.get(namespace)
        return None if found is None else (found.get("metadata") or {}).get("labels") or {}

    def nominated_pods_for_node(self, node_name: str) -> list[PodInfo]:
        return self.nominator.pods_for_node(node_name)

    def has_nominated_pods(self) -> bool:
        return self.nominator.has_nominated_pods()

    def nominate(self, pod: PodInfo, node_name: str) -> None:
        if node_name:
            self.nominator.add(pod, node_name)
        else:
            self.nominator.delete(pod.key)

    def record_event(self, scheduler_name: str, obj: JSON, event_type: str, reason: str, message: str) -> None:
        recorder = self.recorders.get(scheduler_name)
        if recorder is not None:
            recorder.event(obj, event_type, reason, message)

    def pod_disruption_budgets(self, namespace: str) -> list[JSON]:
        return self._pdbs.list(namespace) if self._pdbs is not None else []

    def owner_selectors(self, pod: JSON) -> list[labels.LabelSelector]:
        metadata = pod.get("metadata") or {}
        namespace = metadata.get("namespace", "")
        pod_labels = metadata.get("labels") or {}
        selectors = []
        for kind, informer in self._owners.items():
            for owner in informer.list(namespace):
                selector = _owner_selector(kind, owner)
                if selector is not None and not selector.empty and selector.matches(pod_labels):
                    selectors.append(selector)
        return selectors


def _owner_selector(kind: str, owner: JSON) -> labels.LabelSelector | None:
    raw = (owner.get("spec") or {}).get("selector")
    if raw is None:
        return None
    # Services and ReplicationControllers select with a plain map; the apps kinds with a LabelSelector.
    if kind in ("services", "replicationcontrollers"):
        return labels.selector_from_set(raw)
    try:
        return labels.from_label_selector(raw)
    except StatusError:
        return None
