"""The StatefulSet controller (upstream ``pkg/controller/statefulset``).

A sync claims the set's pods (members by name as well as by selector) and its
ControllerRevisions, makes sure the current template has a revision, does the pod work of
``control.SetUpdate``, writes the status and trims the revision history.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any

from kubeplane.client import Client, DeletedFinalStateUnknown, EventHandlers, Informer, Resource, split_key
from kubeplane.client.resource import PODS
from kubeplane.controllers.controller import ControllerContext, QueueController, unwrap_tombstone
from kubeplane.controllers.ownership import (
    ClaimManager,
    controller_ref,
    labels_of,
    recheck_owner,
    resolve_controller_ref,
)
from kubeplane.controllers.replicaset.controller import selector_of
from kubeplane.controllers.statefulset.control import Revisions, SetUpdate
from kubeplane.controllers.statefulset.history import (
    CONTROLLERREVISIONS,
    ensure_revision,
    revision_data,
    template_of,
    truncate_history,
)
from kubeplane.controllers.statefulset.identity import PVCS, is_member_of
from kubeplane.controllers.statefulset.status import compute_status, pod_revision
from kubeplane.controllers.status_writer import write_status

log = logging.getLogger(__name__)

JSON = dict[str, Any]

STATEFULSETS = Resource("apps", "v1", "statefulsets", kind="StatefulSet")


class StatefulSetController(QueueController):
    name = "statefulset"
    component = "statefulset-controller"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx.clock)
        self.client: Client = ctx.client
        self.recorder = ctx.recorder(self.component)
        self.sets: Informer = self.watch(ctx.informers.informer_for(STATEFULSETS))
        self.pods: Informer = self.watch(ctx.informers.informer_for(PODS))
        self.revisions: Informer = self.watch(ctx.informers.informer_for(CONTROLLERREVISIONS))
        self.claims: Informer = self.watch(ctx.informers.informer_for(PVCS))
        self.sets.add_event_handler(EventHandlers(
            on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new),
            on_delete=lambda obj: self.enqueue(unwrap_tombstone(obj))))
        self.pods.add_event_handler(EventHandlers(on_add=self._pod_changed, on_update=self._pod_updated,
                                                  on_delete=self._pod_changed))
        self.revisions.add_event_handler(EventHandlers(on_delete=self._owned_changed))

    # -- event handlers: only enqueue ---------------------------------------------------------

    def _owner_of(self, obj: JSON) -> JSON | None:
        namespace = obj["metadata"].get("namespace")
        return resolve_controller_ref(obj, STATEFULSETS.kind, lambda name: self.sets.get(name, namespace))

    def _owned_changed(self, obj: JSON | DeletedFinalStateUnknown) -> None:
        owner = self._owner_of(unwrap_tombstone(obj))
        if owner is not None:
            self.enqueue(owner)

    def _pod_changed(self, obj: JSON | DeletedFinalStateUnknown) -> None:
        pod = unwrap_tombstone(obj)
        if controller_ref(pod) is not None:
            self._owned_changed(pod)
            return
        for set_ in self._sets_selecting(pod):  # an orphan: whoever matches may adopt it
            self.enqueue(set_)

    def _pod_updated(self, old: JSON, new: JSON) -> None:
        if old["metadata"].get("resourceVersion") == new["metadata"].get("resourceVersion"):
            return
        if controller_ref(old) != controller_ref(new) and controller_ref(old) is not None:
            self._owned_changed(old)
        self._pod_changed(new)

    def _sets_selecting(self, pod: JSON) -> list[JSON]:
        found = []
        for set_ in self.sets.list(pod["metadata"].get("namespace")):
            selector = selector_of(set_)
            if selector is not None and not selector.empty and selector.matches(labels_of(pod)):
                found.append(set_)
        return found

    # -- sync ---------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        set_ = self.sets.get(name, namespace)
        if set_ is None:
            return
        selector = selector_of(set_)
        if selector is None or selector.empty:
            log.warning("%s: %s has an empty or invalid selector; not syncing", self.name, key)
            return
        def recheck() -> Awaitable[None]:
            return recheck_owner(self.client, STATEFULSETS, set_)

        pod_claim = ClaimManager(self.client, set_, STATEFULSETS, PODS, selector, recheck)
        pods = await pod_claim.claim([p for p in self.pods.list(namespace) if is_member_of(set_, p)])
        revision_claim = ClaimManager(self.client, set_, STATEFULSETS, CONTROLLERREVISIONS, selector, recheck)
        revisions = await revision_claim.claim(self.revisions.list(namespace))

        status = set_.get("status") or {}
        collision_count = int(status.get("collisionCount") or 0)
        data = revision_data((set_.get("spec") or {}).get("template"))
        update, collision_count, revisions = await ensure_revision(
            self.client, set_, STATEFULSETS, revisions, data, data, collision_count)
        current = next((r for r in revisions if r["metadata"]["name"] == status.get("currentRevision")), update)
        current_set = {**set_, "spec": {**(set_.get("spec") or {}), "template": template_of(current)}}
        work = SetUpdate(self.client, self.recorder, STATEFULSETS, self.claims, self.clock.wall(), set_,
                         Revisions(current_set, set_, current["metadata"]["name"], update["metadata"]["name"]))
        try:
            await work.run(pods)
        finally:
            new_status = compute_status(set_, pods, work.revisions.current, work.revisions.update,
                                        collision_count, self.clock.wall(), work.created)
            await write_status(self.client, STATEFULSETS, set_, new_status)
        live = {new_status["currentRevision"], new_status["updateRevision"], *(pod_revision(p) for p in pods + work.created)}
        limit = int((set_.get("spec") or {}).get("revisionHistoryLimit", 10))
        await truncate_history(self.client, revisions, live, limit)
        if work.requeue_after is not None:
            self.queue.add_after(key, work.requeue_after)
        elif new_status["availableReplicas"] < new_status["readyReplicas"]:
            self.queue.add_after(key, float((set_.get("spec") or {}).get("minReadySeconds") or 1))
