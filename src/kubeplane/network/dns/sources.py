"""Informers feeding ``ClusterRecords``: Services, EndpointSlices, Namespaces and, only when pod
records are verified against real pods, Pods (the costliest watch in a cluster)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubeplane.client import Client, EventHandlers, Resource, SharedInformerFactory
from kubeplane.client.indexer import DeletedFinalStateUnknown
from kubeplane.network.dns.resolver import PodMode
from kubeplane.network.dns.store import ClusterRecords

JSON = dict[str, Any]

SERVICES = Resource("", "v1", "services", kind="Service")
ENDPOINT_SLICES = Resource("discovery.k8s.io", "v1", "endpointslices", kind="EndpointSlice")
NAMESPACES = Resource("", "v1", "namespaces", namespaced=False, kind="Namespace")
PODS = Resource("", "v1", "pods", kind="Pod")


def _last_state(obj: JSON | DeletedFinalStateUnknown) -> JSON:
    return obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj


def _handlers(upsert: Callable[[JSON], None], delete: Callable[[JSON], None],
              on_change: Callable[[], None]) -> EventHandlers:
    # Applying a change is a few dict operations for one Service, cheap enough to do right in the
    # handler: queries see it as soon as the informer does, with no queue in between.
    def add(obj: JSON) -> None:
        upsert(obj)
        on_change()

    def update(_: JSON, new: JSON) -> None:
        upsert(new)
        on_change()

    def remove(obj: JSON | DeletedFinalStateUnknown) -> None:
        delete(_last_state(obj))
        on_change()

    return EventHandlers(on_add=add, on_update=update, on_delete=remove)


def watch_cluster(client: Client, store: ClusterRecords, pod_mode: PodMode,
                  on_change: Callable[[], None] = lambda: None) -> SharedInformerFactory:
    """A factory whose informers keep ``store`` current; the caller starts and shuts it down."""
    factory = SharedInformerFactory(client)
    factory.informer_for(SERVICES).add_event_handler(
        _handlers(store.upsert_service, store.delete_service, on_change))
    factory.informer_for(ENDPOINT_SLICES).add_event_handler(
        _handlers(store.upsert_slice, store.delete_slice, on_change))
    factory.informer_for(NAMESPACES).add_event_handler(
        _handlers(store.upsert_namespace, store.delete_namespace, on_change))
    if pod_mode is PodMode.VERIFIED:
        factory.informer_for(PODS).add_event_handler(_handlers(store.upsert_pod, store.delete_pod, on_change))
    return factory
