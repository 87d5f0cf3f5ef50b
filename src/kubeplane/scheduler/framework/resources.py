"""Resource amounts the scheduler compares: what a pod requests and what a node can allocate.

CPU is counted in millicores and everything else in whole units (bytes for memory), rounded up
as upstream's ``Quantity.MilliValue``/``Value`` do. Quantities are parsed by the machinery's one
parser so the API server and the scheduler never disagree about a value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kubeplane.machinery.validation import quantity

JSON = dict[str, Any]

CPU, MEMORY, EPHEMERAL_STORAGE, PODS = "cpu", "memory", "ephemeral-storage", "pods"

# What scoring assumes for a container that requests nothing (upstream's non-zero defaults), so
# that best-effort pods still spread instead of piling onto one node.
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024


def milli_value(value: Any) -> int:
    parsed = quantity.parse(value)
    return 0 if parsed is None else math.ceil(parsed * 1000)


def whole_value(value: Any) -> int:
    parsed = quantity.parse(value)
    return 0 if parsed is None else math.ceil(parsed)


@dataclass
class Resources:
    milli_cpu: int = 0
    memory: int = 0
    ephemeral_storage: int = 0
    allowed_pods: int = 0
    scalars: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_list(cls, resources: Mapping[str, Any] | None) -> Resources:
        """A core/v1 ResourceList (``{"cpu": "500m", "memory": "1Gi", ...}``)."""
        out = cls()
        for name, value in (resources or {}).items():
            if name == CPU:
                out.milli_cpu = milli_value(value)
            elif name == MEMORY:
                out.memory = whole_value(value)
            elif name == EPHEMERAL_STORAGE:
                out.ephemeral_storage = whole_value(value)
            elif name == PODS:
                out.allowed_pods = whole_value(value)
            else:
                out.scalars[name] = whole_value(value)
        return out

    def get(self, name: str) -> int:
        if name == CPU:
            return self.milli_cpu
        if name == MEMORY:
            return self.memory
        if name == EPHEMERAL_STORAGE:
            return self.ephemeral_storage
        if name == PODS:
            return self.allowed_pods
        return self.scalars.get(name, 0)

    def names(self) -> list[str]:
        return [CPU, MEMORY, EPHEMERAL_STORAGE, *sorted(self.scalars)]

    def add(self, other: Resources, sign: int = 1) -> None:
        self.milli_cpu += sign * other.milli_cpu
        self.memory += sign * other.memory
        self.ephemeral_storage += sign * other.ephemeral_storage
        self.allowed_pods += sign * other.allowed_pods
        for name, value in other.scalars.items():
            self.scalars[name] = self.scalars.get(name, 0) + sign * value

    def set_max(self, other: Resources) -> None:
        self.milli_cpu = max(self.milli_cpu, other.milli_cpu)
        self.memory = max(self.memory, other.memory)
        self.ephemeral_storage = max(self.ephemeral_storage, other.ephemeral_storage)
        for name, value in other.scalars.items():
            self.scalars[name] = max(self.scalars.get(name, 0), value)

    def copy(self) -> Resources:
        return Resources(self.milli_cpu, self.memory, self.ephemeral_storage, self.allowed_pods, dict(self.scalars))


def _container_requests(container: JSON, non_zero: bool) -> Resources:
    requests = (container.get("resources") or {}).get("requests") or {}
    out = Resources.from_list(requests)
    if non_zero:
        if CPU not in requests:
            out.milli_cpu = DEFAULT_MILLI_CPU_REQUEST
        if MEMORY not in requests:
            out.memory = DEFAULT_MEMORY_REQUEST
    return out


def _is_sidecar(container: JSON) -> bool:
    return container.get("restartPolicy") == "Always"


def effective_requests(pod: JSON, non_zero: bool = False) -> Resources:
    """What the pod holds on its node at its peak, as upstream's ``PodRequests`` works it out.

    App containers and sidecars (restartable init containers) run together; each plain init
    container runs alone next to the sidecars started before it; overhead comes on top.
    ``non_zero`` substitutes the scoring defaults for missing cpu/memory requests.
    """
    spec = pod.get("spec") or {}
    total = Resources()
    for container in spec.get("containers") or []:
        total.add(_container_requests(container, non_zero))
    sidecars = Resources()
    init_peak = Resources()
    for container in spec.get("initContainers") or []:
        requests = _container_requests(container, non_zero)
        if _is_sidecar(container):
            total.add(requests)
            sidecars.add(requests)
            running = sidecars.copy()
        else:
            running = requests
            running.add(sidecars)
        init_peak.set_max(running)
    total.set_max(init_peak)
    total.add(Resources.from_list(spec.get("overhead")))
    return total


def node_allocatable(node: JSON) -> Resources:
    status = node.get("status") or {}
    return Resources.from_list(status.get("allocatable") or status.get("capacity"))

