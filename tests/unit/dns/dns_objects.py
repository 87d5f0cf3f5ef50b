"""Services, EndpointSlices, Namespaces and Pods as the API serves them, for the DNS unit tests."""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]


def service(name: str, namespace: str = "default", cluster_ip: str = "198.19.0.10",
            ports: list[JSON] | None = None, **spec: Any) -> JSON:
    body: JSON = {"clusterIP": cluster_ip, "ports": ports or [], **spec}
    if cluster_ip != "None" and "clusterIPs" not in spec:
        body["clusterIPs"] = [cluster_ip] if cluster_ip else []
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
            "spec": body}


def external_name(name: str, target: str, namespace: str = "default") -> JSON:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
            "spec": {"type": "ExternalName", "externalName": target}}


def port(name: str | None, number: int, protocol: str = "TCP") -> JSON:
    out: JSON = {"port": number, "protocol": protocol}
    if name is not None:
        out["name"] = name
    return out


def endpoint(address: str, hostname: str | None = None, ready: bool | None = True) -> JSON:
    out: JSON = {"addresses": [address]}
    if ready is not None:
        out["conditions"] = {"ready": ready}
    if hostname:
        out["hostname"] = hostname
    return out


def endpoint_slice(name: str, service_name: str, endpoints: list[JSON], ports: list[JSON] | None = None,
                   namespace: str = "default", address_type: str = "IPv4") -> JSON:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "namespace": namespace,
                         "labels": {"kubernetes.io/service-name": service_name}},
            "addressType": address_type, "endpoints": endpoints, "ports": ports or []}


def namespace(name: str) -> JSON:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def pod(name: str, ip: str, namespace: str = "default") -> JSON:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
            "status": {"podIP": ip, "podIPs": [{"ip": ip}]}}
