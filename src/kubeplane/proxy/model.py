"""What the proxier needs from Services and EndpointSlices, as small immutable values.

A Service becomes one ``ServicePort`` per spec port; the EndpointSlices of a Service become one
list of ``Endpoint`` per service port. Only IPv4 is handled (the VPC and the Service range are
IPv4). Chain names follow upstream's iptables proxier so rules read the same as on a real node:
``KUBE-SVC-`` + the first 16 characters of base32(sha256(service port name + protocol)).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import ipaddress
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
# Services with this label belong to another proxy implementation (upstream skips them too).
SERVICE_PROXY_NAME_LABEL = "service.kubernetes.io/service-proxy-name"
HEADLESS_LABEL = "service.kubernetes.io/headless"
TOPOLOGY_MODE_ANNOTATION = "service.kubernetes.io/topology-mode"
TOPOLOGY_HINTS_ANNOTATION = "service.kubernetes.io/topology-aware-hints"  # deprecated spelling
ZONE_LABEL = "topology.kubernetes.io/zone"
DEFAULT_AFFINITY_SECONDS = 10800


@functools.lru_cache(maxsize=1 << 17)
def _hash16(text: str) -> str:
    # base32 turns each 5 bytes into 8 characters independently, so the first 10 bytes give the
    # same 16 characters as encoding the whole digest, at a third of the (pure Python) cost.
    # Cached: a full sync of 10,000 Services asks for ~100,000 names, nearly all seen last sync;
    # 2^17 entries (~20 MiB) cover a node with that many Services and endpoints.
    return base64.b32encode(hashlib.sha256(text.encode()).digest()[:10]).decode()


@dataclass(frozen=True, order=True)
class ServicePortName:
    """``namespace/name:port`` (``namespace/name`` for an unnamed port), plus the protocol so a
    TCP and a UDP port of the same name stay apart (the protocol is not part of the string)."""

    namespace: str
    name: str
    port: str
    protocol: str  # lower case: tcp, udp, sctp

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}:{self.port}" if self.port else f"{self.namespace}/{self.name}"

    @property
    def service(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    @property
    def hash(self) -> str:
        return _hash16(str(self) + self.protocol)


@dataclass(frozen=True)
class ServicePort:
    """One port of one Service, with everything rules depend on."""

    name: ServicePortName
    cluster_ip: str
    port: int
    node_port: int = 0
    external_ips: tuple[str, ...] = ()
    load_balancer_ips: tuple[str, ...] = ()
    load_balancer_source_ranges: tuple[str, ...] = ()
    affinity_seconds: int = 0  # 0: no session affinity
    external_policy_local: bool = False
    internal_policy_local: bool = False
    topology_aware: bool = False  # the Service asked for topology hints to be honoured

    @property
    def protocol(self) -> str:
        return self.name.protocol

    @property
    def externally_accessible(self) -> bool:
        return bool(self.node_port or self.external_ips or self.load_balancer_ips)

    @property
    def uses_cluster_endpoints(self) -> bool:
        return not self.internal_policy_local or (self.externally_accessible and not self.external_policy_local)

    @property
    def uses_local_endpoints(self) -> bool:
        return self.internal_policy_local or (self.externally_accessible and self.external_policy_local)

    # Chain names (upstream's prefixes, one hash per service port).
    @property
    def cluster_chain(self) -> str:
        return "KUBE-SVC-" + self.name.hash

    @property
    def local_chain(self) -> str:
        return "KUBE-SVL-" + self.name.hash

    @property
    def external_chain(self) -> str:
        return "KUBE-EXT-" + self.name.hash

    @property
    def firewall_chain(self) -> str:
        return "KUBE-FW-" + self.name.hash


@dataclass(frozen=True)
class Endpoint:
    ip: str
    port: int
    ready: bool = True
    serving: bool = True
    terminating: bool = False
    node_name: str = ""
    zone_hints: frozenset[str] = field(default_factory=frozenset)

    def __str__(self) -> str:
        return f"{self.ip}:{self.port}"

    def chain(self, service_port: ServicePortName) -> str:
        return "KUBE-SEP-" + _hash16(str(service_port) + service_port.protocol + str(self))

    def sort_key(self) -> tuple[int, int]:
        return (int(ipaddress.IPv4Address(self.ip)), self.port)


def _is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def service_is_proxied(service: JSON) -> bool:
    """Headless and ExternalName Services get no rules; nor do those another proxy owns."""
    spec = service.get("spec") or {}
    labels = (service.get("metadata") or {}).get("labels") or {}
    if SERVICE_PROXY_NAME_LABEL in labels or spec.get("type") == "ExternalName":
        return False
    cluster_ip = spec.get("clusterIP") or ""
    return cluster_ip not in ("", "None") and _is_ipv4(cluster_ip)


def service_ports(service: JSON) -> tuple[ServicePort, ...]:
    """The ServicePorts of one Service object (empty for Services the proxy skips)."""
    if not service_is_proxied(service):
        return ()
    meta = service.get("metadata") or {}
    spec = service.get("spec") or {}
    annotations = meta.get("annotations") or {}
    namespace, name = meta.get("namespace", ""), meta.get("name", "")
    affinity = 0
    if spec.get("sessionAffinity") == "ClientIP":
        config = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {})
        affinity = int(config.get("timeoutSeconds") or DEFAULT_AFFINITY_SECONDS)
    # externalTrafficPolicy only means something where traffic can come from outside.
    external_local = (spec.get("type") in ("NodePort", "LoadBalancer")
                      and spec.get("externalTrafficPolicy") == "Local")
    hints = annotations.get(TOPOLOGY_MODE_ANNOTATION) or annotations.get(TOPOLOGY_HINTS_ANNOTATION) or ""
    topology_aware = hints in ("Auto", "auto") or bool(spec.get("trafficDistribution"))
    load_balancer_ips = tuple(
        ingress["ip"] for ingress in ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        if _is_ipv4(ingress.get("ip") or ""))
    ports = []
    for port in spec.get("ports") or []:
        protocol = str(port.get("protocol") or "TCP").lower()
        ports.append(ServicePort(
            name=ServicePortName(namespace, name, port.get("name") or "", protocol),
            cluster_ip=spec["clusterIP"],
            port=int(port["port"]),
            node_port=int(port.get("nodePort") or 0) if spec.get("type") in ("NodePort", "LoadBalancer") else 0,
            external_ips=tuple(ip for ip in spec.get("externalIPs") or [] if _is_ipv4(ip)),
            load_balancer_ips=load_balancer_ips if spec.get("type") == "LoadBalancer" else (),
            load_balancer_source_ranges=tuple(spec.get("loadBalancerSourceRanges") or ()),
            affinity_seconds=affinity,
            external_policy_local=external_local,
            internal_policy_local=spec.get("internalTrafficPolicy") == "Local",
            topology_aware=topology_aware,
        ))
    return tuple(ports)


@dataclass(frozen=True)
class SliceInfo:
    """The part of one EndpointSlice the proxier reads: its Service and endpoints by service port."""

    service: tuple[str, str]
    endpoints: tuple[tuple[ServicePortName, tuple[Endpoint, ...]], ...]


def slice_info(endpoint_slice: JSON) -> SliceInfo | None:
    """None for slices the proxier ignores: not IPv4, no owning Service label, or headless."""
    meta = endpoint_slice.get("metadata") or {}
    labels = meta.get("labels") or {}
    service_name = labels.get(SERVICE_NAME_LABEL)
    if not service_name or HEADLESS_LABEL in labels or endpoint_slice.get("addressType") != "IPv4":
        return None
    namespace = meta.get("namespace", "")
    by_port = []
    for port in endpoint_slice.get("ports") or []:
        if port.get("port") is None:
            continue
        port_name = ServicePortName(namespace, service_name, port.get("name") or "",
                                    str(port.get("protocol") or "TCP").lower())
        endpoints = []
        for endpoint in endpoint_slice.get("endpoints") or []:
            addresses = endpoint.get("addresses") or []
            if not addresses or not _is_ipv4(addresses[0]):
                continue
            conditions = endpoint.get("conditions") or {}
            # Unset conditions mean: ready unless said otherwise, serving as ready, not terminating.
            ready = conditions.get("ready") is not False
            serving = conditions.get("serving") if conditions.get("serving") is not None else ready
            zones = ((endpoint.get("hints") or {}).get("forZones") or [])
            endpoints.append(Endpoint(
                ip=addresses[0], port=int(port["port"]), ready=ready, serving=bool(serving),
                terminating=conditions.get("terminating") is True, node_name=endpoint.get("nodeName") or "",
                zone_hints=frozenset(zone.get("name", "") for zone in zones)))
        by_port.append((port_name, tuple(endpoints)))
    return SliceInfo((namespace, service_name), tuple(by_port))


def merge_slices(slices: list[SliceInfo]) -> dict[ServicePortName, tuple[Endpoint, ...]]:
    """All endpoints of one Service by service port, from all its slices: an address listed in
    two slices (during a controller's reshuffle) counts once, ready winning; sorted by address so
    the rules do not change when only the slices' order does."""
    merged: dict[ServicePortName, dict[str, Endpoint]] = {}
    for info in slices:
        for port_name, endpoints in info.endpoints:
            seen = merged.setdefault(port_name, {})
            for endpoint in endpoints:
                previous = seen.get(str(endpoint))
                if previous is None or (endpoint.ready and not previous.ready):
                    seen[str(endpoint)] = endpoint
    return {name: tuple(sorted(eps.values(), key=Endpoint.sort_key)) for name, eps in merged.items()}
