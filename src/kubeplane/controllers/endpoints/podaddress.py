"""Pod facts the Endpoints and EndpointSlice controllers share (upstream ``endpointslice/util``):
which pods belong in a Service's endpoints, the port a Service port names on a pod, the
hostname an address carries, and which Services select a pod."""

from __future__ import annotations

import ipaddress
from typing import Any

from kubeplane.controllers.pods import TERMINAL_PHASES
from kubeplane.machinery.labels import selector_from_set

JSON = dict[str, Any]

HEADLESS_LABEL = "service.kubernetes.io/headless"
LAST_CHANGE_TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"


def should_pod_be_in_endpoints(pod: JSON, include_terminating: bool) -> bool:
    """Finished pods and pods without an IP never are; terminating ones only where asked (slices)."""
    status = pod.get("status") or {}
    if status.get("phase") in TERMINAL_PHASES:
        return False
    if not status.get("podIP") and not status.get("podIPs"):
        return False
    return include_terminating or not (pod.get("metadata") or {}).get("deletionTimestamp")


def should_set_hostname(pod: JSON, service: JSON) -> bool:
    """A pod's hostname is published only under the Service its ``subdomain`` names."""
    spec = pod.get("spec") or {}
    return bool(spec.get("hostname")) and spec.get("subdomain") == service["metadata"]["name"] \
        and pod["metadata"].get("namespace") == service["metadata"].get("namespace")


def is_service_ip_set(service: JSON) -> bool:
    cluster_ip = (service.get("spec") or {}).get("clusterIP") or ""
    return cluster_ip not in ("", "None")


def service_selector_set(service: JSON) -> dict[str, str] | None:
    """The Service's selector; None (not an empty dict) means 'no selector: endpoints are manual'."""
    spec = service.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return None
    selector = spec.get("selector")
    return dict(selector) if selector is not None else None


def service_selects(service: JSON, pod: JSON) -> bool:
    selector = service_selector_set(service)
    if selector is None or pod["metadata"].get("namespace") != service["metadata"].get("namespace"):
        return False
    return selector_from_set(selector).matches((pod.get("metadata") or {}).get("labels") or {})


def find_port(pod: JSON, service_port: JSON) -> int | None:
    """The pod port a Service port targets: a number as is, a name looked up among the pod's
    container ports with the same protocol (None when no container names it)."""
    target = service_port.get("targetPort")
    if target is None or target == "":
        target = service_port.get("port")
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol") or "TCP"
    for container in (pod.get("spec") or {}).get("containers") or ():
        for port in container.get("ports") or ():
            if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
                return int(port["containerPort"])
    return None


def pod_ips(pod: JSON) -> list[str]:
    status = pod.get("status") or {}
    ips = [entry.get("ip") for entry in status.get("podIPs") or () if entry.get("ip")]
    return ips or ([status["podIP"]] if status.get("podIP") else [])


def ip_family(ip: str) -> str:
    try:
        return "IPv6" if ipaddress.ip_address(ip).version == 6 else "IPv4"
    except ValueError:
        return ""


def pod_ip_of_family(pod: JSON, family: str) -> str | None:
    for ip in pod_ips(pod):
        if ip_family(ip) == family:
            return ip
    return None


def service_families(service: JSON) -> list[str]:
    """The address families the Service serves; a headless Service without families gets both
    families' addresses, as upstream (its pods may be single-stack either way)."""
    families = list((service.get("spec") or {}).get("ipFamilies") or ())
    if families:
        return families
    cluster_ip = (service.get("spec") or {}).get("clusterIP") or ""
    return [ip_family(cluster_ip)] if ip_family(cluster_ip) else ["IPv4", "IPv6"]


def target_ref(pod: JSON) -> JSON:
    meta = pod["metadata"]
    return {"kind": "Pod", "namespace": meta.get("namespace"), "name": meta["name"], "uid": meta.get("uid")}
