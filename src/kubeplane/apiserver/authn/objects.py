"""ObjectReader over the API server's registry: consistent reads (straight from etcd, never the
watch cache), so a token is refused as soon as its pod, secret or service account is deleted."""

from __future__ import annotations

from kubeplane.apiserver.authn.types import JSON
from kubeplane.apiserver.registry.context import RequestContext
from kubeplane.apiserver.registry.registry import Registry
from kubeplane.machinery import errors


class RegistryObjects:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    async def get(self, resource: str, namespace: str, name: str) -> JSON | None:
        if not name:
            return None
        store = self.registry.core(resource)
        try:
            # resourceVersion "" is a quorum read from etcd: the cache could still hold a deleted object.
            return await store.get(RequestContext(namespace=namespace), name)
        except errors.StatusError as exc:
            if exc.code == 404:
                return None
            raise
