"""Service validation."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubeplane.machinery import defaults, validation


def _svc(**spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"selector": {"app": "x"}, "ports": [{"port": 80}]}
    body.update(spec)
    obj = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"}, "spec": body}
    defaults.apply("", "v1", "Service", obj)
    return obj


def _causes(obj: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c.field, c.message) for c in validation.validate_create("", "v1", "Service", obj)]


def test_valid_services() -> None:
    assert _causes(_svc()) == []
    assert _causes(_svc(type="NodePort")) == []
    assert _causes(_svc(clusterIP="None", ports=[])) == []
    assert _causes(_svc(type="ExternalName", externalName="db.example.com.", ports=[])) == []


@pytest.mark.parametrize(("spec", "expected"), [
    ({"ports": []}, ("spec.ports", "Required value")),
    ({"type": "Magic"}, ("spec.type", 'Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", '
                                      '"LoadBalancer", "NodePort"')),
    ({"ports": [{"port": 0}]}, ("spec.ports[0].port", "Invalid value: 0: must be between 1 and 65535, inclusive")),
    ({"ports": [{"port": 80, "name": "a"}, {"port": 81}]}, ("spec.ports[1].name", "Required value")),
    ({"ports": [{"port": 80, "name": "a"}, {"port": 81, "name": "a"}]},
     ("spec.ports[1].name", 'Duplicate value: "a"')),
    ({"ports": [{"port": 80, "protocol": "ICMP"}]},
     ("spec.ports[0].protocol", 'Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"')),
    ({"ports": [{"port": 80, "targetPort": "not--valid"}]},
     ("spec.ports[0].targetPort", 'Invalid value: "not--valid": must not contain consecutive hyphens')),
    ({"ports": [{"port": 80, "nodePort": 30000}]},
     ("spec.ports[0].nodePort", "Forbidden: may not be used when `type` is 'ClusterIP'")),
    ({"type": "ExternalName", "ports": []}, ("spec.externalName", "Required value")),
    ({"sessionAffinity": "Sticky"},
     ("spec.sessionAffinity", 'Unsupported value: "Sticky": supported values: "ClientIP", "None"')),
    ({"clusterIP": "10.0.0.300"},
     ("spec.clusterIPs[0]", 'Invalid value: "10.0.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)')),
])
def test_service_rules(spec: dict[str, Any], expected: tuple[str, str]) -> None:
    assert expected in _causes(_svc(**spec))


def test_cluster_ip_is_immutable() -> None:
    old = _svc(clusterIP="198.19.0.10")
    new = copy.deepcopy(old)
    new["spec"]["clusterIP"] = "198.19.0.11"
    causes = [(c.field, c.message) for c in validation.validate_update("", "v1", "Service", new, old)]
    assert causes == [("spec.clusterIP", 'Invalid value: "198.19.0.11": field is immutable')]
    new["spec"]["clusterIP"] = "198.19.0.10"
    new["spec"]["ports"][0]["port"] = 8080
    assert validation.validate_update("", "v1", "Service", new, old) == []
