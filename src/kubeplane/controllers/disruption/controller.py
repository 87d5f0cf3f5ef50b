"""The disruption controller (upstream ``pkg/controller/disruption``): keeps each
PodDisruptionBudget's status — healthy and desired pod counts, expected pods, disruptions
allowed, the DisruptionAllowed condition — current as its pods come and go. The API server's
eviction subresource reads that status to admit or refuse evictions.

The expected pod count comes from the pods' controllers: a ReplicaSet owned by a Deployment
counts with the Deployment's replicas; StatefulSets and ReplicationControllers with their own.
Eviction records in status.disruptedPods expire after two minutes, and the budget is looked at
again then.
"""

from __future__ import annotations

import logging
from typing import Any

from kubeplane.client import EventHandlers, Resource, split_key
from kubeplane.client.resource import DEPLOYMENTS, PODDISRUPTIONBUDGETS, PODS, REPLICASETS, STATEFULSETS
from kubeplane.controllers.controller import (
    ControllerContext,
    ResourceController,
    is_resync,
    unwrap_tombstone,
)
from kubeplane.controllers.disruption.budget import (
    Controller,
    ScaleError,
    budget_status,
    count_healthy,
    expectation,
    failsafe_status,
    live_disruptions,
)
from kubeplane.controllers.ownership import controller_ref, labels_of
from kubeplane.controllers.status_writer import write_status
from kubeplane.machinery.labels import from_label_selector

log = logging.getLogger(__name__)

JSON = dict[str, Any]

REPLICATIONCONTROLLERS = Resource("", "v1", "replicationcontrollers", kind="ReplicationController")
NORMAL, WARNING = "Normal", "Warning"


def selects(pdb: JSON, pod: JSON) -> bool:
    """policy/v1: an empty selector selects every pod of the namespace, a missing one none."""
    try:
        selector = from_label_selector((pdb.get("spec") or {}).get("selector"))
    except Exception:
        return False
    return selector.matches(labels_of(pod))


class DisruptionController(ResourceController):
    name = "disruption-controller"
    component = "controllermanager"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.pdbs = self.informer(PODDISRUPTIONBUDGETS, self.enqueue_handlers())
        self.pods = self.informer(PODS, EventHandlers(on_add=self._pod_changed, on_update=self._pod_updated,
                                                      on_delete=lambda obj: self._pod_changed(unwrap_tombstone(obj))))
        self.scalers = {kind: self.informer(resource) for kind, resource in (
            ("ReplicaSet", REPLICASETS), ("Deployment", DEPLOYMENTS), ("StatefulSet", STATEFULSETS),
            ("ReplicationController", REPLICATIONCONTROLLERS))}

    def _pod_changed(self, pod: JSON) -> None:
        for pdb in self.pdbs.list(pod["metadata"].get("namespace")):
            if selects(pdb, pod):
                self.enqueue(pdb)

    def _pod_updated(self, old: JSON, new: JSON) -> None:
        if is_resync(old, new):
            return
        if labels_of(old) != labels_of(new):
            self._pod_changed(old)
        self._pod_changed(new)

    def _scale_of(self, ref: JSON, namespace: str) -> Controller | None:
        """The controller a pod's controllerRef names, with its replicas (upstream's finders)."""
        kind = ref.get("kind", "")
        informer = self.scalers.get(kind)
        if informer is None:
            return None
        owner = informer.get(ref.get("name", ""), namespace)
        if owner is None or owner["metadata"].get("uid") != ref.get("uid"):
            return None
        if kind == "ReplicaSet":
            parent = controller_ref(owner)
            if parent is not None and parent.get("kind") == "Deployment":
                return self._scale_of(parent, namespace)
        replicas = (owner.get("spec") or {}).get("replicas")
        return Controller(owner["metadata"]["uid"], 1 if replicas is None else int(replicas))

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        pdb = self.pdbs.get(name, namespace)
        if pdb is None:
            return
        now = self.clock.wall()
        pods = [p for p in self.pods.list(namespace) if selects(pdb, p)]
        if not pods:
            self.recorder.event(pdb, NORMAL, "NoPods", "No matching pods found")
        try:
            expect = expectation(pdb.get("spec") or {}, pods, self._scale_of)
        except ScaleError as err:
            self.recorder.event(pdb, WARNING, "CalculateExpectedPodCountFailed",
                                f"Failed to calculate the number of expected pods: {err}")
            await write_status(self.client, PODDISRUPTIONBUDGETS, pdb, failsafe_status(pdb, str(err), now))
            return
        if expect.unmanaged:
            self.recorder.event(pdb, WARNING, "UnmanagedPods", unmanaged_message(pdb))
        disrupted, recheck = live_disruptions(pdb, pods, now)
        status = budget_status(pdb, count_healthy(pods, disrupted), expect, disrupted, now)
        await write_status(self.client, PODDISRUPTIONBUDGETS, pdb, status)
        if recheck is not None:
            self.queue.add_after(key, max(0.0, (recheck - now).total_seconds()))


def unmanaged_message(pdb: JSON) -> str:
    return (f"Pods selected by this PodDisruptionBudget (selector: {(pdb.get('spec') or {}).get('selector')}) "
            "were found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, "
            "which may result in undefined behavior. To account for these pods please set "
            "\".spec.minAvailable\" field of the PDB to an integer value.")
