"""What each object counts against a quota (upstream's quota evaluators in
``pkg/quota/v1/evaluator/core`` and the generic object-count evaluator), and which quota scopes
select it.

Pods count ``pods``/``count/pods`` and their compute requests and limits; Services count
``services``, ``services.loadbalancers`` and ``services.nodeports``; PVCs count
``persistentvolumeclaims`` and ``requests.storage`` (also per storage class); every other kind
counts ``count/<resource>[.<group>]`` only.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from kubeplane.controllers.resourcequota.quantity import Quantity, add_into, parse_quantity
from kubeplane.controllers.timeutil import parse_time

JSON = dict[str, Any]

COMPUTE = ("cpu", "memory", "ephemeral-storage")
STORAGE_CLASS_SUFFIX = ".storageclass.storage.k8s.io/"


def _resources(container: JSON, kind: str) -> dict[str, Quantity]:
    found = {}
    for name, value in ((container.get("resources") or {}).get(kind) or {}).items():
        try:
            found[name] = parse_quantity(value)
        except ValueError:
            continue
    return found


def _add_all(total: dict[str, Quantity], more: dict[str, Quantity]) -> None:
    for name, amount in more.items():
        add_into(total, name, amount)


def _max_into(total: dict[str, Quantity], other: dict[str, Quantity]) -> None:
    for name, amount in other.items():
        if name not in total or amount.value > total[name].value:
            total[name] = amount


def pod_resources(pod: JSON, kind: str) -> dict[str, Quantity]:
    """Upstream's PodRequests/PodLimits: app containers plus sidecars, or the largest init
    container step if bigger, plus the pod overhead."""
    spec = pod.get("spec") or {}
    total: dict[str, Quantity] = {}
    for container in spec.get("containers") or ():
        _add_all(total, _resources(container, kind))
    sidecars: dict[str, Quantity] = {}
    init_peak: dict[str, Quantity] = {}
    for container in spec.get("initContainers") or ():
        own = _resources(container, kind)
        if container.get("restartPolicy") == "Always":
            _add_all(sidecars, own)
            step = dict(sidecars)
        else:
            step = dict(sidecars)
            _add_all(step, own)
        _max_into(init_peak, step)
    _add_all(total, sidecars)
    _max_into(total, init_peak)
    overhead = {name: parse_quantity(v) for name, v in (spec.get("overhead") or {}).items()}
    if overhead:
        _add_all(total, overhead)
    return total


def is_best_effort(pod: JSON) -> bool:
    spec = pod.get("spec") or {}
    for container in (*(spec.get("containers") or ()), *(spec.get("initContainers") or ())):
        for kind in ("requests", "limits"):
            for name, amount in _resources(container, kind).items():
                if name in ("cpu", "memory") and amount.value != 0:
                    return False
    return True


def pod_counts(pod: JSON, now: datetime) -> bool:
    """Upstream's QuotaV1Pod: a terminal pod, or one past its deletion grace, no longer counts."""
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return False
    meta = pod["metadata"]
    deleting = parse_time(meta.get("deletionTimestamp"))
    grace = meta.get("deletionGracePeriodSeconds")
    return not (deleting is not None and grace is not None and now > deleting + timedelta(seconds=int(grace)))


def pod_usage(pod: JSON, now: datetime) -> dict[str, Quantity]:
    usage = {"count/pods": parse_quantity(1)}
    if not pod_counts(pod, now):
        return usage
    usage["pods"] = parse_quantity(1)
    requests, limits = pod_resources(pod, "requests"), pod_resources(pod, "limits")
    for name, amount in requests.items():
        if name in COMPUTE or name.startswith("hugepages-"):
            usage[f"requests.{name}"] = amount
            if name in COMPUTE:
                usage[name] = amount
    for name, amount in limits.items():
        if name in COMPUTE:
            usage[f"limits.{name}"] = amount
    return usage


def service_usage(service: JSON) -> dict[str, Quantity]:
    spec = service.get("spec") or {}
    ports = spec.get("ports") or []
    usage = {"count/services": parse_quantity(1), "services": parse_quantity(1),
             "services.loadbalancers": parse_quantity(0), "services.nodeports": parse_quantity(0)}
    if spec.get("type") == "NodePort":
        usage["services.nodeports"] = parse_quantity(len(ports))
    elif spec.get("type") == "LoadBalancer":
        if spec.get("allocateLoadBalancerNodePorts") is False:
            usage["services.nodeports"] = parse_quantity(sum(1 for p in ports if p.get("nodePort")))
        else:
            usage["services.nodeports"] = parse_quantity(len(ports))
        usage["services.loadbalancers"] = parse_quantity(1)
    return usage


def pvc_usage(claim: JSON) -> dict[str, Quantity]:
    spec = claim.get("spec") or {}
    usage = {"count/persistentvolumeclaims": parse_quantity(1), "persistentvolumeclaims": parse_quantity(1)}
    storage_class = spec.get("storageClassName")
    if storage_class:
        usage[f"{storage_class}{STORAGE_CLASS_SUFFIX}persistentvolumeclaims"] = parse_quantity(1)
    request = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    if request is not None:
        amount = parse_quantity(request)
        usage["requests.storage"] = amount
        if storage_class:
            usage[f"{storage_class}{STORAGE_CLASS_SUFFIX}requests.storage"] = amount
    return usage


# -- scopes ---------------------------------------------------------------------------------------

def _scope_selector_matches(requirement: JSON, pod: JSON) -> bool:
    priority_class = (pod.get("spec") or {}).get("priorityClassName") or ""
    operator, values = requirement.get("operator"), requirement.get("values") or []
    if operator == "In":
        return bool(priority_class) and priority_class in values
    if operator == "NotIn":
        return bool(priority_class) and priority_class not in values
    if operator == "Exists":
        return bool(priority_class)
    if operator == "DoesNotExist":
        return not priority_class
    return False


def pod_matches_scope(pod: JSON, scope: str, requirement: JSON | None = None) -> bool:
    spec = pod.get("spec") or {}
    if scope == "Terminating":
        return spec.get("activeDeadlineSeconds") is not None and int(spec["activeDeadlineSeconds"]) >= 0
    if scope == "NotTerminating":
        return spec.get("activeDeadlineSeconds") is None
    if scope == "BestEffort":
        return is_best_effort(pod)
    if scope == "NotBestEffort":
        return not is_best_effort(pod)
    if scope == "PriorityClass":
        return _scope_selector_matches(requirement or {"operator": "Exists"}, pod)
    if scope == "CrossNamespacePodAffinity":
        affinity = spec.get("affinity") or {}
        return any(term.get("namespaceSelector") is not None or term.get("namespaces")
                   for kind in ("podAffinity", "podAntiAffinity")
                   for field in ("requiredDuringSchedulingIgnoredDuringExecution",
                                 "preferredDuringSchedulingIgnoredDuringExecution")
                   for term in (_affinity_terms((affinity.get(kind) or {}).get(field) or [])))
    return False


def _affinity_terms(terms: Iterable[JSON]) -> list[JSON]:
    return [t.get("podAffinityTerm", t) for t in terms]


def quota_scopes(quota: JSON) -> list[tuple[str, JSON | None]]:
    """The quota's scopes, from spec.scopes and spec.scopeSelector, as (scope, requirement)."""
    spec = quota.get("spec") or {}
    scopes: list[tuple[str, JSON | None]] = [(s, None) for s in spec.get("scopes") or ()]
    for requirement in (spec.get("scopeSelector") or {}).get("matchExpressions") or ():
        scopes.append((requirement.get("scopeName", ""), requirement))
    return scopes
