"""Defaults for the smaller API groups: autoscaling, networking, discovery, scheduling, storage, RBAC."""

from __future__ import annotations

from typing import Any

from ._util import JSON, child, items, setdefault, setdefault_if_empty

RBAC_GROUP = "rbac.authorization.k8s.io"


def _scaling_rules(rules: JSON, stabilization: int, policies: list[JSON]) -> None:
    setdefault(rules, "stabilizationWindowSeconds", stabilization)
    setdefault_if_empty(rules, "selectPolicy", "Max")
    if rules.get("policies") is None:
        rules["policies"] = policies


def horizontal_pod_autoscaler_v2(obj: JSON, minor: str) -> None:
    spec = child(obj, "spec")
    if spec is None:
        return
    setdefault(spec, "minReplicas", 1)
    if not spec.get("metrics"):
        spec["metrics"] = [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]
    behavior = child(spec, "behavior")
    if behavior is None:
        return
    # Filled in only when the user asked for a behaviour, as upstream does.
    up = child(behavior, "scaleUp", create=True)
    if up is not None:
        _scaling_rules(up, 0, [{"type": "Pods", "value": 4, "periodSeconds": 15},
                               {"type": "Percent", "value": 100, "periodSeconds": 15}])
    down = child(behavior, "scaleDown", create=True)
    if down is not None:
        _scaling_rules(down, 300, [{"type": "Percent", "value": 100, "periodSeconds": 15}])


def horizontal_pod_autoscaler_v1(obj: JSON, minor: str) -> None:
    spec = child(obj, "spec")
    if spec is not None:
        setdefault(spec, "minReplicas", 1)


def network_policy(obj: JSON, minor: str) -> None:
    spec = child(obj, "spec")
    if spec is None:
        return
    for direction in ("ingress", "egress"):
        for rule in items(spec, direction):
            for port in items(rule, "ports"):
                setdefault_if_empty(port, "protocol", "TCP")
    if not spec.get("policyTypes"):
        types = ["Ingress"]
        if spec.get("egress"):
            types.append("Egress")
        spec["policyTypes"] = types


def endpoint_slice(obj: JSON, minor: str) -> None:
    for port in items(obj, "ports"):
        setdefault(port, "name", "")
        setdefault(port, "protocol", "TCP")


def priority_class(obj: JSON, minor: str) -> None:
    setdefault_if_empty(obj, "preemptionPolicy", "PreemptLowerPriority")


def storage_class(obj: JSON, minor: str) -> None:
    setdefault_if_empty(obj, "reclaimPolicy", "Delete")
    setdefault_if_empty(obj, "volumeBindingMode", "Immediate")


def _subject(subject: JSON) -> None:
    if subject.get("apiGroup") not in (None, ""):
        return
    kind: Any = subject.get("kind")
    if kind in ("User", "Group"):
        subject["apiGroup"] = RBAC_GROUP
    elif kind == "ServiceAccount":
        subject["apiGroup"] = ""


def role_binding(obj: JSON, minor: str) -> None:
    role_ref = child(obj, "roleRef")
    if role_ref is not None:
        setdefault_if_empty(role_ref, "apiGroup", RBAC_GROUP)
    for subject in items(obj, "subjects"):
        _subject(subject)
