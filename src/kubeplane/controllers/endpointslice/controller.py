"""The EndpointSlice controller (upstream ``pkg/controller/endpointslice``).

A sync computes the endpoints a Service with a selector wants (every selected pod with an IP,
terminating ones included, per address family and port set), plans the writes with
``reconciler.plan`` and makes them. Slices are owned by their Service, so the garbage
collector removes them with it, as upstream.

The informer lags our own writes; a sync that acted on a cache missing its last writes would
create duplicate slices. So the controller remembers, per Service, the resourceVersion of each
slice it wrote (and the names it deleted) and waits until the cache has caught up before
planning again (upstream's ``EndpointSliceTracker``).
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
    split_key,
)
from kubeplane.client.events import WARNING
from kubeplane.client.resource import ENDPOINTSLICES, NODES, SERVICES
from kubeplane.controllers.controller import (
    ControllerContext,
    is_namespace_terminating,
    unwrap_tombstone,
)
from kubeplane.controllers.endpoints.controller import format_trigger_time
from kubeplane.controllers.endpoints.podaddress import (
    LAST_CHANGE_TRIGGER_TIME,
    pod_ip_of_family,
    service_families,
    service_selector_set,
    service_selects,
    should_pod_be_in_endpoints,
)
from kubeplane.controllers.endpoints.servicepods import ServicePodsController
from kubeplane.controllers.endpointslice.endpoint import (
    CONTROLLER_NAME,
    MANAGED_BY_LABEL,
    SERVICE_NAME_LABEL,
    endpoint_key,
    endpoint_ports,
    pod_to_endpoint,
    ports_key,
    slice_labels,
)
from kubeplane.controllers.endpointslice.reconciler import MAX_ENDPOINTS_PER_SLICE, Desired, Meta, Plan, plan
from kubeplane.controllers.ownership import labels_of, new_controller_ref

log = logging.getLogger(__name__)

JSON = dict[str, Any]

STALE_CACHE_RECHECK = 1.0  # seconds; the slice events of our own writes normally requeue sooner


class MissingNodes(Exception):
    """Pods name nodes the cache does not know; they were left out and the sync is retried."""


def _rv(obj: JSON) -> int:
    try:
        return int(obj["metadata"].get("resourceVersion") or 0)
    except ValueError:
        return 0


class EndpointSliceController(ServicePodsController):
    name = "endpointslice"
    component = "endpointslice-controller"

    def __init__(self, ctx: ControllerContext, max_endpoints_per_slice: int = MAX_ENDPOINTS_PER_SLICE) -> None:
        super().__init__(ctx)
        self.max_endpoints_per_slice = max_endpoints_per_slice
        # service key -> slice name -> resourceVersion we wrote (None: we deleted it)
        self._written: dict[str, dict[str, int | None]] = {}
        self.nodes: Informer = self.informer(NODES, EventHandlers(
            on_add=self._node_changed, on_update=self._node_updated, on_delete=self._node_changed))
        self.slices: Informer = self.informer(ENDPOINTSLICES, EventHandlers(
            on_add=self._slice_changed, on_update=lambda old, new: self._slice_changed(new),
            on_delete=self._slice_changed))

    # -- event handlers: only enqueue ---------------------------------------------------------

    def _node_changed(self, obj: JSON | DeletedFinalStateUnknown) -> None:
        # Endpoints carry their node's zone, and pods on unknown nodes wait for it: revisit all.
        for service in self.services.list():
            if service_selector_set(service) is not None:
                self.enqueue(service)

    def _node_updated(self, old: JSON, new: JSON) -> None:
        if labels_of(old).get("topology.kubernetes.io/zone") != labels_of(new).get("topology.kubernetes.io/zone"):
            self._node_changed(new)

    def _slice_changed(self, obj: JSON | DeletedFinalStateUnknown) -> None:
        slice_ = unwrap_tombstone(obj)
        labels = labels_of(slice_)
        if labels.get(MANAGED_BY_LABEL) != CONTROLLER_NAME or not labels.get(SERVICE_NAME_LABEL):
            return
        self.queue.add(f"{slice_['metadata'].get('namespace')}/{labels[SERVICE_NAME_LABEL]}")

    # -- sync ---------------------------------------------------------------------------------

    def _managed_slices(self, namespace: str | None, service_name: str) -> list[JSON]:
        return [s for s in self.slices.list(namespace)
                if labels_of(s).get(SERVICE_NAME_LABEL) == service_name
                and labels_of(s).get(MANAGED_BY_LABEL) == CONTROLLER_NAME]

    def cache_is_stale(self, key: str, slices: list[JSON]) -> bool:
        """True while the cache lacks one of our own writes for this Service; forgets those it has."""
        written = self._written.get(key)
        if not written:
            return False
        cached = {s["metadata"]["name"]: _rv(s) for s in slices}
        for name, version in list(written.items()):
            if (version is None and name not in cached) or \
                    (version is not None and name in cached and cached[name] >= version):
                del written[name]
        return bool(written)

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        service = self.services.get(name, namespace)
        if service is None:
            self.triggers.forget(key)
            self._written.pop(key, None)
            return  # its slices are owned by it: the garbage collector deletes them
        if service_selector_set(service) is None or service["metadata"].get("deletionTimestamp"):
            return
        existing = self._managed_slices(namespace, name)
        if self.cache_is_stale(key, existing):
            self.queue.add_after(key, STALE_CACHE_RECHECK)
            return
        pods = [p for p in self.pods.list(namespace) if service_selects(service, p)]
        desired, missing_nodes = self.desired_endpoints(service, pods)
        families = service_families(service)
        template = {"generateName": f"{name}-", "namespace": namespace,
                    "ownerReferences": [new_controller_ref(service, SERVICES)]}
        writes = plan(desired, existing, slice_labels(service), template, families[0],
                      self.max_endpoints_per_slice)
        trigger = self.triggers.compute(key, service, pods)
        if not writes.empty:
            await self._apply(key, service, writes, format_trigger_time(trigger) if trigger else None)
        if missing_nodes:
            raise MissingNodes(f"pods of {key} are on nodes not (yet) known: {sorted(missing_nodes)}")

    def desired_endpoints(self, service: JSON, pods: list[JSON]) -> tuple[dict[Meta, Desired], set[str]]:
        publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
        desired: dict[Meta, Desired] = {}
        missing: set[str] = set()
        for family in service_families(service):
            for pod in sorted(pods, key=lambda p: p["metadata"]["name"]):
                if not should_pod_be_in_endpoints(pod, include_terminating=True):
                    continue
                ip = pod_ip_of_family(pod, family)
                if ip is None:
                    continue
                node_name = (pod.get("spec") or {}).get("nodeName") or ""
                node = self.nodes.get(node_name) if node_name else None
                if node is None and not publish:
                    missing.add(node_name)
                    continue  # as upstream: leave it out rather than publish a pod on a phantom node
                ports = endpoint_ports(service, pod)
                meta = (family, ports_key(ports))
                wanted = desired.setdefault(meta, Desired(family, ports))
                endpoint = pod_to_endpoint(pod, node, service, ip)
                wanted.endpoints[endpoint_key(endpoint)] = endpoint
        return desired, missing

    async def _apply(self, key: str, service: JSON, writes: Plan, trigger: str | None) -> None:
        namespace = service["metadata"].get("namespace")
        written = self._written.setdefault(key, {})

        def annotate(slice_: JSON) -> JSON:
            annotations = dict(slice_["metadata"].get("annotations") or {})
            if trigger:
                annotations[LAST_CHANGE_TRIGGER_TIME] = trigger
            else:
                annotations.pop(LAST_CHANGE_TRIGGER_TIME, None)
            metadata = {k: v for k, v in slice_["metadata"].items() if k != "annotations"}
            if annotations:
                metadata["annotations"] = annotations
            return {**slice_, "metadata": metadata}

        async def create(body: JSON) -> None:
            stored = await self.client.create(ENDPOINTSLICES, annotate(body), namespace)
            written[stored["metadata"]["name"]] = _rv(stored)

        async def update(body: JSON) -> None:
            stored = await self.client.update(ENDPOINTSLICES, annotate(body), namespace)
            written[stored["metadata"]["name"]] = _rv(stored)

        async def delete(body: JSON) -> None:
            try:
                await self.client.delete(ENDPOINTSLICES, body["metadata"]["name"], namespace)
            except NotFound:
                pass
            written[body["metadata"]["name"]] = None

        # Updates and creates before deletes, so readers never see fewer endpoints than both states.
        results = await asyncio.gather(*(update(s) for s in writes.update), *(create(s) for s in writes.create),
                                       return_exceptions=True)
        results += await asyncio.gather(*(delete(s) for s in writes.delete), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            first = errors[0]
            if isinstance(first, Exception) and is_namespace_terminating(first):
                return
            self.recorder.event(service, WARNING, "FailedToUpdateEndpointSlices",
                                f"Error updating Endpoint Slices for Service {key}: {first}")
            raise first
