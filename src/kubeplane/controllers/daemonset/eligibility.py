"""Which nodes a DaemonSet's pod belongs on (upstream ``NodeShouldRunDaemonPod``): the
template's nodeName, nodeSelector and required node affinity must match, and its tolerations —
with the ones the controller adds to every daemon pod — must cover the node's NoSchedule and
NoExecute taints. An untolerated NoExecute taint also evicts a pod already there.

The matching is written here rather than imported from the scheduler because controllers may
only import ``client`` and ``machinery``.
"""

from __future__ import annotations

from typing import Any

from kubeplane.machinery import labels

JSON = dict[str, Any]

NO_SCHEDULE, NO_EXECUTE = "NoSchedule", "NoExecute"
NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
DISK_PRESSURE = "node.kubernetes.io/disk-pressure"
MEMORY_PRESSURE = "node.kubernetes.io/memory-pressure"
PID_PRESSURE = "node.kubernetes.io/pid-pressure"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
NETWORK_UNAVAILABLE = "node.kubernetes.io/network-unavailable"

_OPERATORS = {"In": labels.IN, "NotIn": labels.NOT_IN, "Exists": labels.EXISTS,
              "DoesNotExist": labels.DOES_NOT_EXIST, "Gt": labels.GREATER_THAN, "Lt": labels.LESS_THAN}


def default_tolerations(pod_spec: JSON) -> list[JSON]:
    """What upstream adds to every daemon pod so node conditions never evict or block it."""
    added = [{"key": NOT_READY, "operator": "Exists", "effect": NO_EXECUTE},
             {"key": UNREACHABLE, "operator": "Exists", "effect": NO_EXECUTE},
             {"key": DISK_PRESSURE, "operator": "Exists", "effect": NO_SCHEDULE},
             {"key": MEMORY_PRESSURE, "operator": "Exists", "effect": NO_SCHEDULE},
             {"key": PID_PRESSURE, "operator": "Exists", "effect": NO_SCHEDULE},
             {"key": UNSCHEDULABLE, "operator": "Exists", "effect": NO_SCHEDULE}]
    if pod_spec.get("hostNetwork"):
        added.append({"key": NETWORK_UNAVAILABLE, "operator": "Exists", "effect": NO_SCHEDULE})
    return added


def with_default_tolerations(tolerations: list[JSON], pod_spec: JSON) -> list[JSON]:
    """``tolerations`` plus the defaults, each default replacing one with the same key and effect."""
    result = list(tolerations)
    for toleration in default_tolerations(pod_spec):
        result = [t for t in result if (t.get("key"), t.get("effect")) != (toleration["key"], toleration["effect"])]
        result.append(toleration)
    return result


def tolerates(toleration: JSON, taint: JSON) -> bool:
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    return operator == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")


def _untolerated(taints: list[JSON], tolerations: list[JSON], effects: tuple[str, ...]) -> bool:
    return any(t.get("effect") in effects and not any(tolerates(tol, t) for tol in tolerations) for t in taints)


def _term_matches(term: JSON, node: JSON) -> bool:
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False  # an empty term matches no node
    node_labels = (node.get("metadata") or {}).get("labels") or {}
    node_fields = {"metadata.name": node["metadata"]["name"]}
    for expressions_, have in ((expressions, node_labels), (fields, node_fields)):
        for expression in expressions_:
            operator = _OPERATORS.get(expression.get("operator", ""))
            if operator is None or (expressions_ is fields and operator not in (labels.IN, labels.NOT_IN)):
                return False
            if not labels.Requirement(expression.get("key", ""), operator,
                                      tuple(expression.get("values") or ())).matches(have):
                return False
    return True


def node_affinity_matches(pod_spec: JSON, node: JSON) -> bool:
    node_labels = (node.get("metadata") or {}).get("labels") or {}
    if any(node_labels.get(k) != v for k, v in (pod_spec.get("nodeSelector") or {}).items()):
        return False
    required = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution")
    return required is None or any(_term_matches(t, node) for t in required.get("nodeSelectorTerms") or ())


def node_should_run(ds: JSON, node: JSON) -> tuple[bool, bool]:
    """(should run a daemon pod here, should keep one that already runs here)."""
    pod_spec = (((ds.get("spec") or {}).get("template") or {}).get("spec") or {})
    name = node["metadata"]["name"]
    if pod_spec.get("nodeName") and pod_spec["nodeName"] != name:
        return False, False
    if not node_affinity_matches(pod_spec, node):
        return False, False
    taints = list((node.get("spec") or {}).get("taints") or ())
    tolerations = with_default_tolerations(list(pod_spec.get("tolerations") or ()), pod_spec)
    if _untolerated(taints, tolerations, (NO_EXECUTE,)):
        return False, False
    if _untolerated(taints, tolerations, (NO_SCHEDULE,)):
        return False, True
    return True, True
