"""What the Endpoints and EndpointSlice controllers share: keys are Services, and a pod's change
enqueues every Service selecting it — before and after a label change, so the Services it left
drop it too."""

from __future__ import annotations

from typing import Any

from kubeplane.client import DeletedFinalStateUnknown, EventHandlers, Informer
from kubeplane.client.resource import PODS, SERVICES
from kubeplane.controllers.controller import (
    ControllerContext,
    ResourceController,
    is_resync,
    unwrap_tombstone,
)
from kubeplane.controllers.endpoints.podaddress import service_selects
from kubeplane.controllers.endpoints.triggertime import TriggerTimeTracker
from kubeplane.controllers.ownership import labels_of

JSON = dict[str, Any]


class ServicePodsController(ResourceController):
    """A controller of Services' endpoints: watches Services and the pods they select."""

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.triggers = TriggerTimeTracker()
        self.services: Informer = self.informer(SERVICES, self.enqueue_handlers())
        self.pods: Informer = self.informer(PODS, EventHandlers(
            on_add=self._pod_changed, on_update=self._pod_updated, on_delete=self._pod_changed))

    def _enqueue_services_selecting(self, pod: JSON) -> None:
        for service in self.services.list(pod["metadata"].get("namespace")):
            if service_selects(service, pod):
                self.enqueue(service)

    def _pod_changed(self, obj: JSON | DeletedFinalStateUnknown) -> None:
        self._enqueue_services_selecting(unwrap_tombstone(obj))

    def _pod_updated(self, old: JSON, new: JSON) -> None:
        if is_resync(old, new):
            return
        self._enqueue_services_selecting(new)
        if labels_of(old) != labels_of(new):
            self._enqueue_services_selecting(old)  # the services it left
