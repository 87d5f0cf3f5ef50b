"""Pod QoS class and the container resources CRI applies to cgroups (requests/limits -> shares,
quota, memory limit), with upstream's conversions."""

from __future__ import annotations

import math
from typing import Any

from kubeplane.machinery.validation import quantity

JSON = dict[str, Any]

GUARANTEED, BURSTABLE, BEST_EFFORT = "Guaranteed", "Burstable", "BestEffort"
MIN_SHARES, MAX_SHARES = 2, 262144
SHARES_PER_CPU = 1024
QUOTA_PERIOD_US = 100_000
MIN_QUOTA_US = 1000
COMPUTE_RESOURCES = ("cpu", "memory")


def milli_cpu(value: Any) -> int:
    parsed = quantity.parse(value)
    return 0 if parsed is None else math.ceil(parsed * 1000)


def whole(value: Any) -> int:
    parsed = quantity.parse(value)
    return 0 if parsed is None else math.ceil(parsed)


def _all_containers(spec: JSON) -> list[JSON]:
    return list(spec.get("initContainers") or []) + list(spec.get("containers") or [])


def qos_class(pod: JSON) -> str:
    requests: dict[str, int] = {}
    limits: dict[str, int] = {}
    guaranteed = True
    for container in _all_containers(pod.get("spec") or {}):
        resources = container.get("resources") or {}
        container_requests = {k: v for k, v in (resources.get("requests") or {}).items() if k in COMPUTE_RESOURCES}
        container_limits = {k: v for k, v in (resources.get("limits") or {}).items() if k in COMPUTE_RESOURCES}
        for name, value in container_requests.items():
            if quantity.parse(value):
                requests[name] = requests.get(name, 0) + milli_cpu(value)
        for name, value in container_limits.items():
            if quantity.parse(value):
                limits[name] = limits.get(name, 0) + milli_cpu(value)
        fully_limited = set(container_limits) == set(COMPUTE_RESOURCES)
        if not fully_limited or any(milli_cpu(container_requests.get(name, container_limits[name]))
                                    != milli_cpu(container_limits[name]) for name in COMPUTE_RESOURCES):
            guaranteed = False
    if not requests and not limits:
        return BEST_EFFORT
    return GUARANTEED if guaranteed else BURSTABLE


def cpu_shares(milli: int) -> int:
    if milli == 0:
        return MIN_SHARES
    return min(max(milli * SHARES_PER_CPU // 1000, MIN_SHARES), MAX_SHARES)


def cpu_quota(milli: int) -> int:
    return max(milli * QUOTA_PERIOD_US // 1000, MIN_QUOTA_US)


def container_resources(container: JSON) -> dict[str, int]:
    """CRI LinuxContainerResources fields: cpu_shares always; quota/period and memory when limited."""
    resources = container.get("resources") or {}
    requests = resources.get("requests") or {}
    limits = resources.get("limits") or {}
    # A container with only a CPU limit gets shares from it, as its request defaults to the limit.
    request_milli = milli_cpu(requests.get("cpu", limits.get("cpu", 0)))
    out = {"cpu_shares": cpu_shares(request_milli)}
    if "cpu" in limits:
        out["cpu_quota"] = cpu_quota(milli_cpu(limits["cpu"]))
        out["cpu_period"] = QUOTA_PERIOD_US
    if "memory" in limits:
        out["memory_limit_in_bytes"] = whole(limits["memory"])
    return out
