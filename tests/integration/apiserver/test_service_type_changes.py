"""Service type changes through the real API server (etcd-backed allocators): a PUT that changes
only `spec.type` (what `kubectl edit` sends) succeeds for every pair of types, drops the fields the
new type does not use, frees what they held and allocates what the new type needs, as upstream's
dropTypeDependentFields (pkg/registry/core/service/strategy.go) and allocateUpdate
(pkg/registry/core/service/storage/alloc.go) do."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

pytestmark = pytest.mark.integration

JSON = dict[str, Any]
TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
TRANSITIONS = [(a, b) for a in TYPES for b in TYPES if a != b]


def expect(response: tuple[int, Any, dict[str, str]], status: int) -> Any:
    code, body, _ = response
    assert code == status, f"expected {status}, got {code}: {str(body)[:600]}"
    return body


def service(name: str, service_type: str, node_port: int | None = None, cluster_ip: str | None = None) -> JSON:
    spec: JSON = {"type": service_type}
    if service_type == "ExternalName":
        spec["externalName"] = "db.example.com"
    else:
        port: JSON = {"port": 80, "targetPort": 8080}
        if node_port is not None:
            port["nodePort"] = node_port
        spec.update(selector={"app": name}, ports=[port])
    if cluster_ip is not None:
        spec["clusterIP"] = cluster_ip
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def edited(current: JSON, service_type: str) -> JSON:
    """The stored object with only the type changed (plus the externalName ExternalName requires)."""
    body = json.loads(json.dumps(current))
    body["spec"]["type"] = service_type
    if service_type == "ExternalName":
        body["spec"]["externalName"] = "db.example.com"
    elif not body["spec"].get("ports"):
        body["spec"]["ports"] = [{"port": 80, "targetPort": 8080}]
    return body


def node_port_of(obj: JSON) -> int | None:
    ports = obj["spec"].get("ports") or [{}]
    value: int | None = ports[0].get("nodePort")
    return value


@pytest.mark.parametrize(("before", "after"), TRANSITIONS, ids=[f"{a}-to-{b}" for a, b in TRANSITIONS])
def test_changing_only_the_type_works_for_every_pair(apiserver: Any, namespace: str, before: str,
                                                    after: str) -> None:
    collection = f"/api/v1/namespaces/{namespace}/services"
    name = f"t-{uuid.uuid4().hex[:6]}"
    created = expect(apiserver.request("POST", collection, service(name, before)), 201)
    old_ip, old_port = created["spec"].get("clusterIP"), node_port_of(created)

    updated = expect(apiserver.request("PUT", f"{collection}/{name}", edited(created, after)), 200)
    spec = updated["spec"]
    assert spec["type"] == after
    # The stored object is what the PUT answered.
    assert expect(apiserver.request("GET", f"{collection}/{name}"), 200)["spec"] == spec

    probe = f"{name}-p"
    if after == "ExternalName":
        # dropTypeDependentFields (needsClusterIP) wipes the unchanged cluster IP fields;
        # updateClusterIPs case B releases the address: another Service may take it.
        assert not {"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"} & set(spec)
        expect(apiserver.request("POST", collection, service(probe, "ClusterIP", cluster_ip=old_ip)), 201)
    elif before == "ExternalName":
        # updateClusterIPs case A allocates: the address is now held.
        assert spec["clusterIPs"] == [spec["clusterIP"]] and spec["ipFamilies"] == ["IPv4"]
        taken = expect(apiserver.request("POST", collection,
                                         service(probe, "ClusterIP", cluster_ip=spec["clusterIP"])), 422)
        assert "provided IP is already allocated" in taken["message"]
    else:
        assert spec["clusterIP"] == old_ip  # immutable between IP-carrying types

    if after in ("NodePort", "LoadBalancer"):
        port = node_port_of(updated)
        assert port is not None and (old_port is None or port == old_port)
        assert spec["externalTrafficPolicy"] == "Cluster"
        taken = expect(apiserver.request("POST", collection, service(f"{name}-q", "NodePort", node_port=port)), 422)
        assert "provided port is already allocated" in taken["message"]
    else:
        # needsNodePort / needsExternalTrafficPolicy: unchanged values are wiped and the port freed.
        assert all("nodePort" not in p for p in spec.get("ports") or ())
        assert "externalTrafficPolicy" not in spec
        if old_port is not None:
            expect(apiserver.request("POST", collection, service(f"{name}-q", "NodePort", node_port=old_port)), 201)
    if after != "LoadBalancer":
        assert "allocateLoadBalancerNodePorts" not in spec


def test_a_changed_node_port_on_cluster_ip_is_refused_and_nothing_is_freed(apiserver: Any, namespace: str) -> None:
    """ValidateService: "may not be used when `type` is 'ClusterIP'" for a nodePort the client set
    (sameNodePorts is false, so dropTypeDependentFields leaves it)."""
    collection = f"/api/v1/namespaces/{namespace}/services"
    created = expect(apiserver.request("POST", collection, service("held", "NodePort")), 201)
    port = node_port_of(created)
    assert port is not None
    body = edited(created, "ClusterIP")
    body["spec"]["ports"][0]["nodePort"] = port + 1 if port < 32767 else port - 1
    refused = expect(apiserver.request("PUT", f"{collection}/held", body), 422)
    assert "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'" in refused["message"]
    taken = expect(apiserver.request("POST", collection, service("probe", "NodePort", node_port=port)), 422)
    assert "provided port is already allocated" in taken["message"]


def test_kubectl_patch_of_the_type_and_a_dry_run(apiserver: Any, namespace: str) -> None:
    collection = f"/api/v1/namespaces/{namespace}/services"
    created = expect(apiserver.request("POST", collection, service("lb", "LoadBalancer")), 201)
    port = node_port_of(created)
    # A dry run shows the result but keeps the port.
    shown = expect(apiserver.request("PUT", f"{collection}/lb?dryRun=All", edited(created, "ClusterIP")), 200)
    assert "nodePort" not in shown["spec"]["ports"][0]
    expect(apiserver.request("POST", collection, service("probe", "NodePort", node_port=port)), 422)

    apiserver.kubectl("-n", namespace, "patch", "service", "lb", "--type=merge", "-p", '{"spec":{"type":"ClusterIP"}}')
    patched = expect(apiserver.request("GET", f"{collection}/lb"), 200)
    assert patched["spec"]["type"] == "ClusterIP" and "nodePort" not in patched["spec"]["ports"][0]
    assert not {"allocateLoadBalancerNodePorts", "externalTrafficPolicy"} & set(patched["spec"])
    expect(apiserver.request("POST", collection, service("probe", "NodePort", node_port=port)), 201)
