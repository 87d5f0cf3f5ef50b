"""Service-link environment variables, as upstream's kubelet gives every container.

For each Service with a cluster IP in the pod's namespace (when ``enableServiceLinks`` is not
false) and, always, the master service ``kubernetes`` of ``default``, a container gets
``<NAME>_SERVICE_HOST``, ``<NAME>_SERVICE_PORT[_<PORT NAME>]`` and Docker's link variables
(``<NAME>_PORT``, ``<NAME>_PORT_<port>_<PROTO>[_PROTO|_PORT|_ADDR]``). Container env overrides
them; env values may refer to them with ``$(VAR)``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

JSON = dict[str, Any]

MASTER_SERVICE_NAMESPACE = "default"
MASTER_SERVICE_NAME = "kubernetes"


def _variable_name(service_name: str) -> str:
    return service_name.replace("-", "_").upper()


def _host_port(ip: str, port: int) -> str:
    # As Go's net.JoinHostPort: IPv6 addresses in brackets.
    try:
        is_v6 = ipaddress.ip_address(ip).version == 6
    except ValueError:
        is_v6 = False
    return f"[{ip}]:{port}" if is_v6 else f"{ip}:{port}"


def _has_cluster_ip(service: JSON) -> bool:
    ip = str((service.get("spec") or {}).get("clusterIP") or "")
    return ip not in ("", "None")


def service_env(service: JSON) -> dict[str, str]:
    """The variables one Service contributes (empty for headless or port-less ones)."""
    spec = service.get("spec") or {}
    ports = list(spec.get("ports") or [])
    if not _has_cluster_ip(service) or not ports:
        return {}
    ip = str(spec["clusterIP"])
    prefix = _variable_name(str(service["metadata"]["name"]))
    env = {f"{prefix}_SERVICE_HOST": ip, f"{prefix}_SERVICE_PORT": str(ports[0]["port"])}
    for port in ports:
        if port.get("name"):
            env[f"{prefix}_SERVICE_PORT_{_variable_name(str(port['name']))}"] = str(port["port"])
    for index, port in enumerate(ports):
        protocol = str(port.get("protocol") or "TCP")
        url = f"{protocol.lower()}://{_host_port(ip, int(port['port']))}"
        if index == 0:
            env[f"{prefix}_PORT"] = url  # Docker special-cases the first port
        port_prefix = f"{prefix}_PORT_{port['port']}_{protocol.upper()}"
        env[port_prefix] = url
        env[f"{port_prefix}_PROTO"] = protocol.lower()
        env[f"{port_prefix}_PORT"] = str(port["port"])
        env[f"{port_prefix}_ADDR"] = ip
    return env


def pod_service_env(pod: JSON, services: Iterable[JSON]) -> dict[str, str]:
    """All service-link variables for ``pod`` from every Service the kubelet knows."""
    metadata = pod.get("metadata") or {}
    namespace = str(metadata.get("namespace") or "default")
    links = (pod.get("spec") or {}).get("enableServiceLinks", True) is not False
    chosen: dict[str, JSON] = {}
    for service in services:
        service_meta = service.get("metadata") or {}
        name, service_namespace = str(service_meta.get("name")), str(service_meta.get("namespace"))
        if not _has_cluster_ip(service):
            continue
        if service_namespace == MASTER_SERVICE_NAMESPACE and name == MASTER_SERVICE_NAME:
            chosen.setdefault(name, service)  # a service of that name in the pod's namespace wins
        elif service_namespace == namespace and links:
            chosen[name] = service
    env: dict[str, str] = {}
    for name in sorted(chosen):
        env.update(service_env(chosen[name]))
    return env
