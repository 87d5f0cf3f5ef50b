"""LimitRanger: defaults and bounds from the namespace's LimitRanges, for containers, pods and PVCs.

Mutating: containers without requests/limits get the ``defaultRequest``/``default`` of every
LimitRange item of type Container. Validating: ``min``, ``max`` and ``maxLimitRequestRatio`` per
Container, per Pod (sums) and per PersistentVolumeClaim, with upstream's messages.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from typing import Any

from kubeplane.apiserver.admission.attributes import CREATE, UPDATE, Attributes
from kubeplane.apiserver.admission.objects import ClusterObjects
from kubeplane.apiserver.admission.quantity import fmt, value

JSON = dict[str, Any]

LIMIT_TYPE_CONTAINER = "Container"
LIMIT_TYPE_POD = "Pod"
LIMIT_TYPE_PVC = "PersistentVolumeClaim"
ANNOTATION = "kubernetes.io/limit-ranger"


class LimitRanger:
    name = "LimitRanger"

    def __init__(self, objects: ClusterObjects, config: JSON | None = None) -> None:
        self.objects = objects

    def _applies(self, attrs: Attributes) -> bool:
        if attrs.subresource or attrs.object is None:
            return False
        # Pods are checked when created only (their resources are immutable), PVCs on resize too.
        if attrs.is_resource("", "pods"):
            return attrs.operation == CREATE
        return attrs.is_resource("", "persistentvolumeclaims") and attrs.operation in (CREATE, UPDATE)

    async def _items(self, attrs: Attributes, limit_type: str) -> list[JSON]:
        return _of_type(await self.objects.list("", "limitranges", attrs.namespace), limit_type)

    # -- mutating -----------------------------------------------------------------------------------
    async def admit(self, attrs: Attributes) -> None:
        if not self._applies(attrs) or not attrs.is_resource("", "pods"):
            return
        assert attrs.object is not None
        items = await self._items(attrs, LIMIT_TYPE_CONTAINER)
        if not items:
            return
        notes: list[str] = []
        spec = attrs.object.setdefault("spec", {})
        for container in [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())]:
            resources = container.setdefault("resources", {})
            set_requests: list[str] = []
            set_limits: list[str] = []
            for item in items:
                for name, amount in (item.get("defaultRequest") or {}).items():
                    if name not in (resources.get("requests") or {}):
                        resources.setdefault("requests", {})[name] = amount
                        set_requests.append(name)
                for name, amount in (item.get("default") or {}).items():
                    if name not in (resources.get("limits") or {}):
                        resources.setdefault("limits", {})[name] = amount
                        set_limits.append(name)
                        # A request left unset takes the new limit, as API defaulting would have done.
                        if name not in (resources.get("requests") or {}):
                            resources.setdefault("requests", {})[name] = amount
                            set_requests.append(name)
            if set_requests:
                notes.append(f"{', '.join(sorted(set(set_requests)))} request for "
                             f"{'init container' if container in (spec.get('initContainers') or ()) else 'container'} "
                             f"{container.get('name', '')}")
            if set_limits:
                notes.append(f"{', '.join(sorted(set(set_limits)))} limit for container {container.get('name', '')}")
        if notes:
            annotations = attrs.object.setdefault("metadata", {}).setdefault("annotations", {})
            annotations[ANNOTATION] = "LimitRanger plugin set: " + "; ".join(notes)

    # -- validating ---------------------------------------------------------------------------------
    async def validate(self, attrs: Attributes) -> None:
        if not self._applies(attrs):
            return
        assert attrs.object is not None
        problems: list[str] = []
        spec = attrs.object.get("spec") or {}
        if attrs.is_resource("", "pods"):
            # One read serves both item types: the same snapshot, and half the lists.
            ranges = await self.objects.list("", "limitranges", attrs.namespace)
            for item in _of_type(ranges, LIMIT_TYPE_CONTAINER):
                for container in [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())]:
                    resources = container.get("resources") or {}
                    problems += check(item, LIMIT_TYPE_CONTAINER, resources.get("requests") or {},
                                      resources.get("limits") or {})
            for item in _of_type(ranges, LIMIT_TYPE_POD):
                requests, limits = pod_totals(spec)
                problems += check(item, LIMIT_TYPE_POD, requests, limits)
        else:
            resources = spec.get("resources") or {}
            for item in await self._items(attrs, LIMIT_TYPE_PVC):
                problems += check(item, LIMIT_TYPE_PVC, resources.get("requests") or {},
                                  resources.get("limits") or {})
        if problems:
            raise attrs.forbidden(problems[0] if len(problems) == 1 else f"[{', '.join(problems)}]")


def _of_type(ranges: list[JSON], limit_type: str) -> list[JSON]:
    """The items of ``limit_type`` across the namespace's LimitRanges, in list order."""
    return [item for lr in ranges for item in (lr.get("spec") or {}).get("limits") or ()
            if item.get("type") == limit_type]


