"""Change tracking between syncs (upstream's ServiceChangeTracker / EndpointsChangeTracker).

Informer handlers call ``service_changed`` / ``slice_changed`` with the new object (None when
deleted). Only changes the rules can see mark a Service dirty: a status-only update of a
ClusterIP Service or an EndpointSlice rewrite with the same endpoints costs nothing. Each sync
takes the dirty set (which Services' chains to rewrite) and the trigger times of the endpoint
changes it carries, for the network-programming-latency metric.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field
from typing import Any

from kubeplane.proxy.model import (
    Endpoint,
    ServicePort,
    ServicePortName,
    SliceInfo,
    merge_slices,
    service_ports,
    slice_info,
)

log = logging.getLogger(__name__)

JSON = dict[str, Any]
ServiceKey = tuple[str, str]  # (namespace, name)

TRIGGER_TIME_ANNOTATION = "endpoints.kubernetes.io/last-change-trigger-time"


def parse_trigger_time(value: str) -> float | None:
    """An RFC 3339 timestamp as epoch seconds; None when absent or unreadable."""
    if not value:
        return None
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        log.warning("unreadable %s %r", TRIGGER_TIME_ANNOTATION, value)
        return None


@dataclass
class PendingChanges:
    services: set[ServiceKey]
    trigger_times: list[float]
    service_changes: int
    endpoint_changes: int


@dataclass
class ChangeTracker:
    ports: dict[ServiceKey, tuple[ServicePort, ...]] = field(default_factory=dict)
    slices: dict[tuple[str, str], SliceInfo] = field(default_factory=dict)  # (namespace, slice name)
    _slices_by_service: dict[ServiceKey, set[tuple[str, str]]] = field(default_factory=dict)
    _endpoints: dict[ServiceKey, dict[ServicePortName, tuple[Endpoint, ...]]] = field(default_factory=dict)
    _dirty: set[ServiceKey] = field(default_factory=set)
    _trigger_times: list[float] = field(default_factory=list)
    _service_changes: int = 0
    _endpoint_changes: int = 0

    # -- informer side --------------------------------------------------------------------------

    def service_changed(self, key: ServiceKey, service: JSON | None) -> bool:
        ports = service_ports(service) if service is not None else ()
        if self.ports.get(key, ()) == ports:
            return False
        if ports:
            self.ports[key] = ports
        else:
            self.ports.pop(key, None)
        self._dirty.add(key)
        self._service_changes += 1
        return True

    def slice_changed(self, key: tuple[str, str], endpoint_slice: JSON | None) -> bool:
        info = slice_info(endpoint_slice) if endpoint_slice is not None else None
        old = self.slices.get(key)
        if old == info:
            return False
        touched = {i.service for i in (old, info) if i is not None}
        if old is not None:
            self._slices_by_service.get(old.service, set()).discard(key)
        if info is not None:
            self.slices[key] = info
            self._slices_by_service.setdefault(info.service, set()).add(key)
        else:
            self.slices.pop(key, None)
        changed = False
        for service in touched:
            merged = merge_slices([self.slices[k] for k in sorted(self._slices_by_service.get(service, ()))])
            if merged == self._endpoints.get(service, {}):
                continue
            if merged:
                self._endpoints[service] = merged
            else:
                self._endpoints.pop(service, None)
                self._slices_by_service.pop(service, None)
            self._dirty.add(service)
            changed = True
        if changed:
            self._endpoint_changes += 1
            when = parse_trigger_time(((endpoint_slice or {}).get("metadata") or {})
                                      .get("annotations", {}).get(TRIGGER_TIME_ANNOTATION, ""))
            if when is not None:
                self._trigger_times.append(when)
        return changed

    # -- sync side ------------------------------------------------------------------------------

    def has_pending(self) -> bool:
        return bool(self._dirty)

    def take_pending(self) -> PendingChanges:
        pending = PendingChanges(self._dirty, self._trigger_times, self._service_changes, self._endpoint_changes)
        self._dirty, self._trigger_times = set(), []
        self._service_changes = self._endpoint_changes = 0
        return pending

    def restore_pending(self, pending: PendingChanges) -> None:
        """A failed sync: its changes are still to be programmed (with their original times)."""
        self._dirty |= pending.services
        self._trigger_times.extend(pending.trigger_times)

    def service_port_map(self) -> dict[ServicePortName, ServicePort]:
        return {port.name: port for ports in self.ports.values() for port in ports}

    def endpoints_map(self) -> dict[ServicePortName, tuple[Endpoint, ...]]:
        return {name: eps for per_service in self._endpoints.values() for name, eps in per_service.items()}
