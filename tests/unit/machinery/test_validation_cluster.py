"""Lease, PriorityClass, RBAC, EndpointSlice, Ingress, HPA and PDB validation."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubeplane.machinery import defaults, validation

RBAC = "rbac.authorization.k8s.io"


def _obj(group: str, version: str, kind: str, namespaced: bool = True, **fields: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "o"}
    if namespaced:
        meta["namespace"] = "default"
    obj = {"metadata": meta, **fields}
    defaults.apply(group, version, kind, obj)
    return obj


def _causes(group: str, version: str, kind: str, obj: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c.field, c.message) for c in validation.validate_create(group, version, kind, obj)]


def test_lease() -> None:
    lease = _obj("coordination.k8s.io", "v1", "Lease", spec={"leaseDurationSeconds": 0, "leaseTransitions": -1})
    assert _causes("coordination.k8s.io", "v1", "Lease", lease) == [
        ("spec.leaseDurationSeconds", "Invalid value: 0: must be greater than 0"),
        ("spec.leaseTransitions", "Invalid value: -1: must be greater than or equal to 0")]


def test_priority_class() -> None:
    group = "scheduling.k8s.io"
    assert _causes(group, "v1", "PriorityClass", _obj(group, "v1", "PriorityClass", False, value=1000)) == []
    too_high = _obj(group, "v1", "PriorityClass", False, value=2_000_000_000)
    assert _causes(group, "v1", "PriorityClass", too_high) == [
        ("value", "Forbidden: maximum allowed value of a user defined priority is 1000000000")]
    reserved = _obj(group, "v1", "PriorityClass", False, value=1)
    reserved["metadata"]["name"] = "system-mine"
    assert _causes(group, "v1", "PriorityClass", reserved) == [
        ("metadata.name", "Forbidden: priority class names with 'system-' prefix are reserved for system use only")]
    old = _obj(group, "v1", "PriorityClass", False, value=1)
    new = copy.deepcopy(old)
    new["value"] = 2
    assert [(c.field, c.message) for c in validation.validate_update(group, "v1", "PriorityClass", new, old)] == [
        ("value", "Forbidden: may not be changed in an update.")]


@pytest.mark.parametrize(("rule", "expected"), [
    ({"apiGroups": [""], "resources": ["pods"]}, ("rules[0].verbs", "Required value: verbs must contain at least one value")),
    ({"verbs": ["get"], "resources": ["pods"]},
     ("rules[0].apiGroups", "Required value: resource rules must supply at least one api group")),
    ({"verbs": ["get"], "apiGroups": [""]},
     ("rules[0].resources", "Required value: resource rules must supply at least one resource")),
    ({"verbs": ["get"], "nonResourceURLs": ["/healthz"]},
     ("rules[0].nonResourceURLs", 'Invalid value: ["/healthz"]: namespaced rules cannot apply to non-resource URLs')),
])
def test_role_rules(rule: dict[str, Any], expected: tuple[str, str]) -> None:
    assert expected in _causes(RBAC, "v1", "Role", _obj(RBAC, "v1", "Role", rules=[rule]))


def test_cluster_role_allows_non_resource_urls() -> None:
    role = _obj(RBAC, "v1", "ClusterRole", False, rules=[{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}])
    assert _causes(RBAC, "v1", "ClusterRole", role) == []


def test_role_binding() -> None:
    binding = _obj(RBAC, "v1", "RoleBinding", roleRef={"kind": "Role", "name": "r"},
                   subjects=[{"kind": "User", "name": "alice"}])
    assert _causes(RBAC, "v1", "RoleBinding", binding) == []
    binding["roleRef"]["kind"] = "Group"
    assert _causes(RBAC, "v1", "RoleBinding", binding) == [
        ("roleRef.kind", 'Unsupported value: "Group": supported values: "ClusterRole", "Role"')]
    old = _obj(RBAC, "v1", "RoleBinding", roleRef={"kind": "Role", "name": "r"})
    new = copy.deepcopy(old)
    new["roleRef"]["name"] = "other"
    assert [(c.field, c.message.split(": ")[-1]) for c in validation.validate_update(
        RBAC, "v1", "RoleBinding", new, old)] == [("roleRef", "cannot change roleRef")]


def test_cluster_role_binding_service_account_needs_namespace() -> None:
    binding = _obj(RBAC, "v1", "ClusterRoleBinding", False, roleRef={"kind": "ClusterRole", "name": "r"},
                   subjects=[{"kind": "ServiceAccount", "name": "sa"}])
    assert _causes(RBAC, "v1", "ClusterRoleBinding", binding) == [("subjects[0].namespace", "Required value")]


def test_endpoint_slice() -> None:
    group = "discovery.k8s.io"
    eps = _obj(group, "v1", "EndpointSlice", addressType="IPv5", endpoints=[{"addresses": []}])
    assert _causes(group, "v1", "EndpointSlice", eps) == [
        ("addressType", 'Unsupported value: "IPv5": supported values: "IPv4", "IPv6", "FQDN"'),
        ("endpoints[0].addresses", "Required value: must contain at least 1 address")]
    old = _obj(group, "v1", "EndpointSlice", addressType="IPv4")
    new = copy.deepcopy(old)
    new["addressType"] = "IPv6"
    assert [(c.field, c.message) for c in validation.validate_update(group, "v1", "EndpointSlice", new, old)] == [
        ("addressType", 'Invalid value: "IPv6": field is immutable')]


def _ingress_path(**fields: Any) -> dict[str, Any]:
    path: dict[str, Any] = {"path": "/", "pathType": "Prefix",
                            "backend": {"service": {"name": "web", "port": {"number": 80}}}}
    path.update(fields)
    return {"spec": {"rules": [{"host": "a.example.com", "http": {"paths": [path]}}]}}


def test_ingress() -> None:
    group = "networking.k8s.io"
    assert _causes(group, "v1", "Ingress", _obj(group, "v1", "Ingress", **_ingress_path())) == []
    prefix = "spec.rules[0].http.paths[0]"
    assert _causes(group, "v1", "Ingress", _obj(group, "v1", "Ingress", **_ingress_path(pathType=None))) == [
        (f"{prefix}.pathType", "Required value: pathType must be specified")]
    assert _causes(group, "v1", "Ingress", _obj(group, "v1", "Ingress", **_ingress_path(path="api"))) == [
        (f"{prefix}.path", 'Invalid value: "api": must be an absolute path')]
    no_port = _ingress_path(backend={"service": {"name": "web", "port": {}}})
    assert _causes(group, "v1", "Ingress", _obj(group, "v1", "Ingress", **no_port)) == [
        (f"{prefix}.backend.service.port", "Required value: port name or number is required")]


def test_horizontal_pod_autoscaler() -> None:
    hpa = _obj("autoscaling", "v2", "HorizontalPodAutoscaler",
               spec={"scaleTargetRef": {"kind": "Deployment", "name": "d"}, "minReplicas": 5, "maxReplicas": 2})
    assert _causes("autoscaling", "v2", "HorizontalPodAutoscaler", hpa) == [
        ("spec.maxReplicas", "Invalid value: 2: must be greater than or equal to `minReplicas`")]


def test_pod_disruption_budget() -> None:
    pdb = _obj("policy", "v1", "PodDisruptionBudget", spec={"minAvailable": 1, "maxUnavailable": "10%"})
    assert [f for f, _ in _causes("policy", "v1", "PodDisruptionBudget", pdb)] == ["spec"]
    assert "minAvailable and maxUnavailable cannot be both set" in _causes(
        "policy", "v1", "PodDisruptionBudget", pdb)[0][1]
    ok = _obj("policy", "v1", "PodDisruptionBudget", spec={"maxUnavailable": "10%",
                                                          "selector": {"matchLabels": {"app": "x"}}})
    assert _causes("policy", "v1", "PodDisruptionBudget", ok) == []
