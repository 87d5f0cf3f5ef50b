"""What one object counts against a ResourceQuota (upstream's quota evaluators), as exact values."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from kubeplane.apiserver.admission.quantity import value

JSON = dict[str, Any]

# Compute resources a pod is charged for; plain "cpu"/"memory" mean the requests.
COMPUTE = ("cpu", "memory", "ephemeral-storage")
TERMINAL_PHASES = ("Succeeded", "Failed")
_LEGACY_COUNTS = {"pods": "pods", "services": "services", "configmaps": "configmaps", "secrets": "secrets",
                  "persistentvolumeclaims": "persistentvolumeclaims",
                  "replicationcontrollers": "replicationcontrollers", "resourcequotas": "resourcequotas"}


def count_name(group: str, resource: str) -> str:
    """``count/<resource>[.<group>]``, the object-count quota name for any resource."""
    return f"count/{resource}.{group}" if group else f"count/{resource}"


def usage(group: str, resource: str, obj: JSON) -> dict[str, Fraction]:
    used: dict[str, Fraction] = {count_name(group, resource): Fraction(1)}
    if group == "" and resource in _LEGACY_COUNTS:
        used[_LEGACY_COUNTS[resource]] = Fraction(1)
    if (group, resource) == ("", "pods"):
        if (obj.get("status") or {}).get("phase") in TERMINAL_PHASES:
            return {}
        used.update(pod_compute(obj.get("spec") or {}))
    elif (group, resource) == ("", "services"):
        spec = obj.get("spec") or {}
        kind = spec.get("type") or "ClusterIP"
        if kind == "LoadBalancer":
            used["services.loadbalancers"] = Fraction(1)
        if kind in ("NodePort", "LoadBalancer"):
            used["services.nodeports"] = Fraction(len(spec.get("ports") or ()))
    elif (group, resource) == ("", "persistentvolumeclaims"):
        spec = obj.get("spec") or {}
        storage = value(((spec.get("resources") or {}).get("requests") or {}).get("storage", 0))
        used["requests.storage"] = storage
        storage_class = spec.get("storageClassName")
        if storage_class:
            prefix = f"{storage_class}.storageclass.storage.k8s.io/"
            used[prefix + "requests.storage"] = storage
            used[prefix + "persistentvolumeclaims"] = Fraction(1)
    return used


def pod_compute(spec: JSON) -> dict[str, Fraction]:
    """requests.X / limits.X (and plain X for requests): containers summed, init containers as a max."""
    out: dict[str, Fraction] = {}
    for kind in ("requests", "limits"):
        totals: dict[str, Fraction] = {}
        for container in spec.get("containers") or ():
            for name, amount in ((container.get("resources") or {}).get(kind) or {}).items():
                totals[name] = totals.get(name, Fraction(0)) + value(amount)
        for container in spec.get("initContainers") or ():
            for name, amount in ((container.get("resources") or {}).get(kind) or {}).items():
                totals[name] = max(totals.get(name, Fraction(0)), value(amount))
        for name, amount in ((spec.get("overhead") or {}).items()):
            totals[name] = totals.get(name, Fraction(0)) + value(amount)
        for name, amount in totals.items():
            out[f"{kind}.{name}"] = amount
            if kind == "requests" and name in COMPUTE:
                out[name] = amount
    return out


def missing_compute(spec: JSON, hard: JSON) -> dict[str, list[str]]:
    """Constrained compute resources that some containers do not specify: {quota name: containers}."""
    missing: dict[str, list[str]] = {}
    for name in sorted(hard):
        kind, _, resource = name.rpartition(".")
        if not kind:
            kind, resource = "requests", name
        if kind not in ("requests", "limits") or resource not in COMPUTE[:2]:
            continue
        for container in [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())]:
            if resource not in ((container.get("resources") or {}).get(kind) or {}):
                missing.setdefault(name, []).append(container.get("name", ""))
    return missing


def matches_scopes(quota: JSON, pod: JSON | None) -> bool:
    """The quota's scopes (Terminating, NotTerminating, BestEffort, NotBestEffort, PriorityClass
    through scopeSelector) select this object; objects other than pods match only unscoped quotas."""
    spec = quota.get("spec") or {}
    scopes = list(spec.get("scopes") or ())
    expressions = list((spec.get("scopeSelector") or {}).get("matchExpressions") or ())
    if not scopes and not expressions:
        return True
    if pod is None:
        return False
    pod_spec = pod.get("spec") or {}
    for scope in scopes:
        if not _scope_matches(scope, "Exists", [], pod_spec):
            return False
    for expression in expressions:
        if not _scope_matches(expression.get("scopeName", ""), expression.get("operator", ""),
                              expression.get("values") or [], pod_spec):
            return False
    return True


def _scope_matches(scope: str, operator: str, values: list[str], spec: JSON) -> bool:
    terminating = spec.get("activeDeadlineSeconds") is not None
    best_effort = not any((c.get("resources") or {}).get(k) for c in spec.get("containers") or ()
                          for k in ("requests", "limits"))
    if scope == "PriorityClass":
        name = spec.get("priorityClassName") or ""
        if operator == "In":
            return name in values
        if operator == "NotIn":
            return name not in values
        if operator == "Exists":
            return bool(name)
        return not name
    verdict = {"Terminating": terminating, "NotTerminating": not terminating, "BestEffort": best_effort,
               "NotBestEffort": not best_effort}.get(scope, False)
    return verdict if operator != "DoesNotExist" else not verdict
