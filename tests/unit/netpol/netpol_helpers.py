"""Small builders for pods, namespaces and NetworkPolicies as the API returns them."""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]


def namespace(name: str, **labels: str) -> JSON:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def pod(ns: str, name: str, ip: str | None, labels: dict[str, str] | None = None, node: str = "node-a",
        ports: list[JSON] | None = None, host_network: bool = False, phase: str = "Running") -> JSON:
    status: JSON = {"phase": phase}
    if ip is not None:
        status |= {"podIP": ip, "podIPs": [{"ip": ip}]}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"namespace": ns, "name": name, "labels": labels or {}},
            "spec": {"nodeName": node, "hostNetwork": host_network,
                     "containers": [{"name": "c", "image": "busybox", "ports": ports or []}]},
            "status": status}


def policy(ns: str, name: str, **spec: Any) -> JSON:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"namespace": ns, "name": name}, "spec": {"podSelector": {}, **spec}}
