"""The StatefulSet controller (upstream ``pkg/controller/statefulset``).

A sync claims the set's pods (members by name as well as by selector) and its
ControllerRevisions, makes sure the current template has a revision, does the pod work of
``control.SetUpdate``, writes the status and trims the revision history.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any

from kubeplane.client import DeletedFinalStateUnknown, EventHandlers, Informer, split_key
from kubeplane.client.resource import CONTROLLERREVISIONS, PERSISTENTVOLUMECLAIMS, PODS, STATEFULSETS
from kubeplane.controllers.controller import ControllerContext, ResourceController, unwrap_tombstone
from kubeplane.controllers.history import ensure_revision, revision_data, template_of, truncate_history
from kubeplane.controllers.owners import Owners
from kubeplane.controllers.ownership import ClaimManager, recheck_owner, selector_of
from kubeplane.controllers.statefulset.control import Revisions, SetUpdate
from kubeplane.controllers.statefulset.identity import is_member_of
from kubeplane.controllers.statefulset.status import compute_status, pod_revision
from kubeplane.controllers.status_writer import write_status

log = logging.getLogger(__name__)

JSON = dict[str, Any]


class StatefulSetController(ResourceController):
    name = "statefulset"
    component = "statefulset-controller"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.sets: Informer = self.informer(STATEFULSETS, self.enqueue_handlers())
        self.owners = Owners(self.sets, STATEFULSETS.kind)
        self.pods: Informer = self.informer(PODS, self.owners.child_handlers(self.enqueue))
        self.revisions: Informer = self.informer(CONTROLLERREVISIONS,
                                                 EventHandlers(on_delete=self._revision_deleted))
        self.claims: Informer = self.informer(PERSISTENTVOLUMECLAIMS)

    def _revision_deleted(self, obj: JSON | DeletedFinalStateUnknown) -> None:
        # A deleted revision may be one the set still needs: the sync writes it again.
        owner = self.owners.owner_of(unwrap_tombstone(obj))
        if owner is not None:
            self.enqueue(owner)

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
