"""The namespace controller (upstream ``pkg/controller/namespace``).

Deleting a namespace only marks it (deletionTimestamp, phase Terminating; the API server then
refuses new content). This controller deletes every namespaced object in it — a collection
delete per resource where the resource allows it — and once nothing is left, removes the
``kubernetes`` finalizer through ``/finalize`` so the API server can delete the namespace.
Objects that take time to go (pods in graceful deletion, objects with finalizers) make the
sync look again later.
"""

from __future__ import annotations

import logging
from typing import Any

from kubeplane.client import EventHandlers, Informer, NotFound, resource_path
from kubeplane.client.resource import NAMESPACES
from kubeplane.controllers.controller import ControllerContext, ResourceController
from kubeplane.controllers.namespace.discovery import DeletableResource, namespaced_resources

log = logging.getLogger(__name__)

JSON = dict[str, Any]

KUBERNETES_FINALIZER = "kubernetes"
MIN_RECHECK, MAX_RECHECK = 1.0, 15.0  # seconds before looking again at content still going away


class NamespaceController(ResourceController):
    name = "namespace"
    component = "namespace-controller"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.namespaces: Informer = self.informer(NAMESPACES, EventHandlers(
            on_add=self._enqueue_terminating, on_update=lambda old, new: self._enqueue_terminating(new)))

    def _enqueue_terminating(self, namespace: JSON) -> None:
        if namespace["metadata"].get("deletionTimestamp"):
            self.enqueue(namespace)

    async def sync(self, key: str) -> None:
        namespace = self.namespaces.get(key)
        if namespace is None or not namespace["metadata"].get("deletionTimestamp"):
            return
        if KUBERNETES_FINALIZER not in ((namespace.get("spec") or {}).get("finalizers") or ()):
            return  # emptied already; other finalizers belong to others
        remaining, wait = await self.delete_content(key)
        if remaining:
            log.info("namespace %s: %d objects still going away; checking again in %.0fs", key, remaining, wait)
            self.queue.add_after(key, wait)
            return
        await self.finalize(namespace)

    async def delete_content(self, namespace: str) -> tuple[int, float]:
        """Delete everything in ``namespace``; returns (objects remaining, seconds to wait)."""
        remaining, wait = 0, MIN_RECHECK
        for deletable in await namespaced_resources(self.client):
            left, grace = await self._delete_all_of(namespace, deletable)
            remaining += left
            wait = max(wait, grace)
        return remaining, min(wait, MAX_RECHECK)

    async def _delete_all_of(self, namespace: str, deletable: DeletableResource) -> tuple[int, float]:
        resource = deletable.resource
        if deletable.delete_collection:
            body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
            await self.client.request("DELETE", resource_path(resource, namespace), body=body)
        else:
            items, _ = await self.client.list_all(resource, namespace)
            for item in items:
                if item["metadata"].get("deletionTimestamp"):
                    continue  # already on its way
                try:
                    await self.client.delete(resource, item["metadata"]["name"], namespace,
                                             propagation_policy="Background")
                except NotFound:
                    pass
        # Look again: graceful deletion and finalizers keep objects around for a while.
        remaining, _ = await self.client.list_all(resource, namespace)
        grace = max((float(item["metadata"].get("deletionGracePeriodSeconds") or 0) for item in remaining),
                    default=0.0)
        return len(remaining), grace

    async def finalize(self, namespace: JSON) -> None:
        spec = dict(namespace.get("spec") or {})
        spec["finalizers"] = [f for f in spec.get("finalizers") or () if f != KUBERNETES_FINALIZER]
        try:
            await self.client.update(NAMESPACES, {**namespace, "spec": spec}, subresource="finalize")
        except NotFound:
            pass  # already gone
