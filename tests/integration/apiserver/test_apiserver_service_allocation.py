"""Service ClusterIP and NodePort allocation through the real API server: no double
allocation under concurrency, ports within the configured range, freed on delete, conflicts refused."""

from __future__ import annotations

import ipaddress
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

pytestmark = pytest.mark.integration

JSON = dict[str, Any]
SERVICE_RANGE = ipaddress.ip_network("198.19.0.0/16")  # the test server's default range
NODE_PORTS = range(30000, 32768)  # --service-node-port-range default, inclusive


def expect(response: tuple[int, Any, dict[str, str]], status: int) -> Any:
    code, body, _ = response
    assert code == status, f"expected {status}, got {code}: {str(body)[:600]}"
    return body


def node_port_service(name: str, node_port: int | None = None, cluster_ip: str | None = None) -> JSON:
    port: JSON = {"port": 80, "targetPort": 8080}
    if node_port is not None:
        port["nodePort"] = node_port
    spec: JSON = {"type": "NodePort", "selector": {"app": name}, "ports": [port]}
    if cluster_ip is not None:
        spec["clusterIP"] = cluster_ip
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def test_concurrent_creates_get_distinct_addresses_and_ports(apiserver: Any, namespace: str) -> None:
    collection = f"/api/v1/namespaces/{namespace}/services"

    def create(index: int) -> JSON:
        created: JSON = expect(apiserver.request("POST", collection, node_port_service(f"svc-{index}")), 201)
        return created

    with ThreadPoolExecutor(max_workers=16) as pool:
        services = list(pool.map(create, range(32)))
    ips = [s["spec"]["clusterIP"] for s in services]
    ports = [s["spec"]["ports"][0]["nodePort"] for s in services]
    assert len(set(ips)) == len(ips) and len(set(ports)) == len(ports)
    assert all(ipaddress.ip_address(ip) in SERVICE_RANGE for ip in ips)
    assert all(port in NODE_PORTS for port in ports)
    assert all(s["spec"]["clusterIPs"] == [s["spec"]["clusterIP"]] for s in services)
    # Nothing else in the cluster holds them either (the kubernetes Service has 198.19.0.1).
    listed = expect(apiserver.request("GET", "/api/v1/services"), 200)["items"]
    all_ips = [s["spec"]["clusterIP"] for s in listed if s["spec"].get("clusterIP") not in (None, "None")]
    assert len(all_ips) == len(set(all_ips))


def test_requested_values_in_use_are_refused_and_freed_on_delete(apiserver: Any, namespace: str) -> None:
    collection = f"/api/v1/namespaces/{namespace}/services"
    first = expect(apiserver.request("POST", collection, node_port_service("holder")), 201)
    ip, port = first["spec"]["clusterIP"], first["spec"]["ports"][0]["nodePort"]

    taken_port = expect(apiserver.request("POST", collection, node_port_service("dup-port", node_port=port)), 422)
    assert taken_port["reason"] == "Invalid"
    assert "provided port is already allocated" in taken_port["message"]
    assert "spec.ports[0].nodePort" in [c["field"] for c in taken_port["details"]["causes"]]
    taken_ip = expect(apiserver.request("POST", collection, node_port_service("dup-ip", cluster_ip=ip)), 422)
    assert taken_ip["reason"] == "Invalid"
    assert "provided IP is already allocated" in taken_ip["message"]
    # A refused create leaked nothing: the ports and addresses it was given back are not held.
    expect(apiserver.request("GET", f"{collection}/dup-port"), 404)

    expect(apiserver.request("DELETE", f"{collection}/holder"), 200)
    reuse = expect(apiserver.request("POST", collection,
                                     node_port_service("reuser", node_port=port, cluster_ip=ip)), 201)
    assert reuse["spec"]["clusterIP"] == ip and reuse["spec"]["ports"][0]["nodePort"] == port


def test_values_outside_the_ranges_are_invalid(apiserver: Any, namespace: str) -> None:
    collection = f"/api/v1/namespaces/{namespace}/services"
    low = expect(apiserver.request("POST", collection, node_port_service("low", node_port=80)), 422)
    assert "spec.ports[0].nodePort" in [c["field"] for c in low["details"]["causes"]]
    assert "provided port is not in the valid range. The range of valid ports is 30000-32767" in low["message"]
    outside = expect(apiserver.request("POST", collection, node_port_service("far", cluster_ip="10.0.0.10")), 422)
    assert "spec.clusterIPs" in " ".join(c["field"] for c in outside["details"]["causes"])
    assert "(10.0.0.10) is not in the valid range. The range of valid IPs is 198.19.0.0/16" in outside["message"]


def test_switching_to_cluster_ip_releases_the_node_port(apiserver: Any, namespace: str) -> None:
    """What `kubectl edit` sends when a user changes only `type`: upstream's dropTypeDependentFields
    (pkg/registry/core/service/strategy.go) wipes the unchanged nodePorts and externalTrafficPolicy
    that no longer apply, and the node port is released."""
    collection = f"/api/v1/namespaces/{namespace}/services"
    name = f"sw-{uuid.uuid4().hex[:6]}"
    created = expect(apiserver.request("POST", collection, node_port_service(name)), 201)
    port = created["spec"]["ports"][0]["nodePort"]
    assert created["spec"]["externalTrafficPolicy"] == "Cluster"
    changed = {**created, "spec": {**created["spec"], "type": "ClusterIP"}}
    updated = expect(apiserver.request("PUT", f"{collection}/{name}", changed), 200)
    assert "nodePort" not in updated["spec"]["ports"][0]
    assert "externalTrafficPolicy" not in updated["spec"]
    expect(apiserver.request("POST", collection, node_port_service(f"{name}-b", node_port=port)), 201)
