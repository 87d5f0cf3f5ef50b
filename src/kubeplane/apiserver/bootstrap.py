"""What every cluster has from its first second: the system namespaces and the ``kubernetes``
Service with Endpoints that point at the API server (upstream's bootstrap controller)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kubeplane.apiserver.authz import bootstrap_policy, reconcile_object
from kubeplane.apiserver.authz.reconcile import CREATE, RECREATE
from kubeplane.apiserver.registry.context import RequestContext
from kubeplane.apiserver.registry.registry import Registry
from kubeplane.component.waiting import wait_event
from kubeplane.machinery import errors

log = logging.getLogger(__name__)

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
JSON = dict[str, Any]


async def _ensure(registry: Registry, resource: str, namespace: str, obj: JSON) -> None:
    store = registry.core(resource)
    key = store.key(namespace, obj["metadata"]["name"])
    if await store.storage.get(key, ignore_not_found=True) is not None:
        return
    try:
        await store.create(RequestContext(namespace=namespace), obj)
    except errors.StatusError as exc:
        if exc.code != 409:
            raise


async def bootstrap(registry: Registry, advertise_address: str, port: int) -> None:
    for name in SYSTEM_NAMESPACES:
        ns: JSON = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        registry.core("namespaces").strategy.default(ns)
        await _ensure(registry, "namespaces", "", ns)
    services = registry.core("services")
    first_ip = services.ip_allocator.first_ip()  # type: ignore[attr-defined]
    service: JSON = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"type": "ClusterIP", "clusterIP": first_ip,
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}],
                 "sessionAffinity": "None"},
    }
    services.strategy.default(service)
    await _ensure(registry, "services", "default", service)
    endpoints = {
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": advertise_address}],
                     "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}],
    }
    await _ensure(registry, "endpoints", "default", endpoints)
    await services.repair()  # type: ignore[attr-defined]
    await reconcile_rbac_policy(registry)


# Upstream's bootstrap controller repairs the ClusterIP and NodePort ranges every 3 minutes.
SERVICE_REPAIR_INTERVAL = 180.0


async def repair_services_every(registry: Registry, interval: float, stop: asyncio.Event) -> None:
    """Rebuild the Service ranges from the Services that exist, every ``interval`` seconds until
    ``stop``: an address or port allocated by a replica that crashed before writing its Service is
    freed on the second pass that finds it unused."""
    services = registry.core("services")
    while not await wait_event(stop, interval):
        try:
            await services.repair()  # type: ignore[attr-defined]
        except Exception:  # etcd away for a moment: the next pass tries again
            log.exception("repairing the Service ranges failed")


_RBAC_RESOURCES = {"ClusterRole": "clusterroles", "ClusterRoleBinding": "clusterrolebindings",
                   "Role": "roles", "RoleBinding": "rolebindings"}


async def reconcile_rbac_policy(registry: Registry) -> None:
    """Create or complete upstream's default roles and bindings (never removing what an admin
    added; objects annotated ``rbac.authorization.kubernetes.io/autoupdate: "false"`` are left
    alone), as kube-apiserver's storage_rbac post-start hook does. Every replica runs it; the
    writes are compare-and-swap, so replicas starting together converge."""
    ctx = RequestContext(field_manager="kube-apiserver")
    for desired in bootstrap_policy(registry.catalog.minor):
        store = registry.store("rbac.authorization.k8s.io", "v1", _RBAC_RESOURCES[desired["kind"]])
        assert store is not None
        meta = desired["metadata"]
        ctx.namespace = meta.get("namespace", "")
        key = store.key(ctx.namespace, meta["name"])
        existing = await store.storage.get(key, ignore_not_found=True)
        result = reconcile_object(existing, desired)
        if result.object is None or (result.protected and result.operation != CREATE):
            continue
        try:
            if result.operation == CREATE:
                await store.create(ctx, result.object)
            elif result.operation == RECREATE:
                await store.storage.delete(key)
                result.object["metadata"].pop("resourceVersion", None)
                await store.create(ctx, result.object)
            else:
                updated = result.object

                async def produce(current: JSON | None, updated: JSON = updated) -> JSON:
                    return updated

                await store.update(ctx, meta["name"], produce)
        except errors.StatusError as exc:
            # Another replica got there first: its write is as good as ours.
            if exc.code != 409:
                raise
