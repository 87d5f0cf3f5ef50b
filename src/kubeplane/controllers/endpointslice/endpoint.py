"""One pod as an EndpointSlice endpoint, its ports, and the labels every managed slice carries
(upstream ``endpointslice/utils.go``)."""

from __future__ import annotations

from typing import Any

from kubeplane.controllers.endpoints.podaddress import (
    HEADLESS_LABEL,
    find_port,
    is_service_ip_set,
    should_set_hostname,
    target_ref,
)
from kubeplane.controllers.ownership import labels_of
from kubeplane.controllers.pods import is_pod_ready

JSON = dict[str, Any]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
ZONE_LABEL = "topology.kubernetes.io/zone"
RESERVED_LABELS = frozenset({SERVICE_NAME_LABEL, MANAGED_BY_LABEL, HEADLESS_LABEL})

PortsKey = tuple[tuple[str, int, str, str], ...]


def pod_to_endpoint(pod: JSON, node: JSON | None, service: JSON, ip: str) -> JSON:
    """Terminating pods stay listed (``terminating: true``) so proxies can drain them; ``ready``
    is never true for them unless the Service publishes not-ready addresses."""
    publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    serving = is_pod_ready(pod)
    terminating = bool(pod["metadata"].get("deletionTimestamp"))
    endpoint: JSON = {"addresses": [ip],
                      "conditions": {"ready": publish or (serving and not terminating), "serving": serving,
                                     "terminating": terminating},
                      "targetRef": target_ref(pod)}
    node_name = (pod.get("spec") or {}).get("nodeName")
    if node_name:
        endpoint["nodeName"] = node_name
    zone = labels_of(node).get(ZONE_LABEL) if node is not None else None
    if zone:
        endpoint["zone"] = zone
    if should_set_hostname(pod, service):
        endpoint["hostname"] = pod["spec"]["hostname"]
    return endpoint


def endpoint_ports(service: JSON, pod: JSON) -> list[JSON]:
    """The Service's ports as this pod serves them; a named port the pod lacks is left out."""
    ports = []
    for service_port in (service.get("spec") or {}).get("ports") or ():
        number = find_port(pod, service_port)
        if number is None:
            continue
        port: JSON = {"name": service_port.get("name") or "", "port": number,
                      "protocol": service_port.get("protocol") or "TCP"}
        if service_port.get("appProtocol"):
            port["appProtocol"] = service_port["appProtocol"]
        ports.append(port)
    return ports


def ports_key(ports: list[JSON] | None) -> PortsKey:
    return tuple(sorted((p.get("name") or "", int(p.get("port") or 0), p.get("protocol") or "TCP",
                         p.get("appProtocol") or "") for p in ports or ()))


def endpoint_key(endpoint: JSON) -> tuple[tuple[str, ...], str]:
    """What makes two entries the same endpoint (its conditions and topology may change)."""
    return tuple(endpoint.get("addresses") or ()), str((endpoint.get("targetRef") or {}).get("uid", ""))


def slice_labels(service: JSON) -> dict[str, str]:
    labels = {k: v for k, v in labels_of(service).items() if k not in RESERVED_LABELS}
    if not is_service_ip_set(service):
        labels[HEADLESS_LABEL] = ""
    labels[SERVICE_NAME_LABEL] = service["metadata"]["name"]
    labels[MANAGED_BY_LABEL] = CONTROLLER_NAME
    return labels
