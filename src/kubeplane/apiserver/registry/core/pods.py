"""Pods: status split, Pending start, graceful deletion that waits for the kubelet, binding."""

from __future__ import annotations

from typing import Any

from kubeplane.apiserver.registry.strategy import Strategy
from kubeplane.machinery import errors
from kubeplane.machinery.objects import clone

JSON = dict[str, Any]

DEFAULT_TERMINATION_GRACE_PERIOD = 30
_TERMINAL_PHASES = ("Succeeded", "Failed")


def qos_class(pod: JSON) -> str:
    """Guaranteed when every container's requests equal its limits for cpu and memory; BestEffort
    when none sets any; Burstable otherwise (upstream's GetPodQOS, for the common cases)."""
    spec = pod.get("spec") or {}
    containers = list(spec.get("initContainers") or ()) + list(spec.get("containers") or ())
    any_set = False
    guaranteed = True
    for container in containers:
        resources = container.get("resources") or {}
        requests = resources.get("requests") or {}
        limits = resources.get("limits") or {}
        if requests or limits:
            any_set = True
        for name in ("cpu", "memory"):
            if name not in limits or requests.get(name, limits[name]) != limits[name]:
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


class PodStrategy(Strategy):
    has_status_subresource = True
    tracks_generation = True
    return_deleted_object = True

    def initial_status(self, obj: JSON) -> None:
        obj["status"] = {"phase": "Pending", "qosClass": qos_class(obj)}

    def grace_period(self, obj: JSON, requested: int | None) -> int:
        spec = obj.get("spec") or {}
        status = obj.get("status") or {}
        # Nothing runs an unscheduled or finished pod, so there is nobody to wait for.
        if not spec.get("nodeName") or status.get("phase") in _TERMINAL_PHASES:
            return 0
        if requested is not None:
            return max(requested, 0)
        existing = obj["metadata"].get("deletionGracePeriodSeconds")
        if existing is not None:
            return int(existing)
        return int(spec.get("terminationGracePeriodSeconds", DEFAULT_TERMINATION_GRACE_PERIOD))


def bind(pod: JSON, binding: JSON) -> JSON:
    """Apply a Binding to a pod (the scheduler's POST pods/NAME/binding)."""
    target = binding.get("target") or {}
    node = target.get("name") or ""
    name = pod["metadata"]["name"]
    if not node:
        raise errors.invalid("", "Binding", name, [errors.Cause("FieldValueRequired", "Required value",
                                                                "target.name")])
    if pod["metadata"].get("deletionTimestamp"):
        raise errors.conflict("", "pods/binding", name, "pod is being deleted, cannot be assigned to a host")
    current = (pod.get("spec") or {}).get("nodeName")
    if current:
        raise errors.conflict("", "pods/binding", name,
                              f"pod {name} is already assigned to node \"{current}\"")
    bound = clone(pod)
    bound["spec"]["nodeName"] = node
    status = bound.setdefault("status", {})
    conditions = [c for c in status.get("conditions") or () if c.get("type") != "PodScheduled"]
    conditions.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                       "lastTransitionTime": binding.get("_now")})
    status["conditions"] = conditions
    annotations = (binding.get("metadata") or {}).get("annotations")
    if annotations:
        bound["metadata"].setdefault("annotations", {}).update(annotations)
    return bound
