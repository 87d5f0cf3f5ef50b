"""Shared by controllers that keep one named object in every active namespace (the default
ServiceAccount, the kube-root-ca.crt ConfigMap): they sync per namespace and skip namespaces
that are gone or terminating (the API server would refuse the create anyway)."""

from __future__ import annotations

from typing import Any

from kubeplane.client import DeletedFinalStateUnknown, EventHandlers, Informer, Resource
from kubeplane.client.resource import NAMESPACES
from kubeplane.controllers.controller import ControllerContext, ResourceController, unwrap_tombstone

JSON = dict[str, Any]


def is_active(namespace: JSON | None) -> bool:
    return namespace is not None and not namespace["metadata"].get("deletionTimestamp") \
        and (namespace.get("status") or {}).get("phase") != "Terminating"


class PerNamespaceController(ResourceController):
    """Keys are namespace names; the managed object's changes enqueue its namespace."""

    object_name: str = ""

    def __init__(self, ctx: ControllerContext, resource: Resource, field_selector: str | None = None) -> None:
        super().__init__(ctx)
        self.resource = resource
        self.namespaces: Informer = self.informer(NAMESPACES, EventHandlers(
            on_add=self.enqueue, on_update=self.enqueue_updated))
        self.objects: Informer = self.informer(resource, EventHandlers(
            on_update=lambda old, new: self._object_changed(new), on_delete=self._object_changed),
            field_selector=field_selector)

    def _object_changed(self, obj: JSON | DeletedFinalStateUnknown) -> None:
        meta = unwrap_tombstone(obj)["metadata"]
        if meta.get("name") == self.object_name and meta.get("namespace"):
            self.queue.add(meta["namespace"])

    def active_namespace(self, name: str) -> bool:
        return is_active(self.namespaces.get(name))

    def current(self, namespace: str) -> JSON | None:
        return self.objects.get(self.object_name, namespace)
