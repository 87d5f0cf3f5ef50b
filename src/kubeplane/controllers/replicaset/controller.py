"""The ReplicaSet controller (upstream ``pkg/controller/replicaset``).

A sync claims the pods of the ReplicaSet's namespace (adopting matching orphans, releasing
owned pods that stopped matching), creates or deletes pods to reach ``spec.replicas`` — creates
in slow-start batches, deletes cheapest-first — and writes the status. Expectations keep a sync
from acting again before the informer has seen the pods its last sync created or deleted.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kubeplane.client import (
    DeletedFinalStateUnknown,
    EventHandlers,
    Informer,
    NotFound,
    Resource,
    meta_namespace_key,
    split_key,
)
from kubeplane.client.events import NORMAL, WARNING
from kubeplane.client.resource import PODS, REPLICASETS, REPLICATIONCONTROLLERS
from kubeplane.controllers.controller import (
    ControllerContext,
    ResourceController,
    is_namespace_terminating,
    is_resync,
    unwrap_tombstone,
)
from kubeplane.controllers.expectations import Expectations
from kubeplane.controllers.owners import Owners
from kubeplane.controllers.ownership import (
    ClaimManager,
    controller_ref,
    labels_of,
    new_controller_ref,
    recheck_owner,
    selector_of,
)
from kubeplane.controllers.pods import is_pod_active, is_pod_ready
from kubeplane.controllers.replicaset.ranking import pods_to_delete
from kubeplane.controllers.replicaset.status import calculate_status
from kubeplane.controllers.slowstart import slow_start_batch
from kubeplane.controllers.status_writer import write_status
from kubeplane.machinery.objects import clone

log = logging.getLogger(__name__)

JSON = dict[str, Any]

BURST_REPLICAS = 500  # upstream: at most this many creates or deletes per sync


def pod_from_template(rs: JSON, rs_resource: Resource) -> JSON:
    """A pod for ``rs``: the template's metadata and spec, owned by ``rs``, named ``<rs>-xxxxx``."""
    template = clone((rs.get("spec") or {}).get("template") or {})  # never share the cached object
    template_meta = template.get("metadata") or {}
    metadata: JSON = {"generateName": f"{rs['metadata']['name']}-", "namespace": rs["metadata"].get("namespace"),
                      "ownerReferences": [new_controller_ref(rs, rs_resource)]}
    for field in ("labels", "annotations", "finalizers"):
        if template_meta.get(field):
            metadata[field] = template_meta[field]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template.get("spec") or {}}