def pod_totals(spec: JSON) -> tuple[dict[str, Any], dict[str, Any]]:
    """A pod's effective requests and limits: the sum over containers, at least each init container."""
    totals: list[dict[str, Any]] = []
    for kind in ("requests", "limits"):
        summed: dict[str, Fraction] = {}
        for container in spec.get("containers") or ():
            for name, amount in ((container.get("resources") or {}).get(kind) or {}).items():
                summed[name] = summed.get(name, Fraction(0)) + value(amount)
        for container in spec.get("initContainers") or ():
            for name, amount in ((container.get("resources") or {}).get(kind) or {}).items():
                summed[name] = max(summed.get(name, Fraction(0)), value(amount))
        totals.append({name: fmt(amount) for name, amount in summed.items()})
    return totals[0], totals[1]


def check(item: JSON, limit_type: str, requests: dict[str, Any], limits: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    for name, enforced in _sorted(item.get("min")):
        problems += _min(limit_type, name, enforced, requests, limits)
    for name, enforced in _sorted(item.get("max")):
        problems += _max(limit_type, name, enforced, requests, limits)
    for name, enforced in _sorted(item.get("maxLimitRequestRatio")):
        problems += _ratio(limit_type, name, enforced, requests, limits)
    return problems


def _sorted(resources: JSON | None) -> Iterable[tuple[str, Any]]:
    return sorted((resources or {}).items())


def _min(limit_type: str, name: str, enforced: Any, requests: JSON, limits: JSON) -> list[str]:
    if name not in requests:
        return [f"minimum {name} usage per {limit_type} is {enforced}.  No request is specified"]
    if value(requests[name]) < value(enforced):
        return [f"minimum {name} usage per {limit_type} is {enforced}, but request is {requests[name]}"]
    if name in limits and value(limits[name]) < value(enforced):
        return [f"minimum {name} usage per {limit_type} is {enforced}, but limit is {limits[name]}"]
    return []


def _max(limit_type: str, name: str, enforced: Any, requests: JSON, limits: JSON) -> list[str]:
    if name not in limits:
        return [f"maximum {name} usage per {limit_type} is {enforced}.  No limit is specified"]
    if value(limits[name]) > value(enforced):
        return [f"maximum {name} usage per {limit_type} is {enforced}, but limit is {limits[name]}"]
    if name in requests and value(requests[name]) > value(enforced):
        return [f"maximum {name} usage per {limit_type} is {enforced}, but request is {requests[name]}"]
    return []


def _ratio(limit_type: str, name: str, enforced: Any, requests: JSON, limits: JSON) -> list[str]:
    request = value(requests.get(name, 0))
    if request <= 0:
        return [f"{name} max limit to request ratio per {limit_type} is {enforced}, but no request is "
                "specified or request is 0"]
    if value(limits.get(name, 0)) <= 0:
        return [f"{name} max limit to request ratio per {limit_type} is {enforced}, but no limit is "
                "specified or limit is 0"]
    ratio = value(limits[name]) / request
    if ratio > value(enforced):
        return [f"{name} max limit to request ratio per {limit_type} is {enforced}, but provided ratio is "
                f"{float(ratio):f}"]
    return []
