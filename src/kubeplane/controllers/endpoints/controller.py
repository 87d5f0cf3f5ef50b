"""The Endpoints controller (upstream ``pkg/controller/endpoint``).

For every Service with a selector it keeps an Endpoints object of the same name listing the
selected pods' addresses (see ``subsets.py``); Services without a selector are left to whoever
writes their Endpoints by hand. The Endpoints object goes when its Service does. A sync writes
only when the subsets, the labels or the capacity annotation differ from what is stored.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from kubeplane.client import (
    DeletedFinalStateUnknown,
    EventHandlers,
    Informer,
    NotFound,
    meta_namespace_key,
    split_key,
)
from kubeplane.client.events import WARNING
from kubeplane.client.resource import ENDPOINTS
from kubeplane.controllers.controller import (
    ControllerContext,
    is_namespace_terminating,
    unwrap_tombstone,
)
from kubeplane.controllers.endpoints.podaddress import (
    HEADLESS_LABEL,
    LAST_CHANGE_TRIGGER_TIME,
    is_service_ip_set,
    service_selector_set,
    service_selects,
)
from kubeplane.controllers.endpoints.servicepods import ServicePodsController
from kubeplane.controllers.endpoints.subsets import OVER_CAPACITY, TRUNCATED, build_subsets, truncate
from kubeplane.controllers.ownership import labels_of

log = logging.getLogger(__name__)

JSON = dict[str, Any]

MANAGED_BY_LABEL = "endpoints.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpoint-controller"


def format_trigger_time(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def endpoints_labels(service: JSON) -> dict[str, str]:
    result = dict(labels_of(service))
    result.pop(HEADLESS_LABEL, None)
    if not is_service_ip_set(service):
        result[HEADLESS_LABEL] = ""
    result[MANAGED_BY_LABEL] = CONTROLLER_NAME
    return result


class EndpointsController(ServicePodsController):
    name = "endpoints"
    component = "endpoint-controller"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        # Someone deleting a managed Endpoints object: put it back.
        self.endpoints: Informer = self.informer(ENDPOINTS, EventHandlers(on_delete=self._endpoints_deleted))

    # -- event handlers: only enqueue ---------------------------------------------------------

    def _endpoints_deleted(self, obj: JSON | DeletedFinalStateUnknown) -> None:
        endpoints = unwrap_tombstone(obj)
        service = self.services.get(endpoints["metadata"]["name"], endpoints["metadata"].get("namespace"))
        if service is not None:
            self.enqueue(service)

    # -- sync ---------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        service = self.services.get(name, namespace)
        if service is None:
            self.triggers.forget(key)
            try:
                await self.client.delete(ENDPOINTS, name, namespace)
            except NotFound:
                pass
            return
        selector = service_selector_set(service)
        if selector is None:
            return  # no selector: the Endpoints are managed by hand
        pods = [p for p in self.pods.list(namespace) if service_selects(service, p)]
        subsets, truncated = truncate(build_subsets(service, pods))
        current = self.endpoints.get(name, namespace)
        labels = endpoints_labels(service)
        annotations = dict(((current or {}).get("metadata") or {}).get("annotations") or {})
        capacity_ok = (annotations.get(OVER_CAPACITY) == TRUNCATED) == truncated
        trigger = self.triggers.compute(key, service, pods)
        if current is not None and (current.get("subsets") or []) == subsets \
                and labels_of(current) == labels and capacity_ok:
            return
        if trigger is not None:
            annotations[LAST_CHANGE_TRIGGER_TIME] = format_trigger_time(trigger)
        else:
            annotations.pop(LAST_CHANGE_TRIGGER_TIME, None)
        if truncated:
            annotations[OVER_CAPACITY] = TRUNCATED
        else:
            annotations.pop(OVER_CAPACITY, None)
        await self._write(service, current, subsets, labels, annotations)

    async def _write(self, service: JSON, current: JSON | None, subsets: list[JSON], labels: dict[str, str],
                     annotations: dict[str, str]) -> None:
        meta = service["metadata"]
        metadata: JSON = {"name": meta["name"], "namespace": meta.get("namespace"), "labels": labels}
        if annotations:
            metadata["annotations"] = annotations
        body: JSON = {"apiVersion": "v1", "kind": "Endpoints", "metadata": metadata, "subsets": subsets}
        try:
            if current is None:
                await self.client.create(ENDPOINTS, body, meta.get("namespace"))
            else:
                metadata["resourceVersion"] = current["metadata"].get("resourceVersion")
                await self.client.update(ENDPOINTS, body, meta.get("namespace"))
        except Exception as err:
            if is_namespace_terminating(err):
                return
            verb = "create" if current is None else "update"
            reason = "FailedToCreateEndpoint" if current is None else "FailedToUpdateEndpoint"
            self.recorder.event(service, WARNING, reason, f"Failed to {verb} endpoint {meta_namespace_key(service)}: "
                                f"{err}")
            raise