class ReplicaSetController(ResourceController):
    name = "replicaset"
    component = "replicaset-controller"

    def __init__(self, ctx: ControllerContext, resource: Resource = REPLICASETS) -> None:
        super().__init__(ctx)
        self.resource = resource
        self.expectations = Expectations(ctx.clock)
        self.sets: Informer = self.informer(resource, self.enqueue_handlers(on_delete=self._set_deleted))
        self.pods: Informer = self.informer(PODS, EventHandlers(
            on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted))
        self.owners = Owners(self.sets, resource.kind)

    # -- event handlers: only enqueue ---------------------------------------------------------

    def _set_deleted(self, obj: JSON | DeletedFinalStateUnknown) -> None:
        rs = unwrap_tombstone(obj)
        self.expectations.forget(meta_namespace_key(rs))
        self.enqueue(rs)

    def _pod_added(self, pod: JSON) -> None:
        if pod["metadata"].get("deletionTimestamp"):
            self._pod_deleted(pod)  # seen first already terminating (e.g. after a relist)
            return
        owned = controller_ref(pod) is not None
        for owner in self.owners.to_sync(pod):  # for an orphan, every set that may adopt it
            if owned:
                self.expectations.creation_observed(meta_namespace_key(owner))
            self.enqueue(owner)

    def _pod_updated(self, old: JSON, new: JSON) -> None:
        if is_resync(old, new):
            return  # a resync: the ReplicaSets' own resync covers them
        if new["metadata"].get("deletionTimestamp"):
            self._pod_deleted(new)  # graceful delete: the pod no longer counts, act now
        for previous in self.owners.left_by(old, new):
            self.enqueue(previous)
        old_ref, new_ref = controller_ref(old), controller_ref(new)
        if new_ref is not None:
            owner = self.owners.owner_of(new)
            if owner is not None:
                self.enqueue(owner)
                min_ready = int((owner.get("spec") or {}).get("minReadySeconds") or 0)
                if min_ready > 0 and not is_pod_ready(old) and is_pod_ready(new):
                    # Check again once the pod has been ready long enough to count as available.
                    self.enqueue_after(owner, min_ready + 1)
            return
        if labels_of(old) != labels_of(new) or old_ref != new_ref:
            for rs in self.owners.selecting(new):
                self.enqueue(rs)

    def _pod_deleted(self, obj: JSON | DeletedFinalStateUnknown) -> None:
        pod = unwrap_tombstone(obj)
        owner = self.owners.owner_of(pod)
        if owner is None:
            return
        owner_key = meta_namespace_key(owner)
        self.expectations.deletion_observed(owner_key, meta_namespace_key(pod))
        self.enqueue(owner)

    # -- sync ---------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        cached = self.sets.get(name, namespace)
        if cached is None:
            self.expectations.forget(key)
            return
        rs = cached
        needs_sync = self.expectations.satisfied(key)
        selector = selector_of(rs)
        if selector is None:
            log.warning("%s: invalid selector on %s; not syncing", self.name, key)
            return
        candidates = [p for p in self.pods.list(namespace) if is_pod_active(p)]
        claim = ClaimManager(self.client, rs, self.resource, PODS, selector,
                             lambda: recheck_owner(self.client, self.resource, rs))
        owned = await claim.claim(candidates)
        failure: tuple[str, str] | None = None
        manage_error: Exception | None = None
        if needs_sync and not rs["metadata"].get("deletionTimestamp"):
            try:
                await self.manage_replicas(owned, rs, key)
            except Exception as err:
                manage_error = err
                failure = ("FailedCreate" if len(owned) < _desired(rs) else "FailedDelete", str(err))
        status = calculate_status(rs, owned, self.clock.wall(), failure)
        updated = await write_status(self.client, self.resource, rs, status)
        if manage_error is not None:
            raise manage_error
        min_ready = int((rs.get("spec") or {}).get("minReadySeconds") or 0)
        status_now = updated.get("status") or status
        if min_ready > 0 and status_now.get("readyReplicas") == _desired(rs) \
                and status_now.get("availableReplicas") != _desired(rs):
            self.queue.add_after(key, min_ready)

    async def manage_replicas(self, owned: list[JSON], rs: JSON, key: str) -> None:
        diff = len(owned) - _desired(rs)
        if diff < 0:
            await self._create_pods(rs, key, min(-diff, BURST_REPLICAS))
        elif diff > 0:
            await self._delete_pods(rs, key, owned, min(diff, BURST_REPLICAS))

    async def _create_pods(self, rs: JSON, key: str, count: int) -> None:
        # Expect all creates up front: the informer may report a new pod before create returns.
        self.expectations.expect_creations(key, count)
        body = pod_from_template(rs, self.resource)
        namespace = rs["metadata"].get("namespace")

        async def create_one() -> None:
            try:
                pod = await self.client.create(PODS, body, namespace)
            except Exception as err:
                if is_namespace_terminating(err):
                    return  # the namespace controller is emptying it: no point and no error
                self.recorder.event(rs, WARNING, "FailedCreate", f"Error creating: {err}")
                raise
            self.recorder.event(rs, NORMAL, "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}")

        created, error = await slow_start_batch(count, create_one)
        if error is not None:
            # Failed and skipped creates will never show up in the informer: stop waiting for them.
            self.expectations.lower_creations(key, count - created)
            raise error

    async def _delete_pods(self, rs: JSON, key: str, owned: list[JSON], count: int) -> None:
        related = self._related_pods(rs)
        victims = pods_to_delete(owned, related, count)
        self.expectations.expect_deletions(key, [meta_namespace_key(p) for p in victims])

        async def delete_one(pod: JSON) -> None:
            name = pod["metadata"]["name"]
            try:
                await self.client.delete(PODS, name, pod["metadata"].get("namespace"))
            except NotFound:
                pass  # already gone; its delete event settles the expectation
            except Exception as err:
                self.expectations.deletion_observed(key, meta_namespace_key(pod))
                self.recorder.event(rs, WARNING, "FailedDelete", f"Error deleting: {err}")
                raise
            else:
                self.recorder.event(rs, NORMAL, "SuccessfulDelete", f"Deleted pod: {name}")

        results = await asyncio.gather(*(delete_one(p) for p in victims), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    def _related_pods(self, rs: JSON) -> list[JSON]:
        """Pods of every ReplicaSet sharing this one's controller (a Deployment's whole rollout)."""
        namespace = rs["metadata"].get("namespace")
        owner_ref = controller_ref(rs)
        if owner_ref is None:
            siblings = {rs["metadata"]["uid"]}
        else:
            siblings = {s["metadata"]["uid"] for s in self.sets.list(namespace)
                        if (controller_ref(s) or {}).get("uid") == owner_ref.get("uid")}
        return [p for p in self.pods.list(namespace) if (controller_ref(p) or {}).get("uid") in siblings]


def _desired(rs: JSON) -> int:
    replicas = (rs.get("spec") or {}).get("replicas")
    return 1 if replicas is None else int(replicas)



class ReplicationManager(ReplicaSetController):
    """v1 ReplicationControllers: upstream's ReplicationManager is the ReplicaSet controller over
    them (their label-map selectors are read by ``ownership.selector_of``)."""

    name = "replicationcontroller"
    component = "replication-controller"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx, REPLICATIONCONTROLLERS)
