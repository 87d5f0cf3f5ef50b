"""The subsets of an Endpoints object (upstream ``syncService`` + ``RepackSubsets``): one
address per (pod, port), then addresses regrouped so each subset is one exact set of ports,
ready and not-ready addresses apart. Over ``MAX_CAPACITY`` addresses the list is truncated,
ready addresses kept first, and the object says so in an annotation."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from kubeplane.controllers.endpoints.podaddress import (
    find_port,
    pod_ip_of_family,
    pod_ips,
    should_pod_be_in_endpoints,
    should_set_hostname,
    target_ref,
)
from kubeplane.controllers.pods import is_pod_ready

JSON = dict[str, Any]

MAX_CAPACITY = 1000
OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
TRUNCATED = "truncated"

_PortKey = tuple[tuple[str, int, str, str], ...]


def endpoint_ip(pod: JSON, service: JSON) -> str | None:
    """The pod IP of the Service's primary family (any IP for a family-less headless Service)."""
    families = (service.get("spec") or {}).get("ipFamilies") or ()
    if families:
        return pod_ip_of_family(pod, families[0])
    ips = pod_ips(pod)
    return ips[0] if ips else None


def endpoint_address(pod: JSON, service: JSON, ip: str) -> JSON:
    address: JSON = {"ip": ip, "targetRef": target_ref(pod)}
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        address["nodeName"] = node
    if should_set_hostname(pod, service):
        address["hostname"] = pod["spec"]["hostname"]
    return address


def _endpoint_port(service_port: JSON, number: int) -> JSON:
    port: JSON = {"port": number, "protocol": service_port.get("protocol") or "TCP"}
    if service_port.get("name"):
        port["name"] = service_port["name"]
    if service_port.get("appProtocol"):
        port["appProtocol"] = service_port["appProtocol"]
    return port


def _port_key(port: JSON) -> tuple[str, int, str, str]:
    return (port.get("name", ""), port["port"], port["protocol"], port.get("appProtocol", ""))


def build_subsets(service: JSON, pods: Iterable[JSON]) -> list[JSON]:
    """``pods`` are the pods the Service selects; returns subsets grouped and sorted."""
    spec = service.get("spec") or {}
    tolerate_unready = bool(spec.get("publishNotReadyAddresses"))
    headless = spec.get("clusterIP") == "None"
    service_ports = spec.get("ports") or []
    # address identity (ip, pod uid) -> (address, ready, ports)
    found: dict[tuple[str, str], tuple[JSON, bool, set[tuple[str, int, str, str]], list[JSON]]] = {}
    for pod in pods:
        if not should_pod_be_in_endpoints(pod, include_terminating=False):
            continue
        ip = endpoint_ip(pod, service)
        if ip is None:
            continue
        address = endpoint_address(pod, service, ip)
        ready = tolerate_unready or is_pod_ready(pod)
        ports: list[JSON] = []
        for service_port in service_ports:
            number = find_port(pod, service_port)
            if number is not None:
                ports.append(_endpoint_port(service_port, number))
        if not ports and not (headless and not service_ports):
            continue  # no port of the Service resolves on this pod (a headless Service may have none)
        key = (ip, str(address["targetRef"].get("uid")))
        entry = found.setdefault(key, (address, ready, set(), []))
        for port in ports:
            if _port_key(port) not in entry[2]:
                entry[2].add(_port_key(port))
                entry[3].append(port)
    return _repack(found.values())


def _repack(entries: Iterable[tuple[JSON, bool, set[tuple[str, int, str, str]], list[JSON]]]) -> list[JSON]:
    groups: dict[_PortKey, tuple[list[JSON], list[JSON], list[JSON]]] = {}
    for address, ready, _, ports in entries:
        ordered = sorted(ports, key=_port_key)
        key = tuple(_port_key(p) for p in ordered)
        group = groups.setdefault(key, ([], [], ordered))
        (group[0] if ready else group[1]).append(address)
    subsets = []
    for key in sorted(groups):
        ready_addresses, not_ready_addresses, subset_ports = groups[key]
        subset: JSON = {}
        if ready_addresses:
            subset["addresses"] = sorted(ready_addresses, key=_address_order)
        if not_ready_addresses:
            subset["notReadyAddresses"] = sorted(not_ready_addresses, key=_address_order)
        if subset_ports:
            subset["ports"] = subset_ports
        subsets.append(subset)
    return subsets


def _address_order(address: JSON) -> tuple[str, str]:
    return (address["ip"], str((address.get("targetRef") or {}).get("uid", "")))


def count_addresses(subsets: list[JSON]) -> tuple[int, int]:
    ready = sum(len(s.get("addresses") or ()) for s in subsets)
    not_ready = sum(len(s.get("notReadyAddresses") or ()) for s in subsets)
    return ready, not_ready


def truncate(subsets: list[JSON], capacity: int = MAX_CAPACITY) -> tuple[list[JSON], bool]:
    """At most ``capacity`` addresses: ready ones first, each subset cut in proportion to its size
    (upstream ``truncateEndpoints``). Returns the subsets and whether anything was cut."""
    ready, not_ready = count_addresses(subsets)
    if ready + not_ready <= capacity:
        return subsets, False
    field, total, budget = ("addresses", ready, capacity) if ready > capacity \
        else ("notReadyAddresses", not_ready, capacity - ready)
    result = []
    for subset in subsets:
        copy = dict(subset)
        if ready > capacity:
            copy.pop("notReadyAddresses", None)
        addresses = subset.get(field) or []
        if addresses:
            keep = math.ceil(budget * len(addresses) / total) if total else 0
            copy[field] = addresses[:min(keep, len(addresses))]
            budget_used = len(copy[field])
            budget -= budget_used
            total -= len(addresses)
            if not copy[field]:
                copy.pop(field)
        result.append(copy)
    return [s for s in result if s.get("addresses") or s.get("notReadyAddresses")], True
