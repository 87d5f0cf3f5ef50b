"""``endpoints.kubernetes.io/last-change-trigger-time`` (upstream ``TriggerTimeTracker``): the
earliest time at which something that changed a Service's endpoints since the previous sync
happened — a pod's Ready transition or the Service's creation. Network programming latency is
measured from it, so it must name the oldest change this sync publishes, not the newest."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kubeplane.controllers.pods import ready_condition
from kubeplane.controllers.timeutil import parse_time

JSON = dict[str, Any]


@dataclass
class _ServiceState:
    pods: dict[str, datetime] = field(default_factory=dict)
    service: datetime | None = None


def pod_trigger_time(pod: JSON) -> datetime | None:
    return parse_time((ready_condition(pod) or {}).get("lastTransitionTime"))


def service_trigger_time(service: JSON) -> datetime | None:
    return parse_time(service["metadata"].get("creationTimestamp"))


class TriggerTimeTracker:
    """One per controller; workers never sync the same Service at once, so no locking."""

    def __init__(self) -> None:
        self._states: dict[str, _ServiceState] = {}

    def compute(self, key: str, service: JSON, pods: list[JSON]) -> datetime | None:
        previous = self._states.get(key) or _ServiceState()
        state = _ServiceState(service=service_trigger_time(service))
        earliest: datetime | None = None
        for pod in pods:
            when = pod_trigger_time(pod)
            if when is None:
                continue
            name = pod["metadata"]["name"]
            state.pods[name] = when
            seen = previous.pods.get(name)
            if seen is None or when > seen:
                earliest = when if earliest is None else min(earliest, when)
        if state.service is not None and (previous.service is None or state.service > previous.service):
            earliest = state.service if earliest is None else min(earliest, state.service)
        self._states[key] = state
        return earliest

    def forget(self, key: str) -> None:
        self._states.pop(key, None)
